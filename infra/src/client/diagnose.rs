//! What went wrong connecting to an MCP server, in a user's words: rmcp's errors name its
//! internal types, so the failing request is sent again as a plain `initialize` POST and what
//! the server did is said (not reachable, an HTTP status with AgentCore's message and a hint,
//! an answer that is not MCP); rmcp's own error, put in words, tells the rest.

use std::time::Duration;

use rmcp::ServiceError;
use rmcp::service::ClientInitializeError;
use rmcp::transport::DynamicTransportError;
use rmcp::transport::streamable_http_client::StreamableHttpError;
use serde_json::Value;

use super::mcp::{Failure, Target};
use crate::engine::error_chain;
use crate::stack::validate::clip;

/// What went wrong, for a user: rmcp's error says it from inside the client (with its type
/// names), so ask again with a plain `initialize` POST and say what the server did: not
/// reachable, an HTTP status (with AgentCore's message and a hint), an answer that is not MCP.
/// Only when that answer looks right does rmcp's error, put in words, tell the rest.
pub(super) async fn diagnose(target: &Target, client_error: String) -> Failure {
    let url = &target.url;
    let mut request = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(30))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            serde_json::json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "infra", "version": env!("CARGO_PKG_VERSION")}}
            })
            .to_string(),
        );
    if let Some(token) = &target.token {
        request = request.bearer_auth(token.expose());
    }
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let context = target
        .context
        .as_deref()
        .map(|c| format!("\n{c}"))
        .unwrap_or_default();
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            return Failure {
                message: format!("cannot reach {url}: {}{context}", no_answer(&e)),
            };
        }
    };
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Failure {
            message: format!(
                "HTTP {status} from {url}: {}\n{}{context}",
                server_message(&content_type, &body),
                hint(status.as_u16(), is_agentcore(url))
            ),
        };
    }
    let not_mcp = |what: String| Failure {
        message: format!(
            "{url} is not an MCP endpoint: it answered `initialize` with HTTP {status} and \
             {what}{context}"
        ),
    };
    let json = if content_type.starts_with("text/event-stream") {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .find_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
    } else if content_type.starts_with("application/json") {
        match serde_json::from_str::<Value>(&body) {
            Ok(value) => Some(value),
            Err(_) => {
                return not_mcp(format!("a body that is not JSON: {}", one_line(&body, 120)));
            }
        }
    } else {
        let shown = if content_type.is_empty() {
            "no content type".to_owned()
        } else {
            format!("content type {content_type}")
        };
        return not_mcp(format!(
            "{shown}, where an MCP server answers with application/json or text/event-stream"
        ));
    };
    match json {
        Some(value) if value.get("jsonrpc").is_none() => not_mcp(format!(
            "JSON that is not JSON-RPC: {}",
            one_line(&value.to_string(), 120)
        )),
        Some(value) if value.get("error").is_some() => Failure {
            message: format!(
                "{url} refused `initialize`: {}{context}",
                value["error"]["message"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| one_line(&value["error"].to_string(), 200))
            ),
        },
        _ => Failure {
            message: format!("{url}: {client_error}{context}"),
        },
    }
}

/// Why a request got no answer, in words: refused, timed out, or the deepest cause (no such
/// host, a TLS failure) without reqwest's and hyper's wrappers.
fn no_answer(e: &reqwest::Error) -> String {
    let mut deepest = None;
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return "connection refused (nothing listens there: is the server running, and on \
                    this port?)"
                .to_owned();
        }
        deepest = Some(cause);
        next = cause.source();
    }
    if e.is_timeout() {
        return "no answer in time".to_owned();
    }
    deepest.map_or_else(|| e.to_string(), ToString::to_string)
}

/// The server's own message from an error body: `message` of a JSON body (AgentCore's), the
/// title of an HTML page, else the text on one line.
fn server_message(content_type: &str, body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body)
        && let Some(message) = ["message", "Message"]
            .iter()
            .find_map(|k| value.get(k).and_then(Value::as_str))
    {
        return one_line(message, 300);
    }
    if content_type.contains("html") {
        let lower = body.to_ascii_lowercase();
        return match (lower.find("<title>"), lower.find("</title>")) {
            (Some(start), Some(end)) if start + 7 <= end => {
                format!(
                    "an HTML page titled {:?}",
                    one_line(&body[start + 7..end], 100)
                )
            }
            _ => "an HTML page".to_owned(),
        };
    }
    if body.trim().is_empty() {
        return "(empty body)".to_owned();
    }
    one_line(body, 300)
}

/// `text` with its whitespace runs as single spaces, clipped to `width` characters.
fn one_line(text: &str, width: usize) -> String {
    clip(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        width,
    )
}

/// A runtime's URL on the AgentCore data plane (`.../runtimes/<ARN>/invocations`).
fn is_agentcore(url: &str) -> bool {
    url.contains("/runtimes/") && url.contains("/invocations")
}

fn hint(status: u16, agentcore: bool) -> &'static str {
    match (status, agentcore) {
        (401, true) => {
            "hint: the runtime's JWT authorizer refused the token. It needs an unexpired Cognito \
             ACCESS token (not an ID token) issued by the pool its discovery URL names, whose \
             client_id is one of its allowed clients (the stack's app client); `infra token` \
             gets a fresh one."
        }
        (403, true) => {
            "hint: the request is not allowed. A runtime with a JWT authorizer refuses SigV4-signed \
             requests and one without refuses bearer tokens (\"Authorization method mismatch\")."
        }
        (404, true) => {
            "hint: no runtime or endpoint at this URL: check the ARN (`infra output`) and the \
             region, and that `infra apply` finished."
        }
        (424, true) => {
            "hint: the runtime's container did not start or answer: check its image, its role's \
             ECR permissions and its logs."
        }
        (429, _) => "hint: throttled; try again in a moment.",
        (_, true) => "hint: see the runtime's status (`infra output`) and its logs.",
        (401, false) => {
            "hint: the server wants credentials: pass --token TOKEN or --header 'NAME: VALUE'."
        }
        (403, false) => "hint: the server refused the credentials sent.",
        (404 | 405, false) => {
            "hint: nothing answers MCP at this URL: check its path (MCP servers commonly answer \
             at /mcp)."
        }
        (_, false) => "hint: see the server's logs.",
    }
}

/// rmcp's `initialize` error in words, without its type names or `Debug` dumps.
pub(super) fn initialize_error(e: &ClientInitializeError) -> String {
    match e {
        ClientInitializeError::TransportError { error, .. } => transport_error(error),
        ClientInitializeError::JsonRpcError(data) => {
            format!("the server refused `initialize`: {}", data.message)
        }
        ClientInitializeError::ConnectionClosed(_) => {
            "the server closed the connection during `initialize`".to_owned()
        }
        ClientInitializeError::ExpectedInitResponse(_)
        | ClientInitializeError::ExpectedInitResult(_)
        | ClientInitializeError::ConflictInitResponseId(..)
        | ClientInitializeError::UncorrelatedErrorResponse { .. } => {
            "the server did not answer `initialize` with an initialize result".to_owned()
        }
        ClientInitializeError::NoCompatibleProtocolVersion {
            server_supported, ..
        } => format!(
            "no MCP protocol version in common (the server speaks {})",
            server_supported
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ClientInitializeError::LegacyFallbackFailed { fallback, .. } => initialize_error(fallback),
        ClientInitializeError::Cancelled => "cancelled".to_owned(),
        other => without_type_names(&other.to_string()),
    }
}

/// rmcp's error of a request after `initialize`, in words.
pub(super) fn service_error(e: &ServiceError) -> String {
    match e {
        ServiceError::McpError(data) => {
            format!("the server answered with an error: {}", data.message)
        }
        ServiceError::TransportSend(error) => transport_error(error),
        ServiceError::TransportClosed => "the connection to the server closed".to_owned(),
        ServiceError::UnexpectedResponse => {
            "the server answered with another kind of result".to_owned()
        }
        other => without_type_names(&other.to_string()),
    }
}

/// The HTTP transport's error in words (the transport's own name left out).
fn transport_error(e: &DynamicTransportError) -> String {
    type HttpError = StreamableHttpError<reqwest::Error>;
    let Some(http) = e.error.downcast_ref::<HttpError>() else {
        return without_type_names(&error_chain(e.error.as_ref()));
    };
    match http {
        HttpError::Client(e) => match e.status() {
            Some(status) => format!("HTTP {status}"),
            None => no_answer(e),
        },
        HttpError::HttpStatus(status) => format!("HTTP {}", status.status),
        HttpError::UnexpectedContentType(Some(t)) => {
            format!("the server answered with content type {t}, not JSON or an event stream")
        }
        HttpError::UnexpectedContentType(None) => {
            "the server answered without a content type".to_owned()
        }
        HttpError::Deserialize(e) => format!("the server's answer is not JSON-RPC ({e})"),
        HttpError::UnexpectedServerResponse(text) => {
            format!("unexpected answer: {}", one_line(text, 200))
        }
        HttpError::Sse(e) => format!("the event stream broke: {e}"),
        HttpError::Io(e) => e.to_string(),
        other => without_type_names(&other.to_string()),
    }
}

/// The rare message not put in words above, with any `path::to::Type<...>` cut out.
fn without_type_names(text: &str) -> String {
    text.split_whitespace()
        .filter(|word| !word.contains("::"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::transport::StreamableHttpClientTransport;

    /// rmcp's errors as the client meets them, in words: what rmcp's own `Display` shows
    /// (`Transport [rmcp::transport::worker::WorkerTransport<...>] error: ...`, `Some(...)`) is
    /// not shown.
    #[test]
    fn rmcp_errors_are_put_in_words_without_type_names() {
        use rmcp::model::{ErrorCode, ErrorData};
        let transport = |error: StreamableHttpError<reqwest::Error>| {
            DynamicTransportError::from_parts(
                std::any::type_name::<StreamableHttpClientTransport<reqwest::Client>>(),
                std::any::TypeId::of::<StreamableHttpClientTransport<reqwest::Client>>(),
                Box::new(error),
            )
        };
        let initialize = [
            (
                ClientInitializeError::TransportError {
                    error: transport(StreamableHttpError::UnexpectedContentType(Some(
                        "text/html".into(),
                    ))),
                    context: "send initialize request".into(),
                },
                "the server answered with content type text/html, not JSON or an event stream",
            ),
            (
                ClientInitializeError::ExpectedInitResponse(None),
                "the server did not answer `initialize` with an initialize result",
            ),
            (
                ClientInitializeError::JsonRpcError(ErrorData::new(
                    ErrorCode::INVALID_REQUEST,
                    "unsupported protocol version",
                    None,
                )),
                "the server refused `initialize`: unsupported protocol version",
            ),
        ];
        // What rmcp's own text would have shown.
        assert!(initialize[0].0.to_string().contains("Transport [rmcp::"));
        assert!(initialize[1].0.to_string().contains("None"));
        for (error, words) in &initialize {
            assert_eq!(initialize_error(error), *words);
        }
        let closed = ServiceError::TransportSend(transport(StreamableHttpError::Io(
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "broken pipe"),
        )));
        assert!(closed.to_string().contains("::"), "{closed}");
        assert_eq!(service_error(&closed), "broken pipe");
        assert_eq!(
            service_error(&ServiceError::McpError(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                "tools/list is not supported",
                None
            ))),
            "the server answered with an error: tools/list is not supported"
        );
    }
}
