//! What the check proves beyond `initialize` and `tools/list`:
//!
//! - that the server could read its secret: the server logs one line at startup with the
//!   outcome of its Secrets Manager read (`"message": "secret read at startup"`, `outcome`
//!   `ok` or AWS's error code, `secret`, and on failure AWS's message `error`). The check reads
//!   the runtime's log (the log group kind's reading code) for the newest such line since the
//!   runtime's latest version was made (`lastUpdatedAt`), waiting a bounded time for it to
//!   reach CloudWatch. A failed read fails the check with AWS's error; no line at all (an older
//!   server) is a warning, as is a log that cannot be read.
//! - with `--deep` (`apply --check deep`): that one `web_search` call answers without a tool
//!   error, the whole path through the key to the model API.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmcp::model::CallToolRequestParams;
use serde_json::Value;

use super::mcp::{self, Called, Failure, Session, Target};
use crate::aws::Aws;
use crate::engine::Error;
use crate::resources::log_group::events::{self, LogEvent};
use crate::resources::log_group::group_name;
use crate::resources::runtime::Runtime;
use crate::stack::Stack;

/// The message of the server's startup line (`server::secret::STARTUP_MESSAGE`).
pub const SECRET_LINE: &str = "secret read at startup";
/// The question of `--deep`: short, so the answer is cheap.
pub const DEEP_QUERY: &str = "What year was the Rust programming language 1.0 released?";
/// How long the check waits for the startup line to reach CloudWatch Logs.
const LINE_WAIT: Duration = Duration::from_secs(30);
const LINE_POLL: Duration = Duration::from_secs(2);

/// The server's startup line about its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRead {
    Ok {
        secret: String,
    },
    Failed {
        secret: String,
        code: String,
        message: String,
    },
}

/// The newest startup line among `events` (in time order).
pub fn newest_secret_read(events: &[LogEvent]) -> Option<SecretRead> {
    events.iter().rev().find_map(|event| {
        let line: Value = serde_json::from_str(event.message.trim()).ok()?;
        if line.get("message").and_then(Value::as_str) != Some(SECRET_LINE) {
            return None;
        }
        let text = |name: &str| {
            line.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let secret = text("secret");
        Some(match text("outcome").as_str() {
            "ok" => SecretRead::Ok { secret },
            code => SecretRead::Failed {
                secret,
                code: if code.is_empty() { "unknown" } else { code }.to_owned(),
                message: text("error"),
            },
        })
    })
}

/// What the check found and says: lines that passed, warnings, and the failure, if any.
#[derive(Debug, Default)]
pub struct Proven {
    pub passed: Vec<String>,
    pub warnings: Vec<String>,
    pub failure: Option<String>,
}

/// After the round trip: the secret's startup line (when the runtime reads secrets), then with
/// `deep` one `web_search` call.
pub async fn prove(
    aws: &Aws,
    stack: &Stack,
    target: &Target,
    runtime_id: &str,
    deep: bool,
) -> Proven {
    let mut proven = Proven::default();
    let reads_secrets = stack
        .one::<Runtime>()
        .is_some_and(|r| !r.secrets.is_empty());
    if reads_secrets {
        secret_read(aws, runtime_id, &mut proven).await;
    }
    if deep && proven.failure.is_none() {
        match search_once(target).await {
            Ok(elapsed) => proven
                .passed
                .push(format!("web_search answered in {} ms", elapsed.as_millis())),
            Err(failure) => proven.failure = Some(failure.message),
        }
    }
    proven
}

/// The newest startup line since the runtime's latest version, waited for up to
/// [`LINE_WAIT`].
async fn secret_read(aws: &Aws, runtime_id: &str, proven: &mut Proven) {
    let group = group_name(runtime_id);
    let since = match version_made_at(aws, runtime_id).await {
        Ok(at) => at,
        Err(e) => {
            proven
                .warnings
                .push(format!("the server's secret read was not checked: {e}"));
            return;
        }
    };
    let started = Instant::now();
    loop {
        let found = match events::read(aws, &group, since).await {
            Ok(found) => found.unwrap_or_default(),
            Err(e) => {
                proven.warnings.push(format!(
                    "the server's secret read was not checked: cannot read its log: {e}"
                ));
                return;
            }
        };
        match newest_secret_read(&found) {
            Some(SecretRead::Ok { secret }) => {
                proven.passed.push(format!(
                    "the server read its secret {secret} (its startup line in {group})"
                ));
                return;
            }
            Some(SecretRead::Failed {
                secret,
                code,
                message,
            }) => {
                proven.failure = Some(format!(
                    "the server cannot read its secret {secret}: {code}: {message} (its startup \
                     line in {group}). The runtime's execution role needs \
                     secretsmanager:GetSecretValue on it (the stack's infra-secrets policy \
                     grants it; an apply restores it)"
                ));
                return;
            }
            None if started.elapsed() >= LINE_WAIT => {
                proven.warnings.push(format!(
                    "the server's secret read is not confirmed: no {SECRET_LINE:?} line in \
                     {group} after {} s (a server older than this infra does not log it)",
                    LINE_WAIT.as_secs()
                ));
                return;
            }
            None => tokio::time::sleep(LINE_POLL).await,
        }
    }
}

/// When the runtime's latest version was made (`lastUpdatedAt`), in milliseconds since the
/// epoch: its instances log from then on.
async fn version_made_at(aws: &Aws, runtime_id: &str) -> Result<i64, Error> {
    let runtime = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(runtime_id)
        .send()
        .await
        .map_err(|e| Error::aws(&format!("runtime {runtime_id}"), "GetAgentRuntime", e))?;
    let fallback = || {
        // An hour ago, when AWS says nothing.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX) - 3_600_000)
            .unwrap_or_default()
    };
    Ok(runtime
        .last_updated_at()
        .to_millis()
        .unwrap_or_else(|_| fallback()))
}

/// One `web_search` call with [`DEEP_QUERY`]: a tool error is a failure, with its text.
async fn search_once(target: &Target) -> Result<Duration, Failure> {
    let started = Instant::now();
    let session = Session::connect(target).await?;
    let mut arguments = serde_json::Map::new();
    arguments.insert("query".into(), DEEP_QUERY.into());
    let params = CallToolRequestParams::new("web_search").with_arguments(arguments);
    let called = session.call(params).await;
    session.close().await;
    match called? {
        Called::Done(result) if result.is_error == Some(true) => Err(Failure {
            message: format!(
                "web_search answered with a tool error: {}",
                mcp::text_of(&result)
            ),
        }),
        Called::Done(_) => Ok(started.elapsed()),
        Called::Cancelled { .. } => Err(Failure {
            message: "web_search was cancelled (Ctrl-C)".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: i64, message: &str) -> LogEvent {
        LogEvent {
            timestamp: at,
            ingestion_time: at,
            stream: "s".into(),
            message: message.into(),
            id: at.to_string(),
        }
    }

    #[test]
    fn the_newest_startup_line_tells_the_secret_read() {
        let ok = r#"{"level":"INFO","message":"secret read at startup","secret":"arn:s","outcome":"ok"}"#;
        let denied = r#"{"level":"ERROR","message":"secret read at startup","secret":"arn:s","outcome":"AccessDeniedException","error":"User: r is not authorized"}"#;
        let other = r#"{"level":"INFO","message":"listening"}"#;
        assert_eq!(newest_secret_read(&[event(1, other)]), None);
        assert_eq!(newest_secret_read(&[event(1, "not json")]), None);
        assert_eq!(
            newest_secret_read(&[event(1, denied), event(2, ok), event(3, other)]),
            Some(SecretRead::Ok {
                secret: "arn:s".into()
            })
        );
        assert_eq!(
            newest_secret_read(&[event(1, ok), event(2, denied)]),
            Some(SecretRead::Failed {
                secret: "arn:s".into(),
                code: "AccessDeniedException".into(),
                message: "User: r is not authorized".into()
            })
        );
    }
}
