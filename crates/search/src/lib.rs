//! The engine: one data directory's store and projections, the single write path through them,
//! and the read path that turns a request into ranked, explained hits.
//!
//! Architecture invariant: no HTTP types here. Writes go store first (durable), then every
//! projection catches up from the store's change log; a projection never holds a write the
//! store does not.

mod background;
pub mod backup;
mod catalogue;
pub mod category_model;
pub mod consistency;
pub mod data_dir;
mod dense;
pub mod dispatch;
mod duplicates;
pub mod editing;
mod engine;
pub mod entity_editing;
pub mod feedback;
mod follow;
pub mod fusion;
pub mod fuzz;
pub mod guidance;
mod guidance_table;
pub mod import;
pub mod improvement;
pub mod knowledge_stats;
pub mod limits;
pub mod metrics;
pub mod portraits;
mod query;
pub mod rag;
mod request;
pub mod service_history;
mod spelling;
pub mod ticket;
pub mod tuning;

pub use background::{Background, VECTOR_CATCH_UP_INTERVAL};
pub use backup::{BackupFile, BackupManifest, RestoreReport, backup_offline, restore, verify_backup};
pub use catalogue::{EntitySummary, ItemSummary, OrgTree, OrgUnit};
pub use consistency::{ProjectionCheck, ProjectionDiff};
pub use data_dir::{DataDirLock, DataLayout};
pub use dense::DenseStatus;
pub use dispatch::Dispatch;
pub use duplicates::{
    CandidateScore, Conflict, DraftText, DuplicateCandidate, DuplicatePair, ItemCheck, NORMATIVE_KINDS, PairSide,
    Reason,
};
pub use editing::{EditContext, EditError, EditOutcome, EditRole, ItemInput, ItemListFilter, ItemView, Transition};
pub use engine::{
    Engine, EngineOptions, GraphLoad, IngestReport, KeepHistory, ModelChoice, Progress, Stats, StoreChoice,
};
pub use entity_editing::{EntityInput, EntityOutcome, EntityView};
pub use follow::{MIRRORED_FILES, StoreStatus, take_shared_files};
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
// Not `#[non_exhaustive]`: the server maps every variant to its code by an exhaustive match
// (`server::error`), so a new variant does not compile until it is mapped.
pub enum Error {
    /// The request breaks a rule; the message says which and how to fix it.
    #[error("{message}")]
    InvalidRequest { code: Invalid, message: String },
    /// A rule of ours broke (a bug); the message is for the log.
    #[error("internal error: {0}")]
    Internal(String),
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

/// What is wrong with a request: one code each, which the API maps without a catch-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    EmptyQuery,
    QueryTooLong,
    Limit,
    Offset,
    Filter,
    /// Another parameter (the message names it).
    Parameter,
    /// A Dify metadata condition.
    Condition,
    /// A Dify retrieval setting (`top_k`, `score_threshold`).
    RetrievalSetting,
    /// A RAG answer's token budget.
    Budget,
    /// A Dify `knowledge_id` that names no knowledge.
    UnknownKnowledge,
    /// An editor's draft past what the duplicate check reads.
    DraftTooLong,
}

impl Invalid {
    /// The code as the API writes it.
    pub fn code(self) -> &'static str {
        match self {
            Invalid::EmptyQuery => "empty_query",
            Invalid::QueryTooLong => "query_too_long",
            Invalid::Limit => "invalid_limit",
            Invalid::Offset => "invalid_offset",
            Invalid::Filter => "invalid_filter",
            Invalid::Parameter => "invalid_parameter",
            Invalid::Condition => "invalid_condition",
            Invalid::RetrievalSetting => "invalid_retrieval_setting",
            Invalid::Budget => "invalid_budget",
            Invalid::UnknownKnowledge => "unknown_knowledge",
            Invalid::DraftTooLong => "draft_too_long",
        }
    }
}

impl Error {
    pub(crate) fn invalid(code: Invalid, message: impl Into<String>) -> Self {
        Error::InvalidRequest { code, message: message.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
