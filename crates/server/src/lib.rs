//! The HTTP API of gridkb (axum).
//!
//! Architecture invariant: the only crate with HTTP types. Every route validates its input into
//! the search crate's request types, answers errors through the one table in [`error`], and runs
//! searches on the blocking pool behind a bounded queue.

mod analytics_routes;
pub mod auth;
mod backup_routes;
mod category_routes;
mod connection;
pub mod console;
mod customer_routes;
mod entity_routes;
pub mod error;
mod extract;
mod feedback_routes;
mod graph_routes;
mod import_routes;
mod items_routes;
pub mod keys;
mod knowledge_task_routes;
mod metrics;
pub mod openapi;
mod rag;
pub mod request_log;
mod routes;
mod stats;
mod ticket_routes;
mod tune_routes;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use search::{Engine, Limits, Stop};
use tokio::sync::Semaphore;

pub use error::{ApiError, ErrorCode};

/// State shared by every route.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Set once the indexes are open; until then search routes answer 503 `not_ready`.
    engine: OnceLock<Arc<Engine>>,
    limits: Limits,
    /// Searches (and the other reads of the search side).
    searches: Pool,
    /// SPARQL queries: a smaller pool of their own, so that they cannot take the searches' slots.
    sparql: Pool,
    /// Prometheus metrics, served at `/metrics`.
    metrics: metrics::Metrics,
    /// The API keys; empty means no key store (open), see [`auth`].
    auth: auth::AuthSlot,
    /// Recent import tasks.
    tasks: import_routes::Tasks,
    /// The request log, opened in the engine's data directory with the engine (or given).
    journal: OnceLock<Arc<journal::Journal>>,
    /// `/openapi.json` with this server's limits, made at the first request.
    openapi: OnceLock<axum::body::Bytes>,
}

/// Which bounded pool a piece of work runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PoolKind {
    Search,
    Sparql,
}

impl PoolKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PoolKind::Search => "search",
            PoolKind::Sparql => "sparql",
        }
    }
}

/// A bounded pool of blocking work: `slots` run at once and `slots + queue` are admitted; more
/// are refused with 503. The work itself holds its slot and its admission, so a request whose
/// client hung up keeps them until its work has stopped — and it is told to stop at once
/// ([`Stop::abandon`]), so that it stops at its next check instead of running to the end.
#[derive(Debug)]
struct Pool {
    slots: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    /// The deadline of each piece of work, from when it starts.
    budget: Duration,
}

impl Pool {
    fn new(slots: usize, queue: usize, budget: Duration) -> Pool {
        Pool {
            slots: Arc::new(Semaphore::new(slots)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: slots + queue,
            budget,
        }
    }
}

/// How long past its own deadline the answer to a SPARQL query is awaited before the client is
/// told `sparql_timeout` anyway (the work keeps its slot until it has stopped).
const SPARQL_ANSWER_GRACE: Duration = Duration::from_secs(1);

impl AppState {
    pub fn new(limits: Limits) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                engine: OnceLock::new(),
                searches: Pool::new(limits.max_concurrent_searches, limits.search_queue, limits.search_deadline()),
                sparql: Pool::new(limits.max_concurrent_sparql, limits.sparql_queue, limits.sparql_timeout()),
                metrics: metrics::Metrics::new(),
                auth: OnceLock::new(),
                tasks: import_routes::Tasks::default(),
                journal: OnceLock::new(),
                openapi: OnceLock::new(),
                limits,
            }),
        }
    }

    /// Makes the engine available to the routes (the server is then ready), with the request
    /// log of its data directory unless one was given.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        if self.inner.journal.get().is_none() {
            let dir = engine.layout().journal_dir();
            match journal::Journal::open(&dir, self.inner.limits.journal_limits()) {
                Ok((journal, report)) => {
                    if report.skipped_lines > 0 || report.torn_bytes > 0 {
                        tracing::warn!(
                            skipped_lines = report.skipped_lines,
                            torn_bytes = report.torn_bytes,
                            "the request log had damaged lines; they were skipped"
                        );
                    }
                    tracing::info!(events = report.events, segments = report.segments, "request log opened");
                    engine.set_feedback_prior(search::feedback::FeedbackPrior::from_snapshot(&journal.snapshot()));
                    self.set_journal(Arc::new(journal));
                }
                Err(e) => tracing::error!(error = %e, "the request log cannot be opened; requests are not logged"),
            }
        }
        // The editors' duplicate-pair scan, brought to its end in the background so that the task
        // queue is complete soon after a start (each slice is bounded; requests interleave).
        let weak = Arc::downgrade(&engine);
        let warm = std::thread::Builder::new().name("duplicate-scan".into()).spawn(move || {
            lower_priority();
            loop {
                let Some(engine) = weak.upgrade() else { return };
                match engine.duplicate_pairs(&search::improvement::Scope::everything()) {
                    Ok(_) if engine.duplicate_scan_pending() == 0 => return,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the duplicate-pair scan stopped; task-queue requests go on with it");
                        return;
                    }
                }
            }
        });
        if let Err(e) = warm {
            tracing::warn!(error = %e, "cannot start the duplicate-pair scan; task-queue requests run it");
        }
        let _ = self.inner.engine.set(engine);
    }

    /// Uses `journal` as the request log.
    pub fn set_journal(&self, journal: Arc<journal::Journal>) {
        let _ = self.inner.journal.set(journal);
    }

    pub fn journal(&self) -> Option<&Arc<journal::Journal>> {
        self.inner.journal.get()
    }

    /// The request log, or 503 when it could not be opened.
    pub(crate) fn ready_journal(&self) -> Result<Arc<journal::Journal>, ApiError> {
        self.journal()
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::NotReady, "the request log is not open; see the server log"))
    }

    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.inner.engine.get()
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The OpenAPI document with this server's limits (see [`openapi::document_json_for`]).
    pub(crate) fn openapi_document(&self) -> axum::body::Bytes {
        self.inner
            .openapi
            .get_or_init(|| axum::body::Bytes::from(openapi::document_json_for(&self.inner.limits)))
            .clone()
    }

    pub(crate) fn tasks(&self) -> &import_routes::Tasks {
        &self.inner.tasks
    }

    pub(crate) fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// Work running or waiting for a slot now in the pool `kind`, and the pool's capacity.
    pub(crate) fn admitted(&self, kind: PoolKind) -> (usize, usize) {
        let pool = self.pool(kind);
        (pool.admitted.load(Ordering::Acquire), pool.capacity)
    }

    fn pool(&self, kind: PoolKind) -> &Pool {
        match kind {
            PoolKind::Search => &self.inner.searches,
            PoolKind::Sparql => &self.inner.sparql,
        }
    }

    /// Runs `work` on the blocking pool once a search slot is free, or refuses at once with
    /// 503 when the queue is full. `work` gets a [`Stop`] at the search deadline that is
    /// abandoned when the client goes away.
    pub(crate) async fn run_search<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Engine, &Stop) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run_bounded(PoolKind::Search, work).await
    }

    /// Runs a SPARQL query's `work` in the SPARQL pool. The answer is awaited until the
    /// deadline (plus a grace): a query that has not stopped by then is answered
    /// `sparql_timeout` and keeps its slot until it does.
    pub(crate) async fn run_sparql<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Engine, &Stop) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let wait = self.inner.sparql.budget + SPARQL_ANSWER_GRACE;
        match tokio::time::timeout(wait, self.run_bounded(PoolKind::Sparql, work)).await {
            Ok(answer) => answer,
            Err(_) => Err(ApiError::from(graph::GraphError::Timeout { timeout: self.inner.sparql.budget })),
        }
    }

    async fn run_bounded<T: Send + 'static>(
        &self,
        kind: PoolKind,
        work: impl FnOnce(&Engine, &Stop) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let engine = self.ready_engine()?;
        let pool = self.pool(kind);
        let admitted = AdmissionGuard::admit(Arc::clone(&pool.admitted), pool.capacity).ok_or_else(|| {
            self.inner.metrics.record_rejected(kind);
            ApiError::new(ErrorCode::Overloaded, "too many requests in flight; retry shortly")
        })?;
        let caller = Stop::after(pool.budget);
        // Dropped with this future (the client hung up) before the work is done: tell it to stop.
        let abandon = AbandonOnDrop(Some(caller.clone()));
        let slot = Arc::clone(&pool.slots)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "search pool closed"))?;
        let (state, budget) = (self.clone(), pool.budget);
        let running = tokio::task::spawn_blocking(move || {
            let _held = (admitted, slot);
            let stop = caller.restart(budget);
            let result = work(&engine, &stop);
            if stop.is_abandoned() {
                state.metrics().record_abandoned(kind);
            }
            result
        });
        let result = running.await.map_err(|e| {
            tracing::error!(error = %e, what = kind.as_str(), "blocking task failed");
            ApiError::new(ErrorCode::Internal, "internal error; the server log has the details")
        })?;
        abandon.disarm();
        result
    }

    /// Runs an editor's read or write on the blocking pool (outside the search queue: writes are
    /// serialised by the engine's write lock, and editors' reads are cheap).
    pub(crate) async fn run_write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        on_blocking_pool(self.ready_engine()?, work, "editing").await
    }

    /// The engine, or 503 `not_ready` while the indexes are opened.
    pub(crate) fn ready_engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.engine()
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::NotReady, "the indexes are still being built; retry shortly"))
    }
}

/// Abandons its [`Stop`] when dropped, unless disarmed first.
struct AbandonOnDrop(Option<Stop>);

impl AbandonOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            stop.abandon();
        }
    }
}

/// Runs `work` with the engine on the blocking pool; a panic in it is a logged 500.
async fn on_blocking_pool<T: Send + 'static>(
    engine: Arc<Engine>,
    work: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
    what: &'static str,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || work(&engine)).await.map_err(|e| {
        tracing::error!(error = %e, what, "blocking task failed");
        ApiError::new(ErrorCode::Internal, "internal error; the server log has the details")
    })?
}

/// Counts a request in while it is admitted.
struct AdmissionGuard(Arc<AtomicUsize>);

impl AdmissionGuard {
    fn admit(counter: Arc<AtomicUsize>, capacity: usize) -> Option<Self> {
        let previous = counter.fetch_add(1, Ordering::AcqRel);
        if previous >= capacity {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(AdmissionGuard(counter))
    }
}

impl Drop for AdmissionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves until ctrl-c / SIGTERM, within the connection bounds of the state's limits (see
/// [`connection`]).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    connection::serve(listener, state, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Lowers the calling thread's scheduling priority (nice 10), so that background work (the
/// editors' duplicate-pair scan, a full core for about 25 s after a start on the demo corpus)
/// yields the cores to requests. Linux applies `setpriority` to the calling thread alone; failing
/// to lower it is only a missed courtesy, so it is logged, not returned.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, 10) {
        tracing::debug!(error = %e, "cannot lower the background thread's priority");
    }
}
