//! Latency percentiles for `gridkb bench` and `gridkb eval --match`.

use std::fmt;
use std::time::Duration;

/// Measured durations, sorted; percentiles by nearest rank.
#[derive(Debug)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut measured: Vec<Duration>) -> Latencies {
        measured.sort_unstable();
        Latencies(measured)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-quantile (0..=1) in milliseconds; 0 when nothing was measured.
    pub fn ms(&self, p: f64) -> f64 {
        let Some(last) = self.0.len().checked_sub(1) else {
            return 0.0;
        };
        self.0[(last as f64 * p.clamp(0.0, 1.0)).round() as usize].as_secs_f64() * 1e3
    }
}

impl fmt::Display for Latencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.ms(0.5),
            self.ms(0.95),
            self.ms(0.99),
            self.ms(1.0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_what_was_pushed_in_any_order() {
        assert_eq!(Latencies::new(Vec::new()).ms(0.5), 0.0);
        let latencies = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(latencies.len(), 100);
        assert_eq!(
            (latencies.ms(0.0), latencies.ms(0.5), latencies.ms(0.99), latencies.ms(1.0)),
            (1.0, 51.0, 99.0, 100.0)
        );
        assert_eq!(latencies.to_string(), "p50 51.00 ms, p95 95.00 ms, p99 99.00 ms, max 100.00 ms");
    }
}
