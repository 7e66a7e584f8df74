//! Reading an OpenAI answer without holding more of it than allowed: the body
//! chunk by chunk up to `OPENAI_MAX_RESPONSE_BYTES` (an error body up to
//! [`MAX_ERROR_BODY`], for its message), and an error body's detail with the
//! key redacted.

use crate::config::ApiKey;
use crate::openai::{error_chain, error_detail};

/// How much of an error (non-2xx) body is read, at most, for its message.
pub(crate) const MAX_ERROR_BODY: usize = 16 * 1024;

/// A response body read by [`read_limited`].
#[derive(Debug)]
pub(crate) enum BodyRead {
    /// The whole body, at most the limit.
    Whole(Vec<u8>),
    /// The body goes on past the limit: its first `limit` bytes; the rest
    /// was not read (the connection is dropped, not reused).
    Over(Vec<u8>),
    /// The connection failed mid-body: what had arrived, and the error.
    Failed { prefix: Vec<u8>, error: String },
}

/// Reads `response`'s body chunk by chunk, stopping as soon as it passes
/// `limit` bytes: whatever the server sends, at most `limit` bytes (plus
/// one chunk in flight) are held.
pub(crate) async fn read_limited(mut response: reqwest::Response, limit: usize) -> BodyRead {
    let announced = response
        .content_length()
        .map_or(0, |length| usize::try_from(length).unwrap_or(usize::MAX));
    let mut body = Vec::with_capacity(announced.min(limit));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return BodyRead::Over(body);
                }
                grow_within(&mut body, chunk.len(), limit);
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return BodyRead::Whole(body),
            Err(error) => {
                return BodyRead::Failed {
                    prefix: body,
                    error: error_chain(&error),
                };
            }
        }
    }
}

/// Makes room for `more` bytes, doubling as `Vec` does but never reserving
/// past `limit` (the caller checked that `len + more <= limit`).
pub(crate) fn grow_within(body: &mut Vec<u8>, more: usize, limit: usize) {
    let needed = body.len() + more;
    if needed > body.capacity() {
        let target = needed.max(body.capacity() * 2).min(limit);
        body.reserve_exact(target - body.len());
    }
}

/// The detail of an error response from what [`read_limited`] got of its body.
pub(crate) fn error_body_detail(read: BodyRead) -> String {
    match read {
        BodyRead::Whole(bytes) | BodyRead::Over(bytes) => error_detail(&bytes),
        BodyRead::Failed { prefix, error } if prefix.trim_ascii().is_empty() => {
            format!("the response body broke off ({error})")
        }
        BodyRead::Failed { prefix, error } => format!(
            "{} (the response body broke off: {error})",
            error_detail(&prefix)
        ),
    }
}

/// `text` with every occurrence of the key replaced: an error body that
/// echoes the `Authorization` header (some gateways do) must not put the key
/// in a tool result or a log line.
pub(crate) fn redact(text: String, key: &ApiKey) -> String {
    let key = key.expose();
    if key.is_empty() || !text.contains(key) {
        return text;
    }
    text.replace(key, "[the API key, redacted]")
}
