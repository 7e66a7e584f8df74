//! An MCP client of the deployed runtime (rmcp, the SDK the server is built on): connect with a
//! bearer token, list the tools, call one. Failures say what a user can do about them: the HTTP
//! status and AgentCore's own message, with a hint for the usual causes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification,
    CancelledNotificationParam, ClientCapabilities, ClientConfig, ClientRequest, Implementation,
    ServerResult, Tool,
};
use rmcp::service::{PeerRequestOptions, RoleClient, RunningService, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Map, Value};

use super::diagnose::{diagnose, initialize_error, service_error};
use crate::sensitive::Sensitive;

/// Where to connect, and with what.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<Sensitive<String>>,
    /// Further headers (`--header NAME:VALUE`).
    pub headers: Vec<(String, String)>,
    /// What is known about the runtime behind the URL (its status), shown with a failure.
    pub context: Option<String>,
}

/// A failure a user can act on.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A connected client.
pub struct Session {
    service: RunningService<RoleClient, ClientConfig>,
    target: Target,
}

/// How long connecting and `initialize` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

impl Session {
    /// Connect and initialize.
    pub async fn connect(target: &Target) -> Result<Session, Failure> {
        let mut headers = HashMap::new();
        for (name, value) in &target.headers {
            let name = HeaderName::try_from(name.as_str()).map_err(|e| Failure {
                message: format!("--header {name:?}: {e}"),
            })?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|e| Failure {
                message: format!("--header {name}: {e}"),
            })?;
            headers.insert(name, value);
        }
        let mut config = StreamableHttpClientTransportConfig::with_uri(target.url.as_str())
            .custom_headers(headers);
        if let Some(token) = &target.token {
            config = config.auth_header(token.expose().clone());
        }
        let transport = StreamableHttpClientTransport::from_config(config);
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("infra", env!("CARGO_PKG_VERSION")),
        );
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, info.serve(transport)).await;
        match connected {
            Ok(Ok(service)) => Ok(Session {
                service,
                target: target.clone(),
            }),
            Ok(Err(e)) => Err(diagnose(target, initialize_error(&e)).await),
            Err(_) => Err(Failure {
                message: format!(
                    "{} did not complete `initialize` within {}s",
                    target.url,
                    CONNECT_TIMEOUT.as_secs()
                ),
            }),
        }
    }

    /// The server's name and version, as it introduced itself.
    pub fn server(&self) -> String {
        self.service
            .peer_info()
            .and_then(|i| {
                i.server_info
                    .as_ref()
                    .map(|s| format!("{} {}", s.name, s.version))
            })
            .unwrap_or_else(|| "(unnamed server)".to_owned())
    }

    pub async fn tools(&self) -> Result<Vec<Tool>, Failure> {
        match self.service.list_all_tools().await {
            Ok(tools) => Ok(tools),
            Err(e) => Err(diagnose(&self.target, service_error(&e)).await),
        }
    }

    /// Call `name`; Ctrl-C sends `notifications/cancelled` and ends the call.
    pub async fn call(&self, params: CallToolRequestParams) -> Result<Called, Failure> {
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = match self
            .service
            .send_cancellable_request(request, PeerRequestOptions::no_options())
            .await
        {
            Ok(handle) => handle,
            Err(e) => return Err(diagnose(&self.target, service_error(&e)).await),
        };
        let (id, peer) = (handle.id.clone(), handle.peer.clone());
        tokio::select! {
            response = handle.await_response() => match response {
                Ok(ServerResult::CallToolResult(result)) => Ok(Called::Done(result)),
                Ok(_) => Err(Failure {
                    message: format!(
                        "{}: the server answered tools/call with something other than a tool \
                         result",
                        self.target.url
                    ),
                }),
                Err(e) => Err(diagnose(&self.target, service_error(&e)).await),
            },
            _ = tokio::signal::ctrl_c() => {
                let notification = CancelledNotification::new(CancelledNotificationParam::new(
                    Some(id),
                    Some("cancelled by the user (Ctrl-C)".to_owned()),
                ));
                let sent = tokio::time::timeout(
                    Duration::from_secs(5),
                    peer.send_notification(notification.into()),
                )
                .await;
                Ok(Called::Cancelled { notified: matches!(sent, Ok(Ok(()))) })
            }
        }
    }

    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// How a call ended.
pub enum Called {
    Done(CallToolResult),
    Cancelled { notified: bool },
}

/// `initialize` then `tools/list`, timed: what a client does first.
pub struct Checked {
    pub server: String,
    pub tools: Vec<Tool>,
    pub elapsed: Duration,
}

pub async fn check(target: &Target) -> Result<Checked, Failure> {
    let started = Instant::now();
    let session = Session::connect(target).await?;
    let tools = session.tools().await;
    let elapsed = started.elapsed();
    let server = session.server();
    session.close().await;
    Ok(Checked {
        server,
        tools: tools?,
        elapsed,
    })
}

/// `name(param: type, ...)` and the first line of the description, one tool per entry.
pub fn describe(tool: &Tool) -> String {
    let schema = &tool.input_schema;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let params: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| {
                    let kind = type_of(p);
                    let optional = if required.contains(&name.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    format!("{name}{optional}: {kind}")
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    // By name, whatever order serde_json's `Map` keeps.
    let mut params = params;
    params.sort_unstable();
    let description = tool
        .description
        .as_deref()
        .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim();
    format!("{}({})  {description}", tool.name, params.join(", "))
}

/// A parameter's type as a reader wants it: `string`, `array|string`, an enum's values, with
/// `null` (what makes a parameter optional in JSON Schema) left out.
fn type_of(schema: &Value) -> String {
    let non_null = |t: &&str| *t != "null";
    if let Some(t) = schema.get("type") {
        let names: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many
                .iter()
                .filter_map(Value::as_str)
                .filter(non_null)
                .collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !is_string_enum(schema) {
            return names.join("|");
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let shown: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.to_string())
            .collect();
        return shown.join("|");
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let shown: Vec<String> = variants
                .iter()
                .map(type_of)
                .filter(|t| t != "null" && t != "any")
                .collect();
            if !shown.is_empty() {
                return shown.join("|");
            }
        }
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    "any".to_owned()
}

/// An enum of strings (with or without `null`): its values are passed as text.
fn is_string_enum(schema: &Value) -> bool {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|v| v.iter().all(|x| x.is_string() || x.is_null()))
        || ["anyOf", "oneOf"].iter().any(|k| {
            schema.get(*k).and_then(Value::as_array).is_some_and(|v| {
                v.iter()
                    .all(|x| is_string_enum(x) || x.get("type") == Some(&Value::from("null")))
            })
        })
}

/// `key=value` arguments, typed by the tool's input schema: a string parameter takes the text
/// as it is; any other parameter takes it as JSON (`count=3`, `flag=true`, `list=[1,2]`).
pub fn arguments(tool: &Tool, pairs: &[String]) -> Result<Map<String, Value>, String> {
    let props = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut args = Map::new();
    for pair in pairs {
        let Some((key, text)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not key=value"));
        };
        let Some(prop) = props.get(key) else {
            let mut known: Vec<&str> = props.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(format!(
                "{} has no parameter {key:?} (parameters: {})",
                tool.name,
                known.join(", ")
            ));
        };
        let value = if type_of(prop) == "string" || is_string_enum(prop) {
            Value::String(text.to_owned())
        } else {
            serde_json::from_str(text).map_err(|e| format!("{key}: {text:?} is not JSON ({e})"))?
        };
        args.insert(key.to_owned(), value);
    }
    Ok(args)
}

/// The text blocks of a result, joined by blank lines.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn tool() -> Tool {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "max_results": {"type": "integer"},
                "domains": {"type": ["array", "null"], "items": {"type": "string"}},
                "size": {"anyOf": [{"$ref": "#/$defs/Size"}, {"type": "null"}]},
                "effort": {"type": ["string", "null"], "enum": ["low", "high", null]}
            },
            "required": ["query"]
        });
        Tool::new(
            "web_search",
            "Search the web.\nMore.",
            Arc::new(schema.as_object().unwrap().clone()),
        )
    }

    #[test]
    fn a_tool_is_described_by_its_parameters_and_first_line() {
        assert_eq!(
            describe(&tool()),
            "web_search(domains?: array, effort?: \"low\"|\"high\", max_results?: integer, \
             query: string, size?: Size)  Search the web."
        );
    }

    #[test]
    fn arguments_take_their_type_from_the_schema() {
        let args = arguments(&tool(), &["query=42".into(), "max_results=3".into()]).unwrap();
        assert_eq!(args["query"], Value::String("42".into()));
        assert_eq!(args["max_results"], Value::from(3));
        let args = arguments(
            &tool(),
            &["effort=low".into(), "domains=[\"a.org\"]".into()],
        )
        .unwrap();
        assert_eq!(args["effort"], Value::String("low".into()));
        assert_eq!(args["domains"], serde_json::json!(["a.org"]));
        let unknown = arguments(&tool(), &["q=x".into()]).unwrap_err();
        assert!(
            unknown.contains("parameters: domains, effort, max_results, query, size"),
            "{unknown}"
        );
        assert!(arguments(&tool(), &["query".into()]).is_err());
        assert!(arguments(&tool(), &["max_results=many".into()]).is_err());
    }
}
