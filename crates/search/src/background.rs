//! The engine's background work, started by [`Engine::start_background`] and owned by the
//! [`Background`] handle it returns: the vector catch-up (embedding what the store changed, the
//! slow step that writes do not wait for) and, on a shared store, the follower of the other
//! nodes' writes.
//!
//! Dropping the handle (or [`Background::stop`]) stops the vector catch-up between two chunks of
//! embeddings and waits for its thread. Work cut short is not lost: the vector index is saved
//! stamped with a sequence number only when a catch-up completes, so the next one gathers the
//! same changes again (embedded quickly from the cache).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Engine, Error, Progress, Result};

/// How long the vector catch-up rests between two passes.
pub const VECTOR_CATCH_UP_INTERVAL: Duration = Duration::from_secs(1);
/// The background embedding reports its progress in the log at most this often.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The engine's running background work; stops it when dropped.
#[derive(Debug)]
pub struct Background {
    stop: Arc<StopSignal>,
    vector_catch_up: Option<JoinHandle<()>>,
}

/// A flag with a condition variable, so that a thread resting between passes wakes at once.
#[derive(Debug, Default)]
struct StopSignal {
    raised: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl StopSignal {
    fn raise(&self) {
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.raised.store(true, Ordering::Release);
        self.wake.notify_all();
    }

    fn raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Rests for `period` or until raised; says whether it was raised.
    fn rest(&self, period: Duration) -> bool {
        let guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (_guard, _) = self
            .wake
            .wait_timeout_while(guard, period, |()| !self.raised())
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.raised()
    }
}

impl Background {
    /// Stops the background work and waits for it (what dropping the handle does).
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    /// Whether the vector catch-up thread is running (an engine without a model has none).
    pub fn has_vector_catch_up(&self) -> bool {
        self.vector_catch_up.is_some()
    }

    fn stop_and_join(&mut self) {
        self.stop.raise();
        if let Some(thread) = self.vector_catch_up.take() {
            // A panic in the thread was already reported by the panic hook.
            let _ = thread.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

impl Engine {
    /// Starts the engine's background work (see the module documentation): the vector catch-up
    /// when the engine has a model, and the follower on a shared store. The follower blocks on
    /// the store's notifications and lives as long as the process; the vector catch-up stops
    /// with the returned handle.
    pub fn start_background(self: &Arc<Self>) -> Result<Background> {
        let thread_error =
            |e: std::io::Error| Error::DataDir { path: self.data_dir().display().to_string(), message: e.to_string() };
        crate::follow::spawn_follower(Arc::clone(self)).map_err(thread_error)?;
        let stop = Arc::new(StopSignal::default());
        let vector_catch_up = if self.has_dense() {
            let (engine, stop) = (Arc::clone(self), Arc::clone(&stop));
            let thread = std::thread::Builder::new()
                .name("vector-catch-up".into())
                .spawn(move || catch_up_vectors_until_stopped(&engine, &stop))
                .map_err(thread_error)?;
            Some(thread)
        } else {
            None
        };
        Ok(Background { stop, vector_catch_up })
    }
}

fn catch_up_vectors_until_stopped(engine: &Engine, stop: &StopSignal) {
    while !stop.raised() {
        let started = Instant::now();
        let last_report = Mutex::new(Instant::now());
        let progress = |p: Progress| {
            if let Progress::Embedded { done, total } = p
                && let Ok(mut last) = last_report.lock()
                && (last.elapsed() >= PROGRESS_LOG_INTERVAL || done == total)
            {
                *last = Instant::now();
                tracing::info!(done, total, "embedding items in the background");
            }
        };
        match engine.catch_up_vectors_until(&progress, &|| stop.raised()) {
            Ok(0) => {}
            Ok(n) if stop.raised() => {
                tracing::info!(items = n, "background embedding stopped; it resumes at the next start")
            }
            Ok(n) => tracing::info!(items = n, seconds = started.elapsed().as_secs_f64(), "embeddings up to date"),
            Err(e) => tracing::error!(error = %e, "embedding catch-up failed; retrying"),
        }
        if stop.rest(VECTOR_CATCH_UP_INTERVAL) {
            break;
        }
    }
}
