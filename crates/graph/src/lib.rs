//! The knowledge graph of gridkb: an in-memory RDF projection of the record store, and what is
//! built on it — the thesaurus (jieba user words, synonyms, entity linking), graph expansion for
//! retrieval, typed domain queries (devices, warranties, stale items) and read-only SPARQL.
//!
//! # Architecture invariant
//!
//! This is **the only crate that imports oxigraph**, built without its HTTP client: no SPARQL
//! `SERVICE` or `LOAD` can reach the network. The graph is a **projection**: records are the
//! truth, [`Graph::load_from`] rebuilds it from the store and [`Graph::update`] keeps it current,
//! remembering the store sequence number it applied. A record's triples all have the record as
//! subject and are replaced in one transaction, so readers never see half a record.
//!
//! # Pieces
//!
//! - [`Graph`]: load from the record store ([`Graph::load_from`]), apply changes
//!   ([`Graph::update`], [`Graph::catch_up`]), compact ([`Graph::compact_from`]).
//! - [`LiveGraph`]: the graph and its linker as an engine holds them — loaded at once or on a
//!   background thread (the engine answers without the graph meanwhile), caught up from the
//!   store's change log one catch-up at a time, a hook told of every thesaurus change.
//! - [`Thesaurus`] (read from the graph's SKOS labels) → jieba user words
//!   ([`Thesaurus::jieba_user_dict`]), synonym groups, and the entity [`Linker`], held in a
//!   [`SharedLinker`] that a thesaurus edit rebuilds and swaps without a restart.
//! - [`expand`]: typed paths from linked entities ([`Seed::from_links_in`]) to scored candidate
//!   items, each with its [`GraphPath`]s for the explanation.
//! - Domain queries: [`device_by_serial`], [`device_by_qr`], [`warranties_expiring`],
//!   [`stale_items`], [`organisations_in_region`].
//! - [`sparql`]: read-only SPARQL with a deadline and a result cap.
//!
//! # Cancellation
//!
//! Long work takes a [`Stop`]: a deadline and a flag its caller raises when the answer is no
//! longer wanted. oxigraph's own cancellation token does not stop every query shape (a property
//! path's transitive closure keeps walking what it found; a cross product of solutions already
//! read reads nothing), so [`sparql_until`] evaluates on a view of the store that checks the
//! `Stop` as it reads, and puts an always-true filter function checking it above every cross
//! product; either unwinds out of the evaluation (without running the panic hook) and the query
//! ends with [`GraphError::Timeout`] or [`GraphError::Abandoned`]. That needs the unwinding
//! panic strategy.

#[cfg(not(panic = "unwind"))]
compile_error!("the SPARQL deadline stops evaluations by unwinding: build gridkb with panic = \"unwind\"");

mod domain;
mod error;
mod expand;
mod graph;
pub mod limits;
mod linker;
mod live;
mod mapping;
pub mod ontology;
mod sparql;
mod stop;
mod thesaurus;
pub mod vocab;

/// The date type of the domain queries' warranty arithmetic: gridkb's one date type, re-exported
/// because this crate's API takes it.
pub use calendar::Date;
pub use domain::{
    ContractSummary, CustomerSummary, DeviceReport, ExpiringWarranty, HistoryEntry, Named, StaleItem, WarrantyState,
    device_by_qr, device_by_serial, device_in_text, organisations_in_region, serial_candidates, stale_items,
    warranties_expiring,
};
pub use error::{GraphError, Result};
pub use expand::{Candidate, Expansion, GraphPath, PathStep, Seed, expand};
pub use graph::{Applied, CatchUp, Graph, GraphReader, LoadReport};
pub use linker::{Link, Linker, SharedLinker, normalize_key};
pub use live::{LiveGraph, LoadGate, LoadState, ThesaurusHook};
pub use mapping::record_triples;
pub use sparql::{GraphSyntax, N_TRIPLES, SPARQL_JSON, TURTLE, sparql, sparql_until, sparql_with_syntax};
pub use stop::Stop;
pub use thesaurus::{SynonymGroup, Thesaurus, ThesaurusEntry, USER_WORD_FREQ};
