//! The engine: one data directory's store and projections, the single write path through them,
//! and the read path that turns a request into ranked, explained hits.
//!
//! Architecture invariant: no HTTP types here. Writes go store first (durable), then every
//! projection catches up from the store's change log; a projection never holds a write the
//! store does not.

pub mod backup;
mod catalogue;
pub mod consistency;
pub mod data_dir;
mod dense;
mod duplicates;
pub mod editing;
mod engine;
pub mod entity_editing;
pub mod feedback;
mod follow;
pub mod fusion;
pub mod fuzz;
pub mod import;
pub mod improvement;
pub mod knowledge_stats;
pub mod limits;
pub mod portraits;
pub mod rag;
mod request;
pub mod service_history;
pub mod ticket;

pub use backup::{BackupFile, BackupManifest, RestoreReport, backup_offline, restore, verify_backup};
pub use catalogue::{EntitySummary, ItemSummary, OrgTree, OrgUnit};
pub use consistency::{ProjectionCheck, ProjectionDiff};
pub use data_dir::DataDirLock;
pub use dense::DenseStatus;
pub use duplicates::{
    CandidateScore, Conflict, DraftText, DuplicateCandidate, DuplicatePair, ItemCheck, NORMATIVE_KINDS, PairSide,
    Reason,
};
pub use editing::{EditContext, EditError, EditOutcome, EditRole, ItemInput, ItemListFilter, ItemView, Transition};
pub use engine::{Engine, EngineOptions, GraphLoad, IngestReport, ModelChoice, Progress, Stats, StoreChoice};
pub use entity_editing::{EntityInput, EntityOutcome, EntityView};
pub use follow::{MIRRORED_FILES, StoreStatus, spawn_follower, take_shared_files};
pub use fusion::{Fusion, Retriever};
pub use graph::Stop;
pub use import::{ImportRefusal, ImportReport};
pub use knowledge_stats::KnowledgeStats;
pub use lexical::FilterField;
pub use limits::Limits;
pub use request::{Explanation, Hit, LinkedEntity, SearchRequest, SearchResponse};
pub use ticket::{TicketMatch, TicketRequest};

/// Why a search or write failed: the caller's mistake, or ours / the environment's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request breaks a rule; the message says which and how to fix it.
    #[error("{message}")]
    InvalidRequest { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Lexical(#[from] lexical::Error),
    #[error(transparent)]
    Embed(#[from] embed::Error),
    #[error(transparent)]
    Vectors(#[from] vectors::Error),
    #[error(transparent)]
    Graph(#[from] graph::GraphError),
    #[error("data directory {path}: {message}")]
    DataDir { path: String, message: String },
    /// The caller gave up on the answer ([`Stop::abandon`]); the work stopped at its next stage.
    #[error("the request was abandoned by its caller")]
    Abandoned,
}

impl Error {
    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidRequest { code, message: message.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
