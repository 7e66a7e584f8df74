//! The HTTP surface: `POST /mcp` (rmcp's Streamable HTTP service, stateless,
//! SSE responses; `/mcp/` is the same endpoint) and `GET /ping`, plus the
//! wire hygiene around `/mcp`: body limit and read deadline (408), JSON-RPC
//! error bodies, cross-request cancellation and the escaping of
//! U+0085/U+2028/U+2029.
//!
//! Each POST body's JSON-RPC method is parsed once, here (`MessageKind`),
//! and decides how the request is served; other bytes in the body (a search
//! query may well mention `tools/call`) do not.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::{Stream, StreamExt};
use rmcp::{
    model::{CancelledNotificationParam, ErrorCode},
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
    },
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{
    cancel::session_of,
    config::Settings,
    limits,
    tools::{AppState, WebSearchServer},
};

/// The rmcp transport configuration for AgentCore: stateless (no session
/// handshake, so the platform's `Mcp-Session-Id` never yields 404), SSE
/// responses with keep-alive, and the `Host` allow-list from `ALLOWED_HOSTS`
/// (empty: any host).
pub fn mcp_config(settings: &Settings, cancel: CancellationToken) -> StreamableHttpServerConfig {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(false)
        .with_sse_keep_alive(Some(settings.sse_keep_alive))
        .with_sse_retry(None)
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(cancel);
    if settings.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(settings.allowed_hosts.iter().cloned())
    }
}

#[derive(Clone)]
struct McpLayerState {
    app: Arc<AppState>,
    max_body_bytes: usize,
    keep_alive: Duration,
}

/// The MCP endpoint's paths. AgentCore's troubleshooting guide writes the
/// path with a trailing slash, so both serve the same endpoint, with the same
/// layer (no redirect: a 3xx would turn a POST into a GET for some clients).
pub const MCP_PATHS: [&str; 2] = ["/mcp", "/mcp/"];

/// The whole application router. `cancel` stops rmcp's streams; cancel it
/// only after axum has drained in-flight requests.
pub fn router(settings: &Settings, state: Arc<AppState>, cancel: CancellationToken) -> Router {
    let handler = WebSearchServer::new(state.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        mcp_config(settings, cancel),
    );
    let layer_state = McpLayerState {
        app: state.clone(),
        max_body_bytes: settings.max_body_bytes,
        keep_alive: settings.sse_keep_alive,
    };
    MCP_PATHS
        .into_iter()
        .fold(Router::new(), |router, path| {
            router.route_service(path, mcp.clone())
        })
        .layer(middleware::from_fn_with_state(layer_state, mcp_layer))
        .route("/ping", get(ping).with_state(state))
        .layer(middleware::from_fn_with_state(
            settings.body_read_timeout,
            limits::body_deadline,
        ))
}

/// AgentCore's health check: `HealthyBusy` while a tool call runs, so the
/// session is not reclaimed mid-search, else `Healthy`;
/// `time_of_last_update` is the Unix second of the last status change.
async fn ping(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.activity.ping_body())
}

fn jsonrpc_error(status: StatusCode, id: Value, code: ErrorCode, message: &str) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code.0, "message": message },
    });
    (status, Json(body)).into_response()
}

async fn mcp_layer(State(state): State<McpLayerState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method == Method::DELETE {
        // Stateless: there is no session to terminate (the spec allows 405).
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("POST"))],
            Json(
                json!({"jsonrpc": "2.0", "id": null, "error": {"code": ErrorCode::INVALID_REQUEST.0,
                "message": "this server is stateless: there is no session to delete"}}),
            ),
        )
            .into_response();
    }
    let mut body_copy = None;
    let mut kind = MessageKind::Other;
    let request = if method == Method::POST {
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(error) if limits::is_body_timeout(&error) => {
                // The rest of the body is not read: the connection closes.
                let mut response = jsonrpc_error(
                    StatusCode::REQUEST_TIMEOUT,
                    Value::Null,
                    ErrorCode::INVALID_REQUEST,
                    &error.to_string(),
                );
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
            Err(_) => {
                return jsonrpc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Value::Null,
                    ErrorCode::INVALID_REQUEST,
                    &format!(
                        "request body exceeds {} bytes (MAX_BODY_BYTES)",
                        state.max_body_bytes
                    ),
                );
            }
        };
        kind = MessageKind::of(&bytes);
        if kind == MessageKind::Cancellation {
            cancel_named_call(&state.app, session_of(&parts.headers), &bytes);
        }
        body_copy = Some(bytes.clone());
        Request::from_parts(parts, Body::from(bytes))
    } else {
        request
    };

    let inner = async move {
        let response = next.run(request).await;
        if response.status().is_client_error() || response.status().is_server_error() {
            as_jsonrpc_error(response, body_copy.as_deref()).await
        } else {
            response
        }
    };
    let response = if kind == MessageKind::ToolCall {
        early_sse(Box::pin(inner), state.keep_alive).await
    } else {
        inner.await
    };
    escape_response(response)
}

/// What [`mcp_layer`] does with a POST, decided by the JSON-RPC method of its
/// body alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageKind {
    /// `tools/call`: may run for minutes, so its SSE stream starts early
    /// ([`early_sse`]).
    ToolCall,
    /// `notifications/cancelled`: may name a call running on another POST.
    Cancellation,
    /// Any other method, or a body that is not one JSON-RPC message object
    /// (rmcp takes one message per POST, no batches, and rejects the rest).
    Other,
}

impl MessageKind {
    /// Parses only the top-level `method` of `body`: the other members are
    /// checked for well-formedness and skipped, not built.
    fn of(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            method: Option<String>,
        }
        // A derived struct also deserializes from a JSON array, taking
        // `["tools/call"]` for that method; only an object is a message.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Self::Other;
        }
        let Ok(Envelope {
            method: Some(method),
        }) = serde_json::from_slice(body)
        else {
            return Self::Other;
        };
        match method.as_str() {
            "tools/call" => Self::ToolCall,
            "notifications/cancelled" => Self::Cancellation,
            _ => Self::Other,
        }
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// Guarantees a tool call's SSE stream starts within `min(keep_alive, 1 s)`.
///
/// rmcp answers requests negotiated per request (protocol 2026-07-28) only
/// once the handler emits its first message, because the HTTP status must be
/// known first; a minute-long search would then send no byte at all and trip
/// the client's read timeout. If the inner response is not ready in time,
/// this sends `200 text/event-stream` headers and keep-alive comments until
/// it is, then forwards its SSE events (a JSON body becomes one `data:` event).
/// Validation errors come back in microseconds, so they keep their status.
async fn early_sse(mut inner: ResponseFuture, keep_alive: Duration) -> Response {
    let wait = keep_alive.min(Duration::from_secs(1));
    tokio::select! {
        biased;
        response = &mut inner => return response,
        () = tokio::time::sleep(wait) => {}
    }
    enum Phase {
        Waiting(ResponseFuture, tokio::time::Interval),
        Forwarding(axum::body::BodyDataStream),
        Done,
    }
    let ticker = tokio::time::interval(keep_alive);
    let stream = futures::stream::unfold(Phase::Waiting(inner, ticker), |phase| async move {
        match phase {
            Phase::Waiting(mut inner, mut ticker) => tokio::select! {
                response = &mut inner => {
                    let is_sse = response
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
                    if is_sse {
                        let body = response.into_body().into_data_stream();
                        Some((Ok(Bytes::new()), Phase::Forwarding(body)))
                    } else {
                        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                            .await
                            .unwrap_or_default();
                        let mut event = b"data: ".to_vec();
                        event.extend(bytes.iter().filter(|b| **b != b'\n' && **b != b'\r'));
                        event.extend_from_slice(b"\n\n");
                        Some((Ok(Bytes::from(event)), Phase::Done))
                    }
                }
                _ = ticker.tick() => {
                    Some((Ok(Bytes::from_static(b": keep-alive\n\n")), Phase::Waiting(inner, ticker)))
                }
            },
            Phase::Forwarding(mut body) => {
                let item = body.next().await?;
                Some((item, Phase::Forwarding(body)))
            }
            Phase::Done => None,
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(stream))
        .expect("valid response")
}

/// Handles a `notifications/cancelled` ([`MessageKind::Cancellation`]) for a
/// call running on another request.
fn cancel_named_call(state: &AppState, session: Option<String>, body: &[u8]) {
    #[derive(Deserialize)]
    struct Notification {
        params: CancelledNotificationParam,
    }
    let Ok(notification) = serde_json::from_slice::<Notification>(body) else {
        return;
    };
    let Some(id) = notification.params.request_id else {
        return;
    };
    let cancelled = state.in_flight.cancel(session, &id);
    tracing::info!(request_id = %id, cancelled, reason = notification.params.reason.as_deref().unwrap_or(""), "cancellation requested");
}

/// Gives rmcp's plain-text error responses a JSON-RPC error body, and turns an
/// undecodable body into 400 Parse error / Invalid Request instead of 415.
async fn as_jsonrpc_error(response: Response, request_body: Option<&[u8]>) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_owned(),
    };
    let mut code = ErrorCode::INVALID_REQUEST;
    let mut message = text;
    if parts.status == StatusCode::UNSUPPORTED_MEDIA_TYPE
        && message.starts_with("fail to deserialize request body")
    {
        parts.status = StatusCode::BAD_REQUEST;
        match request_body.map(serde_json::from_slice::<Value>) {
            Some(Ok(_)) => {
                message = format!(
                    "Invalid Request: not a JSON-RPC 2.0 message this server accepts ({message})"
                );
            }
            _ => {
                code = ErrorCode::PARSE_ERROR;
                message = format!("Parse error: the body is not valid JSON ({message})");
            }
        }
    } else if parts.status.is_server_error() {
        code = ErrorCode::INTERNAL_ERROR;
    }
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code.0, "message": message },
    });
    let bytes = serde_json::to_vec(&body).expect("JSON value serializes");
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// Escapes U+0085, U+2028 and U+2029 in the response body as `\u0085`,
/// `\u2028`, `\u2029`. In JSON they can only occur inside strings, where the
/// escape is equivalent; raw, they break clients that split lines on them
/// (Python's `str.splitlines`, JavaScript line terminators).
pub fn escape_response(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let stream = escape_stream(body.into_data_stream());
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Carries an incomplete UTF-8 sequence across chunk boundaries.
fn escape_stream<S>(stream: S) -> impl Stream<Item = Result<Bytes, axum::Error>> + Send
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Send + 'static,
{
    futures::stream::unfold(
        (Box::pin(stream), Vec::<u8>::new(), false),
        |(mut stream, mut carry, done)| async move {
            if done {
                return None;
            }
            match stream.next().await {
                Some(Ok(chunk)) => {
                    let out = escape_chunk(&mut carry, chunk);
                    Some((Ok(out), (stream, carry, false)))
                }
                Some(Err(error)) => Some((Err(error), (stream, carry, true))),
                None if carry.is_empty() => None,
                None => {
                    let rest = Bytes::from(std::mem::take(&mut carry));
                    Some((Ok(rest), (stream, carry, true)))
                }
            }
        },
    )
}

/// Escapes one chunk. `carry` holds a trailing prefix of a sequence that may
/// complete in the next chunk.
pub fn escape_chunk(carry: &mut Vec<u8>, chunk: Bytes) -> Bytes {
    if carry.is_empty() && !chunk.iter().any(|&b| b == 0xC2 || b == 0xE2) {
        return chunk;
    }
    let mut input = std::mem::take(carry);
    input.extend_from_slice(&chunk);
    let mut out = Vec::with_capacity(input.len() + 16);
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        match rest {
            [0xC2, 0x85, ..] => {
                out.extend_from_slice(br"\u0085");
                i += 2;
            }
            [0xE2, 0x80, 0xA8, ..] => {
                out.extend_from_slice(br"\u2028");
                i += 3;
            }
            [0xE2, 0x80, 0xA9, ..] => {
                out.extend_from_slice(br"\u2029");
                i += 3;
            }
            [0xC2] | [0xE2] | [0xE2, 0x80] => {
                carry.extend_from_slice(rest);
                break;
            }
            _ => {
                out.push(rest[0]);
                i += 1;
            }
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape_all(chunks: &[&[u8]]) -> Vec<u8> {
        let mut carry = Vec::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&escape_chunk(&mut carry, Bytes::copy_from_slice(chunk)));
        }
        out.extend_from_slice(&carry);
        out
    }

    #[test]
    fn message_kind_comes_from_the_method_not_the_bytes() {
        let kind = |body: &str| MessageKind::of(body.as_bytes());
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"what is notifications/cancelled"}}}"#;
        assert_eq!(kind(call), MessageKind::ToolCall);
        assert_eq!(
            kind(r#" {"params":{},"method":"tools\/call","id":1}"#),
            MessageKind::ToolCall,
            "leading space, method not first, escaped slash"
        );
        assert_eq!(
            kind(
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#
            ),
            MessageKind::Cancellation
        );
        for other in [
            r#"{"jsonrpc":"2.0","id":"tools/call","method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"method":"tools/call"}}"#,
            r#"{"jsonrpc":"2.0","id":"tools/call","result":{}}"#,
            r#"["tools/call"]"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call""#,
            r#"{"method":"tools/call","method":"tools/call"}"#,
            "tools/call",
            "",
        ] {
            assert_eq!(kind(other), MessageKind::Other, "{other}");
        }
    }

    #[test]
    fn escapes_line_separators() {
        let text = "a\u{85}b\u{2028}c\u{2029}d é €";
        let json = serde_json::to_string(&json!({ "t": text })).unwrap();
        assert!(json.contains('\u{85}'), "serde_json leaves it raw");
        let escaped = escape_all(&[json.as_bytes()]);
        let escaped = String::from_utf8(escaped).unwrap();
        assert_eq!(escaped, r#"{"t":"a\u0085b\u2028c\u2029d é €"}"#);
        let back: Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["t"], text);
    }

    #[test]
    fn escapes_across_chunk_boundaries() {
        let bytes = "x\u{85}y\u{2029}z".as_bytes();
        for split in 0..bytes.len() {
            for split2 in split..bytes.len() {
                let out = escape_all(&[&bytes[..split], &bytes[split..split2], &bytes[split2..]]);
                assert_eq!(out, br"x\u0085y\u2029z", "splits {split} {split2}");
            }
        }
        // An incomplete trailing prefix is passed through unchanged.
        assert_eq!(escape_all(&[b"ab\xE2\x80"]), b"ab\xE2\x80");
    }
}
