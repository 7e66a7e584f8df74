//! What `GET /ping` reports: `Healthy`, or `HealthyBusy` while at least one
//! tool call runs, and `time_of_last_update`, when that status last changed.
//!
//! AgentCore Runtime measures a session's idle time from the last status
//! change and must not reclaim it mid-search. Both values are atomics: a
//! tool call costs two read-modify-writes (plus a clock read when the status
//! flips), a ping two loads.

use std::{
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// The `status` of a ping response, in AgentCore's casing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingStatus {
    Healthy,
    HealthyBusy,
}

impl PingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PingStatus::Healthy => "Healthy",
            PingStatus::HealthyBusy => "HealthyBusy",
        }
    }
}

/// Counts the tool calls in flight.
#[derive(Debug)]
pub struct Activity {
    running: AtomicUsize,
    /// Unix seconds of the last status change (initially: creation).
    last_change: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            running: AtomicUsize::new(0),
            last_change: AtomicU64::new(unix_now()),
        }
    }
}

/// One tool call in flight; ends it when dropped, so a call that completes,
/// fails, or whose future is dropped (client gone, shutdown) all count down.
#[must_use = "the call counts as in flight only while the guard lives"]
pub struct Busy<'a> {
    activity: &'a Activity,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if self.activity.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.activity.touch();
        }
    }
}

impl Activity {
    /// Marks a tool call as started, until the guard is dropped.
    pub fn begin(&self) -> Busy<'_> {
        if self.running.fetch_add(1, Ordering::AcqRel) == 0 {
            self.touch();
        }
        Busy { activity: self }
    }

    /// The tool calls in flight.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// The status and `time_of_last_update` (Unix seconds of its last change).
    pub fn status(&self) -> (PingStatus, u64) {
        let status = if self.running() > 0 {
            PingStatus::HealthyBusy
        } else {
            PingStatus::Healthy
        };
        (status, self.last_change.load(Ordering::Acquire))
    }

    /// The `GET /ping` body: `{"status", "time_of_last_update"}`. The router
    /// and the pings answered above the connection cap (`limits`) both send it.
    pub fn ping_body(&self) -> serde_json::Value {
        let (status, time_of_last_update) = self.status();
        serde_json::json!({
            "status": status.as_str(),
            "time_of_last_update": time_of_last_update,
        })
    }

    fn touch(&self) {
        self.last_change.store(unix_now(), Ordering::Release);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_while_any_call_runs_and_stamped_only_on_changes() {
        let activity = Activity::default();
        let created = activity.status().1;
        assert_eq!(activity.status().0, PingStatus::Healthy);
        // Pretend the status last changed long ago, to see which steps stamp it.
        activity.last_change.store(1, Ordering::Relaxed);
        let first = activity.begin();
        let (status, busy_since) = activity.status();
        assert_eq!(status, PingStatus::HealthyBusy);
        assert!(busy_since >= created, "stamped when it became busy");
        activity.last_change.store(2, Ordering::Relaxed);
        let second = activity.begin();
        drop(first);
        assert_eq!(
            activity.status(),
            (PingStatus::HealthyBusy, 2),
            "still busy, not re-stamped"
        );
        assert_eq!(activity.running(), 1);
        drop(second);
        let (status, idle_since) = activity.status();
        assert_eq!(status, PingStatus::Healthy);
        assert!(idle_since >= created, "stamped when it became idle");
        assert_eq!(activity.running(), 0);
    }
}
