//! When a piece of work must stop: its deadline, or its caller giving up on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A deadline and a flag the caller raises when nobody waits for the answer any more (the
/// client hung up). Long work checks it between its stages and inside its loops and stops
/// early, so an abandoned request gives its slot back as soon as its work has stopped, not
/// when the work would have finished. Clones share the flag.
#[derive(Debug, Clone)]
pub struct Stop {
    started: Instant,
    deadline: Instant,
    abandoned: Arc<AtomicBool>,
}

impl Stop {
    /// Stops `budget` from now.
    pub fn after(budget: Duration) -> Stop {
        let started = Instant::now();
        Stop { started, deadline: started + budget, abandoned: Arc::new(AtomicBool::new(false)) }
    }

    /// The same flag with a deadline `budget` from now, or this one's if that is earlier.
    pub fn within(&self, budget: Duration) -> Stop {
        let started = Instant::now();
        Stop { started, deadline: (started + budget).min(self.deadline), abandoned: Arc::clone(&self.abandoned) }
    }

    /// The same flag with a fresh deadline `budget` from now (when queued work starts).
    pub fn restart(&self, budget: Duration) -> Stop {
        Stop::after(budget).sharing(self)
    }

    fn sharing(mut self, other: &Stop) -> Stop {
        self.abandoned = Arc::clone(&other.abandoned);
        self
    }

    /// Tells the work that its answer is no longer wanted.
    pub fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    /// Whether [`Stop::abandon`] was called (on this or a clone).
    pub fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The time the work was given.
    pub fn budget(&self) -> Duration {
        self.deadline.saturating_duration_since(self.started)
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Whether the work should stop now: abandoned, or past its deadline.
    pub fn should_stop(&self) -> bool {
        self.is_abandoned() || self.expired()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_a_narrower_stop_keeps_the_earlier_deadline() {
        let stop = Stop::after(Duration::from_secs(3600));
        let clone = stop.clone();
        let narrow = stop.within(Duration::from_secs(7200));
        assert_eq!(narrow.deadline(), stop.deadline());
        assert!(!clone.should_stop());
        stop.abandon();
        assert!(clone.is_abandoned() && narrow.is_abandoned() && clone.should_stop());
        assert!(Stop::after(Duration::ZERO).expired());
        assert!(!Stop::after(Duration::ZERO).is_abandoned());
    }
}
