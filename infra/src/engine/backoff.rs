//! The one backoff every wait and retry of infra draws its delays from: a delay that doubles
//! up to a cap, bounded by a deadline or a number of tries. Polls (a runtime becoming READY),
//! retries (IAM propagation) and the verification after apply each set their bounds once.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    deadline: Option<Instant>,
    tries_left: Option<u32>,
}

impl Backoff {
    /// Start at `first`, double up to `max`, unbounded until bounded below.
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            next: first,
            max,
            deadline: None,
            tries_left: None,
        }
    }

    /// No delay that would end past `total` from now.
    pub fn within(mut self, total: Duration) -> Backoff {
        self.deadline = Some(Instant::now() + total);
        self
    }

    /// At most `tries` delays.
    pub fn times(mut self, tries: u32) -> Backoff {
        self.tries_left = Some(tries);
        self
    }

    /// The next delay, or `None` when the bounds say stop.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let delay = self.next;
        if self.deadline.is_some_and(|d| Instant::now() + delay >= d) {
            return None;
        }
        if let Some(tries) = &mut self.tries_left {
            *tries = tries.checked_sub(1)?;
        }
        self.next = (delay * 2).min(self.max);
        Some(delay)
    }

    /// Sleep the next delay; `false` (at once) when the bounds say stop.
    pub async fn sleep(&mut self) -> bool {
        match self.next_delay() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stop_at_the_bounds() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(4)).times(4);
        let delays: Vec<u64> = std::iter::from_fn(|| b.next_delay())
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 4]);

        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(20))
            .within(Duration::from_secs(90));
        let delays: Vec<u64> = std::iter::from_fn(|| b.next_delay())
            .map(|d| d.as_secs())
            .take(10)
            .collect();
        // A deadline is checked against the clock; none has passed in this test.
        assert_eq!(delays, [2, 4, 8, 16, 20, 20, 20, 20, 20, 20]);

        let mut b = Backoff::new(Duration::from_secs(60), Duration::from_secs(60))
            .within(Duration::from_secs(30));
        assert_eq!(
            b.next_delay(),
            None,
            "a delay past the deadline is not waited"
        );
    }
}
