//! The one error type of the graph crate.

use std::time::Duration;

/// Why a graph operation failed. The caller's mistakes (`Syntax`, `Refused`, `ResultCapExceeded`,
/// `Timeout`, `InvalidArgument`) are kept apart from the environment's (`Store`) and our own
/// bugs (`Internal`).
#[derive(Debug, thiserror::Error)]
// Not `#[non_exhaustive]`: the server maps every variant to its code by an exhaustive match
// (`server::error`), so a new variant does not compile until it is mapped.
pub enum GraphError {
    /// The SPARQL text does not parse.
    #[error("SPARQL syntax error: {0}")]
    Syntax(String),
    /// A read-only endpoint was asked to change the graph or to reach the network.
    #[error(
        "{what} is not allowed here: the graph is read-only and never calls out (SPARQL UPDATE, LOAD and SERVICE are refused)"
    )]
    Refused {
        /// `UPDATE`, `LOAD`, `SERVICE`, ...
        what: &'static str,
    },
    /// The query did not finish in time and was cancelled.
    #[error("the query did not finish within {timeout:?} and was stopped; narrow it or add a LIMIT")]
    Timeout {
        /// The deadline it was given.
        timeout: Duration,
    },
    /// The caller gave up on the answer (its client hung up) and the work was stopped.
    #[error("the query was stopped because its caller no longer waits for it")]
    Abandoned,
    /// The query produced more results than allowed.
    #[error("the query has more than {cap} results; add a LIMIT of at most {cap}")]
    ResultCapExceeded {
        /// The cap.
        cap: usize,
    },
    /// The query nests brackets deeper than the parser may recurse.
    #[error("the SPARQL query nests brackets deeper than {max} levels")]
    TooDeep {
        /// The deepest nesting allowed.
        max: usize,
    },
    /// An argument out of range or malformed (a date, an empty serial, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The evaluation failed for another reason (type error in a function, ...).
    #[error("SPARQL evaluation failed: {0}")]
    Evaluation(String),
    /// The record store could not be read.
    #[error("record store: {0}")]
    Store(#[from] store::Error),
    /// A background load was stopped because its engine closed.
    #[error("the graph load was cancelled")]
    Cancelled,
    /// The in-memory graph failed: a bug, not the caller's fault.
    #[error("internal graph error: {0}")]
    Internal(String),
}

impl From<oxigraph::store::StorageError> for GraphError {
    fn from(e: oxigraph::store::StorageError) -> Self {
        GraphError::Internal(e.to_string())
    }
}

pub type Result<T, E = GraphError> = std::result::Result<T, E>;
