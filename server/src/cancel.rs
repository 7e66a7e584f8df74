//! Cross-request cancellation: which session a request belongs to, and the
//! registry of in-flight tool calls that lets a `notifications/cancelled`
//! arriving on another POST (the transport is stateless) cancel the call it
//! names.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use rmcp::model::RequestId;
use tokio_util::sync::CancellationToken;

/// Headers that identify the caller's session. AgentCore Runtime sends its
/// own; other clients may send `Mcp-Session-Id`. Both are only used to match
/// `notifications/cancelled` to the call it cancels.
pub const SESSION_HEADERS: [&str; 2] = [
    "x-amzn-bedrock-agentcore-runtime-session-id",
    "mcp-session-id",
];

/// The session a request belongs to, if its headers name one.
pub fn session_of(headers: &axum::http::HeaderMap) -> Option<String> {
    SESSION_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::to_owned)
}

type CallKey = (Option<String>, String);

/// In-flight tool calls, so a `notifications/cancelled` arriving on another
/// POST (the transport is stateless) can cancel the call it names.
#[derive(Debug, Default)]
pub struct InFlight {
    next: AtomicU64,
    calls: Mutex<HashMap<CallKey, Vec<(u64, CancellationToken)>>>,
}

/// Removes its call from [`InFlight`] when dropped.
pub struct InFlightGuard<'a> {
    registry: &'a InFlight,
    key: CallKey,
    serial: u64,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut calls = self.registry.calls.lock().expect("in-flight registry");
        if let Some(list) = calls.get_mut(&self.key) {
            list.retain(|(serial, _)| *serial != self.serial);
            if list.is_empty() {
                calls.remove(&self.key);
            }
        }
    }
}

fn id_key(id: &RequestId) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

impl InFlight {
    pub fn register(
        &self,
        session: Option<String>,
        id: &RequestId,
        token: CancellationToken,
    ) -> InFlightGuard<'_> {
        let serial = self.next.fetch_add(1, Ordering::Relaxed);
        let key = (session, id_key(id));
        self.calls
            .lock()
            .expect("in-flight registry")
            .entry(key.clone())
            .or_default()
            .push((serial, token));
        InFlightGuard {
            registry: self,
            key,
            serial,
        }
    }

    /// Cancels the call `id` of `session`. Without a session header several
    /// clients may use the same id, so the call is cancelled only when exactly
    /// one matches. Returns how many calls were cancelled.
    pub fn cancel(&self, session: Option<String>, id: &RequestId) -> usize {
        let calls = self.calls.lock().expect("in-flight registry");
        let has_session = session.is_some();
        let Some(list) = calls.get(&(session, id_key(id))) else {
            return 0;
        };
        if !has_session && list.len() != 1 {
            return 0;
        }
        for (_, token) in list {
            token.cancel();
        }
        list.len()
    }

    pub fn len(&self) -> usize {
        self.calls.lock().expect("in-flight registry").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_matches_session_and_id() {
        let registry = InFlight::default();
        let a = CancellationToken::new();
        let b = CancellationToken::new();
        let id = RequestId::Number(1);
        let _ga = registry.register(Some("s-a".into()), &id, a.clone());
        let gb = registry.register(Some("s-b".into()), &id, b.clone());
        assert_eq!(
            registry.cancel(Some("s-a".into()), &RequestId::Number(2)),
            0
        );
        assert_eq!(registry.cancel(Some("s-a".into()), &id), 1);
        assert!(a.is_cancelled() && !b.is_cancelled());
        drop(gb);
        assert_eq!(
            registry.cancel(Some("s-b".into()), &id),
            0,
            "finished calls are gone"
        );
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn without_session_only_an_unambiguous_call_is_cancelled() {
        let registry = InFlight::default();
        let id = RequestId::String("abc".into());
        let first = CancellationToken::new();
        let g1 = registry.register(None, &id, first.clone());
        let second = CancellationToken::new();
        let g2 = registry.register(None, &id, second.clone());
        assert_eq!(registry.cancel(None, &id), 0, "two clients use the same id");
        assert!(!first.is_cancelled() && !second.is_cancelled());
        drop(g2);
        assert_eq!(registry.cancel(None, &id), 1);
        assert!(first.is_cancelled());
        drop(g1);
        assert!(registry.is_empty());
    }
}
