//! Reading the runtime's log: the events of its log group (every stream: one per session or
//! instance), merged by time, for `infra logs` and the check after apply. Read-only:
//! `FilterLogEvents` over the group, every page. CloudWatch interleaves the streams by time
//! ("The response from this operation always interleaves events from multiple log streams
//! within a log group", FilterLogEvents in the CloudWatch Logs API reference); the events are
//! sorted again here by time, then ingestion time, so the order never depends on the pages.

use std::collections::HashMap;
use std::time::Duration;

use crate::aws::Aws;
use crate::engine::{Error, not_found_as_none};

/// One line the runtime wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// When it was written, in milliseconds since the epoch.
    pub timestamp: i64,
    /// When CloudWatch took it in, in milliseconds since the epoch.
    pub ingestion_time: i64,
    pub stream: String,
    /// The line, as the runtime wrote it.
    pub message: String,
    /// CloudWatch's id of the event: unique within the group.
    pub id: String,
}

/// How errors name the group.
fn resource(group: &str) -> String {
    format!("log group {group}")
}

/// The events of `group` written at or after `start_ms` (milliseconds since the epoch), every
/// stream, by time then ingestion time. `None` when the group does not exist (a runtime that
/// never ran: AgentCore makes it on the first invocation).
pub async fn read(aws: &Aws, group: &str, start_ms: i64) -> Result<Option<Vec<LogEvent>>, Error> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let result = aws
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::aws(&resource(group), "FilterLogEvents", e));
        let Some(page) = not_found_as_none(result, "ResourceNotFoundException")? else {
            return Ok(None);
        };
        events.extend(page.events().iter().map(|e| LogEvent {
            timestamp: e.timestamp().unwrap_or_default(),
            ingestion_time: e.ingestion_time().unwrap_or_default(),
            stream: e.log_stream_name().unwrap_or_default().to_owned(),
            message: e.message().unwrap_or_default().to_owned(),
            id: e.event_id().unwrap_or_default().to_owned(),
        }));
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    sort(&mut events);
    Ok(Some(events))
}

/// By time, then ingestion time; events of the same instant keep CloudWatch's order.
pub fn sort(events: &mut [LogEvent]) {
    events.sort_by_key(|e| (e.timestamp, e.ingestion_time));
}

/// How far back each poll of [`Follow`] reads again: an event may reach CloudWatch after
/// events written later (several streams, each shipped on its own), and is still shown when it
/// arrives within this window.
pub const LATE: Duration = Duration::from_secs(60);

/// Following a log: which events were shown, so that polls that read overlapping windows
/// never show one twice.
#[derive(Debug)]
pub struct Follow {
    /// Ids of the events shown, with their time; those older than the window are forgotten.
    shown: HashMap<String, i64>,
    /// The newest time shown (or the start).
    newest: i64,
    since: i64,
}

impl Follow {
    /// Following from `since_ms` on.
    pub fn new(since_ms: i64) -> Follow {
        Follow {
            shown: HashMap::new(),
            newest: since_ms,
            since: since_ms,
        }
    }

    /// Where the next poll starts: [`LATE`] before the newest event shown, never before the
    /// start.
    pub fn start(&self) -> i64 {
        let late = i64::try_from(LATE.as_millis()).unwrap_or(i64::MAX);
        self.newest.saturating_sub(late).max(self.since)
    }

    /// Of a poll's events (in order), those not shown yet; they count as shown from now on.
    pub fn fresh(&mut self, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let fresh: Vec<LogEvent> = events
            .into_iter()
            .filter(|e| !self.shown.contains_key(&e.id))
            .collect();
        for e in &fresh {
            self.shown.insert(e.id.clone(), e.timestamp);
            self.newest = self.newest.max(e.timestamp);
        }
        let start = self.start();
        self.shown.retain(|_, at| *at >= start);
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, timestamp: i64, ingestion_time: i64) -> LogEvent {
        LogEvent {
            timestamp,
            ingestion_time,
            stream: "s".into(),
            message: id.into(),
            id: id.into(),
        }
    }

    #[test]
    fn events_are_ordered_by_time_then_ingestion() {
        let mut events = vec![
            event("c", 2_000, 5),
            event("a", 1_000, 9),
            event("b2", 2_000, 3),
            event("b1", 1_000, 10),
        ];
        sort(&mut events);
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b1", "b2", "c"]);
    }

    #[test]
    fn following_never_shows_an_event_twice_and_shows_late_ones() {
        let mut follow = Follow::new(1_000);
        assert_eq!(follow.start(), 1_000);
        let first = follow.fresh(vec![event("1", 1_500, 1_500), event("2", 90_000, 90_000)]);
        assert_eq!(first.len(), 2);
        // The next poll reads again from a minute before the newest.
        assert_eq!(follow.start(), 30_000);
        // "2" again, and "late", written before "2" but ingested after it.
        let second = follow.fresh(vec![
            event("late", 80_000, 95_000),
            event("2", 90_000, 90_000),
        ]);
        let ids: Vec<&str> = second.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["late"]);
        assert!(follow.fresh(vec![event("2", 90_000, 90_000)]).is_empty());
        // What is older than the window is forgotten (a poll no longer reads it).
        assert!(!follow.shown.contains_key("1"));
    }
}
