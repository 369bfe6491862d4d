//! The HTTP API of gridkb (axum).
//!
//! Architecture invariant: the only crate with HTTP types. Every route validates its input into
//! the search crate's request types, answers errors through the one table in [`error`], and runs
//! searches on the blocking pool behind a bounded queue.

mod analytics_routes;
pub mod auth;
pub mod console;
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

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use search::{Engine, Limits};
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
    /// Searches running at once.
    search_slots: Semaphore,
    /// Searches running or waiting; bounded by `max_concurrent_searches + search_queue`.
    admitted: AtomicUsize,
    /// Prometheus metrics, served at `/metrics`.
    metrics: metrics::Metrics,
    /// The API keys; empty means no key store (open), see [`auth`].
    auth: auth::AuthSlot,
    /// Recent import tasks.
    tasks: import_routes::Tasks,
    /// The request log, opened in the engine's data directory with the engine (or given).
    journal: OnceLock<Arc<journal::Journal>>,
}

impl AppState {
    pub fn new(limits: Limits) -> AppState {
        let slots = limits.max_concurrent_searches;
        AppState {
            inner: Arc::new(Inner {
                engine: OnceLock::new(),
                search_slots: Semaphore::new(slots),
                admitted: AtomicUsize::new(0),
                metrics: metrics::Metrics::new(),
                auth: OnceLock::new(),
                tasks: import_routes::Tasks::default(),
                journal: OnceLock::new(),
                limits,
            }),
        }
    }

    /// Makes the engine available to the routes (the server is then ready), with the request
    /// log of its data directory unless one was given.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        if self.inner.journal.get().is_none() {
            let dir = engine.data_dir().join(search::data_dir::JOURNAL_DIR);
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

    pub(crate) fn tasks(&self) -> &import_routes::Tasks {
        &self.inner.tasks
    }

    pub(crate) fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// Searches running or waiting for a slot now.
    pub(crate) fn admitted(&self) -> usize {
        self.inner.admitted.load(Ordering::Acquire)
    }

    /// Runs `work` on the blocking pool once a search slot is free, or refuses at once with
    /// 503 when the queue is full.
    pub(crate) async fn run_search<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let engine = self.ready_engine()?;
        let capacity = self.inner.limits.max_concurrent_searches + self.inner.limits.search_queue;
        let admitted = AdmissionGuard::admit(&self.inner.admitted, capacity).ok_or_else(|| {
            self.inner.metrics.record_rejected();
            ApiError::new(ErrorCode::Overloaded, "too many searches in flight; retry shortly")
        })?;
        let _slot = self
            .inner
            .search_slots
            .acquire()
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "search pool closed"))?;
        let result = on_blocking_pool(engine, work, "search").await;
        drop(admitted);
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
struct AdmissionGuard<'a>(&'a AtomicUsize);

impl<'a> AdmissionGuard<'a> {
    fn admit(counter: &'a AtomicUsize, capacity: usize) -> Option<Self> {
        let previous = counter.fetch_add(1, Ordering::AcqRel);
        if previous >= capacity {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(AdmissionGuard(counter))
    }
}

impl Drop for AdmissionGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves until ctrl-c / SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
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
