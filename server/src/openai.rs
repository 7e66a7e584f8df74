//! The OpenAI Responses API, reduced to what `web_search` needs.
//!
//! Plain reqwest + serde. Parsing is tolerant on purpose: every output item is
//! decoded on its own and unknown item, content and annotation types are
//! skipped, so a new item type from OpenAI never breaks the tool.
//!
//! A response body is read chunk by chunk up to `OPENAI_MAX_RESPONSE_BYTES`
//! (an error body up to 16 KiB, for its message): an answer past the cap, or
//! announcing more in its `Content-Length`, is dropped unread and the search
//! fails with [`UpstreamError::ResponseTooLarge`], so one search never holds
//! more than the cap. A 401 or 403 is final as soon as its status line is in
//! (never retried, whatever its body does), and the key is redacted from any
//! error body that echoes it.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use crate::responses::parse_response;
use crate::upstream_body::{BodyRead, MAX_ERROR_BODY, error_body_detail, read_limited, redact};
use crate::{
    config::{ApiKey, OpenAiSettings},
    secret::{SecretError, SecretKey},
};

/// How much web context the search tool may pull in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchContextSize {
    Low,
    Medium,
    High,
}

/// One web search, as the tool received it.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub search_context_size: Option<SearchContextSize>,
    pub allowed_domains: Vec<String>,
}

/// A source cited by the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Citation {
    /// The cited page.
    pub url: String,
    /// The page title as the search reported it (may be empty).
    pub title: String,
}

/// The tool's structured result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SearchAnswer {
    /// The answer text, with the model's inline citation markers.
    pub answer: String,
    /// The sources cited in the answer, de-duplicated, in order of first citation.
    pub citations: Vec<Citation>,
}

impl SearchAnswer {
    /// The answer followed by its numbered sources, for clients that only read text.
    pub fn to_text(&self) -> String {
        let mut text = self.answer.trim_end().to_owned();
        if !self.citations.is_empty() {
            text.push_str("\n\nSources:");
            for (i, c) in self.citations.iter().enumerate() {
                let title = if c.title.trim().is_empty() {
                    c.url.as_str()
                } else {
                    c.title.trim()
                };
                text.push_str(&format!("\n[{}] {} - {}", i + 1, title, c.url));
            }
        }
        text
    }
}

/// Why a search did not produce an answer. Every variant's message says what
/// happened and, where the operator can act, what to do.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum UpstreamError {
    #[error(
        "web_search is not configured: OPENAI_API_KEY is not set. Set OPENAI_API_KEY in the \
         server's environment, or OPENAI_API_KEY_SECRET_ARN to an AWS Secrets Manager secret \
         holding the key (for AgentCore Runtime: the runtime's environment variables), and \
         restart the server."
    )]
    MissingApiKey,
    /// `check` names where the key came from.
    #[error("OpenAI refused the API key (HTTP 401 Unauthorized): {detail}. Check {check}.")]
    Unauthorized { detail: String, check: String },
    #[error(
        "web_search cannot read the OpenAI API key from AWS Secrets Manager secret {secret} \
         (OPENAI_API_KEY_SECRET_ARN): {code}: {message}. Check that the secret exists in that \
         region and holds the key as its SecretString, and that the server's role (for AgentCore \
         Runtime: the execution role) may call secretsmanager:GetSecretValue on it. The secret \
         is read again on the next call."
    )]
    SecretUnavailable {
        secret: String,
        code: String,
        message: String,
    },
    #[error(
        "web_search gave up after {}s (OPENAI_TIMEOUT_SECS) waiting for the OpenAI API key from \
         AWS Secrets Manager secret {secret} (OPENAI_API_KEY_SECRET_ARN); the read goes on in \
         the background and the next call tries again.",
        .waited.as_secs_f64()
    )]
    SecretTimeout { secret: String, waited: Duration },
    #[error(
        "OpenAI refused the request made with this API key (HTTP 403 Forbidden): {detail}. \
         Check that the key's project may use the model and web search."
    )]
    Forbidden { detail: String },
    #[error("OpenAI rate limit (HTTP 429) still hit after {attempts} attempts: {detail}")]
    RateLimited { attempts: u32, detail: String },
    #[error("OpenAI server error (HTTP {status}) after {attempts} attempts: {detail}")]
    Server {
        status: u16,
        attempts: u32,
        detail: String,
    },
    #[error("OpenAI rejected the request (HTTP {status}): {detail}")]
    Rejected { status: u16, detail: String },
    #[error("OpenAI did not answer within {}s (OPENAI_TIMEOUT_SECS)", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("could not reach OpenAI after {attempts} attempts: {detail}")]
    Transport { attempts: u32, detail: String },
    #[error("OpenAI returned a response this server cannot read: {0}")]
    InvalidResponse(String),
    /// `announced`: the `Content-Length`, when that is how it was known.
    #[error(
        "OpenAI's response is larger than {limit} bytes, the cap set by OPENAI_MAX_RESPONSE_BYTES{}: \
         the server stopped reading it and discarded it. Ask a narrower question, or raise \
         OPENAI_MAX_RESPONSE_BYTES if answers this large are expected.",
        .announced.map(|n| format!(" (its Content-Length is {n} bytes)")).unwrap_or_default()
    )]
    ResponseTooLarge {
        limit: usize,
        announced: Option<u64>,
    },
    #[error("OpenAI's response contains no answer message ({0})")]
    NoMessage(String),
    #[error("OpenAI declined to answer: {0}")]
    Refusal(String),
}

impl UpstreamError {
    /// A short stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingApiKey => "missing_api_key",
            Self::Unauthorized { .. } => "unauthorized",
            Self::SecretUnavailable { .. } => "secret_unavailable",
            Self::SecretTimeout { .. } => "secret_timeout",
            Self::Forbidden { .. } => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "upstream_5xx",
            Self::Rejected { .. } => "rejected",
            Self::Timeout(_) => "timeout",
            Self::Transport { .. } => "transport",
            Self::InvalidResponse(_) => "invalid_response",
            Self::ResponseTooLarge { .. } => "response_too_large",
            Self::NoMessage(_) => "no_message",
            Self::Refusal(_) => "refusal",
        }
    }
}

/// Where the API key comes from.
#[derive(Debug)]
pub enum KeySource {
    /// Neither `OPENAI_API_KEY` nor `OPENAI_API_KEY_SECRET_ARN`.
    Missing,
    /// `OPENAI_API_KEY` (wins when both are set).
    Direct(ApiKey),
    /// `OPENAI_API_KEY_SECRET_ARN`: read from Secrets Manager, see [`crate::secret`].
    Secret(Arc<SecretKey>),
}

/// The Responses API client. Cheap to share; the HTTP client is built on first use
/// so startup stays fast.
#[derive(Debug)]
pub struct OpenAi {
    settings: OpenAiSettings,
    key: KeySource,
    http: OnceLock<reqwest::Client>,
}

impl OpenAi {
    pub fn new(settings: OpenAiSettings) -> Self {
        let key = match (&settings.api_key, &settings.api_key_secret_arn) {
            (Some(key), _) => KeySource::Direct(key.clone()),
            (None, Some(secret)) => {
                KeySource::Secret(SecretKey::new(secret.clone(), settings.secret_refresh))
            }
            (None, None) => KeySource::Missing,
        };
        Self {
            settings,
            key,
            http: OnceLock::new(),
        }
    }

    pub fn settings(&self) -> &OpenAiSettings {
        &self.settings
    }

    pub fn key_source(&self) -> &KeySource {
        &self.key
    }

    /// Starts reading the key from Secrets Manager in the background, when it
    /// comes from there; returns at once. Needs a Tokio runtime.
    pub fn start_key_read(&self) {
        if let KeySource::Secret(secret) = &self.key {
            secret.start();
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(60))
                .tcp_nodelay(true)
                .user_agent(concat!("mcp-web-search/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("HTTP client configuration is valid")
        })
    }

    /// The JSON body sent to `POST /responses`.
    pub fn request_body(&self, request: &SearchRequest) -> Value {
        let mut tool = json!({ "type": "web_search" });
        if let Some(size) = request.search_context_size {
            tool["search_context_size"] = json!(size);
        }
        if !request.allowed_domains.is_empty() {
            tool["filters"] = json!({ "allowed_domains": request.allowed_domains });
        }
        let mut body = json!({
            "model": self.settings.model,
            "instructions": self.settings.instructions,
            "input": request.query,
            "tools": [tool],
        });
        if let Some(effort) = &self.settings.reasoning_effort {
            body["reasoning"] = json!({ "effort": effort });
        }
        body
    }

    /// Runs one search: retries 429/5xx/connection failures a bounded number
    /// of times (honouring `retry-after`), never a 401, 403 or other 4xx, nor
    /// an answer over `OPENAI_MAX_RESPONSE_BYTES`, all within `OPENAI_TIMEOUT_SECS`,
    /// waiting for the key from Secrets Manager included. With a key from
    /// Secrets Manager, a 401 makes it read the secret again and, if the key
    /// changed (rotated), retry once with the new one.
    /// Dropping the future aborts the upstream request.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchAnswer, UpstreamError> {
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        match &self.key {
            KeySource::Missing => Err(UpstreamError::MissingApiKey),
            KeySource::Direct(key) => self.attempt(key, "OPENAI_API_KEY", request, deadline).await,
            KeySource::Secret(secret) => self.search_with_secret(secret, request, deadline).await,
        }
    }

    async fn search_with_secret(
        &self,
        secret: &Arc<SecretKey>,
        request: &SearchRequest,
        deadline: tokio::time::Instant,
    ) -> Result<SearchAnswer, UpstreamError> {
        let unavailable = |error: SecretError| UpstreamError::SecretUnavailable {
            secret: secret.secret_id().to_owned(),
            code: error.code,
            message: error.message,
        };
        let timed_out = || UpstreamError::SecretTimeout {
            secret: secret.secret_id().to_owned(),
            waited: self.settings.timeout,
        };
        let current = tokio::time::timeout_at(deadline, secret.key())
            .await
            .map_err(|_| timed_out())?
            .map_err(unavailable)?;
        let check = format!(
            "the key in AWS Secrets Manager secret {} (OPENAI_API_KEY_SECRET_ARN)",
            secret.secret_id()
        );
        match self.attempt(&current.key, &check, request, deadline).await {
            Err(UpstreamError::Unauthorized { detail, check }) => {
                tracing::info!(
                    secret = %secret.secret_id(),
                    "OpenAI answered 401: reading the secret again"
                );
                let fresh = tokio::time::timeout_at(deadline, secret.reread(current.generation))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(unavailable)?;
                if fresh.key == current.key {
                    return Err(UpstreamError::Unauthorized {
                        detail,
                        check: format!("{check}, read again after the 401: it has not changed"),
                    });
                }
                self.attempt(&fresh.key, &check, request, deadline).await
            }
            other => other,
        }
    }

    /// One search with `key`, retries included, until `deadline`. `check`
    /// names the key's origin in a 401's message.
    async fn attempt(
        &self,
        key: &ApiKey,
        check: &str,
        request: &SearchRequest,
        deadline: tokio::time::Instant,
    ) -> Result<SearchAnswer, UpstreamError> {
        match tokio::time::timeout_at(deadline, self.search_with_retries(key, check, request)).await
        {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout(self.settings.timeout)),
        }
    }

    async fn search_with_retries(
        &self,
        key: &ApiKey,
        check: &str,
        request: &SearchRequest,
    ) -> Result<SearchAnswer, UpstreamError> {
        let url = format!("{}/responses", self.settings.base_url);
        let body = serde_json::to_vec(&self.request_body(request))
            .map_err(|e| UpstreamError::InvalidResponse(e.to_string()))?;
        let max_attempts = self.settings.max_retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let sent = self
                .http()
                .post(&url)
                .bearer_auth(key.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    let detail = error_chain(&error);
                    if attempt < max_attempts {
                        let wait = self.backoff(attempt, None);
                        tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, error = %detail, "OpenAI request failed, retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(UpstreamError::Transport {
                        attempts: attempt,
                        detail,
                    });
                }
            };
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            tracing::debug!(
                status,
                attempt,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "OpenAI answered"
            );
            if (200..=299).contains(&status) {
                let limit = self.settings.max_response_bytes;
                // Refused before reading a byte of it when announced too large.
                if let Some(announced) = response
                    .content_length()
                    .filter(|length| *length > limit as u64)
                {
                    return Err(UpstreamError::ResponseTooLarge {
                        limit,
                        announced: Some(announced),
                    });
                }
                match read_limited(response, limit).await {
                    BodyRead::Whole(bytes) => return parse_response(&bytes),
                    BodyRead::Over(_) => {
                        return Err(UpstreamError::ResponseTooLarge {
                            limit,
                            announced: None,
                        });
                    }
                    BodyRead::Failed { error, .. } => {
                        if attempt < max_attempts {
                            let wait = self.backoff(attempt, None);
                            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, error = %error, "OpenAI's answer broke off, retrying");
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                        return Err(UpstreamError::Transport {
                            attempts: attempt,
                            detail: error,
                        });
                    }
                }
            }
            // An error status is final once its status line is in: its body
            // only gives the message, so a body that breaks off or runs long
            // changes nothing but the detail (a 401 stays a 401).
            let detail = redact(
                error_body_detail(read_limited(response, MAX_ERROR_BODY).await),
                key,
            );
            match status {
                401 => {
                    return Err(UpstreamError::Unauthorized {
                        detail,
                        check: check.to_owned(),
                    });
                }
                403 => return Err(UpstreamError::Forbidden { detail }),
                429 | 500..=599 => {
                    if attempt < max_attempts {
                        let wait = self.backoff(attempt, retry_after);
                        tracing::warn!(
                            status,
                            attempt,
                            wait_ms = wait.as_millis() as u64,
                            "OpenAI asked to retry"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(if status == 429 {
                        UpstreamError::RateLimited {
                            attempts: attempt,
                            detail,
                        }
                    } else {
                        UpstreamError::Server {
                            status,
                            attempts: attempt,
                            detail,
                        }
                    });
                }
                _ => return Err(UpstreamError::Rejected { status, detail }),
            }
        }
    }

    /// `retry-after` when given, else exponential backoff from 500 ms; never
    /// longer than `OPENAI_MAX_RETRY_WAIT_SECS`.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let computed = Duration::from_millis(500u64.saturating_mul(1 << (attempt - 1).min(10)));
        retry_after
            .unwrap_or(computed)
            .min(self.settings.max_retry_wait)
    }
}

/// `retry-after-ms` (OpenAI's) or `retry-after` in seconds. HTTP dates are
/// ignored (backoff applies).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    number("retry-after").map(Duration::from_secs_f64)
}

pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `error.message` of an OpenAI error body, or the start of the body.
pub(crate) fn error_detail(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: ErrorObject,
    }
    #[derive(Deserialize)]
    struct ErrorObject {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<Value>,
    }
    if let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(bytes) {
        let message = error.message.unwrap_or_default();
        return match error.code {
            Some(Value::String(code)) if !code.is_empty() => format!("{message} ({code})"),
            _ if message.is_empty() => "no error message".into(),
            _ => message,
        };
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "empty response body".into();
    }
    truncate(text, 300)
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream_body::grow_within;

    #[test]
    fn parses_message_with_citations_and_ignores_unknown_items() {
        let body = json!({
            "id": "resp_1", "object": "response", "status": "completed",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "web_search_call", "id": "ws_1", "status": "completed",
                 "action": {"type": "search", "query": "rust"}},
                {"type": "some_future_item", "payload": 1},
                {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": "Rust 1.0 shipped in 2015 [1].",
                   "annotations": [
                     {"type": "url_citation", "start_index": 0, "end_index": 5,
                      "url": "https://blog.rust-lang.org/", "title": "Rust Blog"},
                     {"type": "url_citation", "start_index": 6, "end_index": 9,
                      "url": "https://blog.rust-lang.org/"},
                     {"type": "file_citation", "file_id": "f"},
                     {"type": "url_citation", "url": "https://en.wikipedia.org/wiki/Rust"}
                   ]},
                   {"type": "future_part"}]}
            ]
        });
        let answer = parse_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(answer.answer, "Rust 1.0 shipped in 2015 [1].");
        assert_eq!(
            answer.citations,
            vec![
                Citation {
                    url: "https://blog.rust-lang.org/".into(),
                    title: "Rust Blog".into()
                },
                Citation {
                    url: "https://en.wikipedia.org/wiki/Rust".into(),
                    title: String::new()
                },
            ]
        );
        let text = answer.to_text();
        assert!(text.contains("[1] Rust Blog - https://blog.rust-lang.org/"));
        assert!(text.contains(
            "[2] https://en.wikipedia.org/wiki/Rust - https://en.wikipedia.org/wiki/Rust"
        ));
    }

    #[test]
    fn missing_message_is_a_clear_error() {
        let body = json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
                          "output": [{"type": "reasoning", "summary": []}]});
        let err = parse_response(body.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, UpstreamError::NoMessage(_)));
        assert!(err.to_string().contains("max_output_tokens"), "{err}");
        assert!(matches!(
            parse_response(b"<html>"),
            Err(UpstreamError::InvalidResponse(_))
        ));
        let refusal = json!({"output": [{"type": "message", "content": [{"type": "refusal", "refusal": "no"}]}]});
        assert_eq!(
            parse_response(refusal.to_string().as_bytes()),
            Err(UpstreamError::Refusal("no".into()))
        );
    }

    #[test]
    fn error_details_and_retry_after() {
        assert_eq!(
            error_detail(br#"{"error":{"message":"Incorrect API key","code":"invalid_api_key"}}"#),
            "Incorrect API key (invalid_api_key)"
        );
        assert_eq!(error_detail(b"   "), "empty response body");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.clear();
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn error_bodies_that_break_off_or_echo_the_key() {
        let body = br#"{"error":{"message":"Incorrect API key","code":"invalid_api_key"}}"#;
        assert_eq!(
            error_body_detail(BodyRead::Whole(body.to_vec())),
            "Incorrect API key (invalid_api_key)"
        );
        let cut = error_body_detail(BodyRead::Failed {
            prefix: body[..20].to_vec(),
            error: "unexpected EOF".into(),
        });
        assert_eq!(
            cut,
            r#"{"error":{"message": (the response body broke off: unexpected EOF)"#
        );
        assert_eq!(
            error_body_detail(BodyRead::Failed {
                prefix: b" \n".to_vec(),
                error: "reset".into()
            }),
            "the response body broke off (reset)"
        );
        let key = ApiKey::new("sk-live-123");
        assert_eq!(
            redact("bad key sk-live-123, really sk-live-123".into(), &key),
            "bad key [the API key, redacted], really [the API key, redacted]"
        );
        assert_eq!(redact("sk-live-12".into(), &key), "sk-live-12");
        assert_eq!(redact("text".into(), &ApiKey::new("")), "text");
    }

    #[test]
    fn body_buffer_grows_by_doubling_but_never_past_the_limit() {
        let mut body = Vec::new();
        grow_within(&mut body, 10, 100);
        assert!(body.capacity() >= 10 && body.capacity() <= 100);
        body.extend_from_slice(&[0; 10]);
        grow_within(&mut body, 50, 100);
        body.extend_from_slice(&[0; 50]);
        grow_within(&mut body, 40, 100);
        assert!(body.capacity() >= 100, "{}", body.capacity());
        body.extend_from_slice(&[0; 40]);
        assert_eq!(body.len(), 100);
        let too_large = UpstreamError::ResponseTooLarge {
            limit: 65536,
            announced: Some(1 << 20),
        };
        assert_eq!(too_large.kind(), "response_too_large");
        let text = too_large.to_string();
        assert!(
            text.contains("larger than 65536 bytes, the cap set by OPENAI_MAX_RESPONSE_BYTES (its Content-Length is 1048576 bytes)"),
            "{text}"
        );
    }

    #[test]
    fn request_body_carries_the_tool_options() {
        let settings = crate::config::Settings::from_lookup(|_| None)
            .unwrap()
            .openai;
        let client = OpenAi::new(settings);
        let body = client.request_body(&SearchRequest {
            query: "q".into(),
            search_context_size: Some(SearchContextSize::High),
            allowed_domains: vec!["example.com".into()],
        });
        assert_eq!(body["model"], "o3");
        assert_eq!(body["input"], "q");
        assert_eq!(body["reasoning"]["effort"], "low");
        assert_eq!(body["tools"][0]["type"], "web_search");
        assert_eq!(body["tools"][0]["search_context_size"], "high");
        assert_eq!(
            body["tools"][0]["filters"]["allowed_domains"][0],
            "example.com"
        );
    }
}
