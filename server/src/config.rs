//! Environment → typed settings, resolved once at startup.
//!
//! Every knob is an environment variable so the same image runs unchanged
//! behind AgentCore Runtime and on a laptop. [`Settings::from_lookup`] takes
//! the lookup function so tests never touch the process environment.

use std::{fmt, net::IpAddr, time::Duration};

/// Default instructions for the Responses API call.
pub const DEFAULT_INSTRUCTIONS: &str = "You are a web research assistant. Always search the web \
before answering, even when you think you know the answer. Answer in the same language as the \
question, concisely and accurately, and cite the sources you used.";

/// The largest `MAX_CONNECTIONS` accepted (far above any file-descriptor
/// limit; it keeps the count a `u32` for the semaphore that enforces it).
pub const MAX_CONNECTIONS_LIMIT: usize = 1_000_000;

/// The longest `HEADER_READ_TIMEOUT_SECS` or `BODY_READ_TIMEOUT_SECS`: a day.
pub const MAX_READ_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The default `OPENAI_MAX_RESPONSE_BYTES`: 4 MiB, some hundred times a real
/// web search answer (tens of KB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The accepted range of `OPENAI_MAX_RESPONSE_BYTES`: from 1 KiB (below that
/// not even OpenAI's error bodies fit; a value like `4` is a unit mistake) to
/// 256 MiB (each search may hold that much, and its answer is relayed again).
pub const MAX_RESPONSE_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=256 * 1024 * 1024;

/// An API key whose `Debug`/`Display` never reveal the value, so logging it
/// by accident prints `(sensitive)`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The only way to read the value: when building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(sensitive)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// Settings of the OpenAI Responses API client.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// `OPENAI_BASE_URL`, without a trailing slash. Default `https://api.openai.com/v1`.
    pub base_url: String,
    /// `OPENAI_API_KEY`. Without it and without `api_key_secret_arn` the server
    /// still runs; `web_search` then explains how to set it. Wins over
    /// `api_key_secret_arn` when both are set.
    pub api_key: Option<ApiKey>,
    /// `OPENAI_API_KEY_SECRET_ARN`: the AWS Secrets Manager secret (ARN, or
    /// name) whose `SecretString` is the key.
    pub api_key_secret_arn: Option<String>,
    /// `SECRET_REFRESH_SECS`, default 300: the secret is read again at most
    /// this often (and after every 401).
    pub secret_refresh: Duration,
    /// `OPENAI_MODEL`, default `o3`.
    pub model: String,
    /// `OPENAI_REASONING_EFFORT`, default `low`; empty disables the `reasoning` field.
    pub reasoning_effort: Option<String>,
    /// `WEB_SEARCH_INSTRUCTIONS`.
    pub instructions: String,
    /// `OPENAI_TIMEOUT_SECS`, default 600: the deadline of one whole search, retries included.
    pub timeout: Duration,
    /// `OPENAI_MAX_RETRIES`, default 2: retries after a 429 or 5xx (so 3 attempts).
    pub max_retries: u32,
    /// `OPENAI_MAX_RETRY_WAIT_SECS`, default 30: the longest single wait, whatever `retry-after` says.
    pub max_retry_wait: Duration,
    /// `OPENAI_MAX_RESPONSE_BYTES`, default 4 MiB ([`DEFAULT_MAX_RESPONSE_BYTES`]):
    /// the most of one OpenAI response body the server reads. The body is
    /// read chunk by chunk and the read stops as soon as it passes the cap
    /// (at once when `Content-Length` already does); the search is then a
    /// tool error naming the cap. Bounds what one search can make the server
    /// hold.
    pub max_response_bytes: usize,
}

/// Everything the server needs, resolved from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST`, default `0.0.0.0`.
    pub host: IpAddr,
    /// `PORT`, default 8000 (0 picks a free port, for tests).
    pub port: u16,
    /// `ALLOWED_HOSTS`: comma-separated `Host` values (`name` or `name:port`).
    /// Unset, empty or `*` accepts any host (the container default: AgentCore
    /// forwards its own host names).
    pub allowed_hosts: Vec<String>,
    /// `SSE_KEEP_ALIVE_SECS`, default 15: interval of SSE keep-alive comments.
    pub sse_keep_alive: Duration,
    /// `PROGRESS_INTERVAL_SECS`, default 5: interval of progress notifications
    /// during a search, when the client sent a progress token.
    pub progress_interval: Duration,
    /// `SHUTDOWN_GRACE_SECS`, default 30: how long in-flight calls may run after SIGTERM.
    pub shutdown_grace: Duration,
    /// `MAX_BODY_BYTES`, default 1 MiB: larger request bodies get 413.
    pub max_body_bytes: usize,
    /// `HEADER_READ_TIMEOUT_SECS`, default 10: a connection that has not sent
    /// a request's complete headers this long after it opened, or after the
    /// previous response ended (an idle keep-alive connection), is closed.
    /// Real clients and proxies send a request's headers at once, so 10 s is
    /// slack for them yet frees a slowloris connection quickly; it never
    /// applies while a response (a long SSE stream) is being written.
    pub header_read_timeout: Duration,
    /// `BODY_READ_TIMEOUT_SECS`, default 30: a request whose body has not
    /// arrived in full this long after its headers gets 408 and its
    /// connection is closed. 30 s carries `MAX_BODY_BYTES` (1 MiB) at 35 KB/s,
    /// far slower than any real sender; the response, however long, is not
    /// bounded by it.
    pub body_read_timeout: Duration,
    /// `MAX_CONNECTIONS`, default 2048: open connections served at once;
    /// above it a new connection gets a 503 (`Retry-After`, `Connection:
    /// close`) as soon as its request head is in, and is closed. AgentCore
    /// gives each session its own microVM, so legitimate traffic is a handful
    /// of connections; 2048 bounds what idle or slow clients can hold (about
    /// 2 file descriptors each with their upstream call), and `serve` lowers
    /// it further when the process's open-file limit could not hold that
    /// many.
    pub max_connections: usize,
    pub openai: OpenAiSettings,
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Resolves settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned());
        let non_empty = |name: &str| get(name).filter(|v| !v.is_empty());

        let host = parse(&get, "HOST", "0.0.0.0".parse().expect("valid default"))?;
        let port = parse(&get, "PORT", 8000u16)?;
        let allowed_hosts = match non_empty("ALLOWED_HOSTS") {
            None => Vec::new(),
            Some(list) => {
                let hosts: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned)
                    .collect();
                if hosts.iter().any(|h| h == "*") {
                    Vec::new()
                } else {
                    hosts
                }
            }
        };
        let secs = |name: &'static str, default: f64| -> Result<Duration, ConfigError> {
            let value: f64 = parse(&get, name, default)?;
            Duration::try_from_secs_f64(value)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ConfigError {
                    name,
                    value: value.to_string(),
                    reason: "must be a positive number of seconds".into(),
                })
        };

        // Read timeouts become deadlines (`now + timeout`) on every request:
        // at most a day, so no value can overflow the clock.
        let read_timeout = |name: &'static str, default: f64| -> Result<Duration, ConfigError> {
            let timeout = secs(name, default)?;
            if timeout > MAX_READ_TIMEOUT {
                return Err(ConfigError {
                    name,
                    value: timeout.as_secs_f64().to_string(),
                    reason: format!("must be at most {} seconds", MAX_READ_TIMEOUT.as_secs()),
                });
            }
            Ok(timeout)
        };

        let base_url = non_empty("OPENAI_BASE_URL")
            .unwrap_or_else(|| "https://api.openai.com/v1".into())
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError {
                name: "OPENAI_BASE_URL",
                value: base_url,
                reason: "must start with http:// or https://".into(),
            });
        }

        let max_connections = parse(&get, "MAX_CONNECTIONS", 2048usize)?;
        if !(1..=MAX_CONNECTIONS_LIMIT).contains(&max_connections) {
            return Err(ConfigError {
                name: "MAX_CONNECTIONS",
                value: max_connections.to_string(),
                reason: format!("must be between 1 and {MAX_CONNECTIONS_LIMIT}"),
            });
        }

        let max_response_bytes = parse(
            &get,
            "OPENAI_MAX_RESPONSE_BYTES",
            DEFAULT_MAX_RESPONSE_BYTES,
        )?;
        if !MAX_RESPONSE_BYTES_RANGE.contains(&max_response_bytes) {
            return Err(ConfigError {
                name: "OPENAI_MAX_RESPONSE_BYTES",
                value: max_response_bytes.to_string(),
                reason: format!(
                    "must be a number of bytes between {} (1 KiB) and {} (256 MiB)",
                    MAX_RESPONSE_BYTES_RANGE.start(),
                    MAX_RESPONSE_BYTES_RANGE.end()
                ),
            });
        }

        Ok(Self {
            host,
            port,
            allowed_hosts,
            sse_keep_alive: secs("SSE_KEEP_ALIVE_SECS", 15.0)?,
            progress_interval: secs("PROGRESS_INTERVAL_SECS", 5.0)?,
            shutdown_grace: secs("SHUTDOWN_GRACE_SECS", 30.0)?,
            max_body_bytes: parse(&get, "MAX_BODY_BYTES", 1024 * 1024usize)?,
            header_read_timeout: read_timeout("HEADER_READ_TIMEOUT_SECS", 10.0)?,
            body_read_timeout: read_timeout("BODY_READ_TIMEOUT_SECS", 30.0)?,
            max_connections,
            openai: OpenAiSettings {
                base_url,
                api_key: non_empty("OPENAI_API_KEY").map(ApiKey::new),
                api_key_secret_arn: non_empty("OPENAI_API_KEY_SECRET_ARN"),
                secret_refresh: secs("SECRET_REFRESH_SECS", 300.0)?,
                model: non_empty("OPENAI_MODEL").unwrap_or_else(|| "o3".into()),
                reasoning_effort: match get("OPENAI_REASONING_EFFORT") {
                    None => Some("low".into()),
                    Some(v) if v.is_empty() => None,
                    Some(v) => Some(v),
                },
                instructions: non_empty("WEB_SEARCH_INSTRUCTIONS")
                    .unwrap_or_else(|| DEFAULT_INSTRUCTIONS.into()),
                timeout: secs("OPENAI_TIMEOUT_SECS", 600.0)?,
                max_retries: parse(&get, "OPENAI_MAX_RETRIES", 2u32)?,
                max_retry_wait: secs("OPENAI_MAX_RETRY_WAIT_SECS", 30.0)?,
                max_response_bytes,
            },
        })
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|e: T::Err| ConfigError {
            name,
            reason: e.to_string(),
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_agentcore_contract() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.host.to_string(), "0.0.0.0");
        assert_eq!(s.port, 8000);
        assert!(s.allowed_hosts.is_empty(), "any Host accepted by default");
        assert_eq!(s.sse_keep_alive, Duration::from_secs(15));
        assert_eq!(s.openai.base_url, "https://api.openai.com/v1");
        assert_eq!(s.openai.model, "o3");
        assert_eq!(s.openai.reasoning_effort.as_deref(), Some("low"));
        assert_eq!(s.openai.timeout, Duration::from_secs(600));
        assert!(s.openai.api_key.is_none());
        assert!(s.openai.api_key_secret_arn.is_none());
        assert_eq!(s.openai.secret_refresh, Duration::from_secs(300));
        assert_eq!(s.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.body_read_timeout, Duration::from_secs(30));
        assert_eq!(s.max_connections, 2048);
        assert_eq!(s.openai.max_response_bytes, 4 * 1024 * 1024);
    }

    #[test]
    fn max_response_bytes() {
        let cap = |value: &str| {
            settings(&[("OPENAI_MAX_RESPONSE_BYTES", value)]).map(|s| s.openai.max_response_bytes)
        };
        assert_eq!(cap(" 65536 ").unwrap(), 65536);
        assert_eq!(cap("1024").unwrap(), 1024);
        assert_eq!(cap("268435456").unwrap(), 256 * 1024 * 1024);
        assert_eq!(
            cap("").unwrap(),
            DEFAULT_MAX_RESPONSE_BYTES,
            "empty: the default"
        );
        for bad in [
            "0",
            "4",
            "1023",
            "268435457",
            "99999999999999999999",
            "-1",
            "4MiB",
            "1e6",
            "big",
        ] {
            let err = cap(bad).unwrap_err();
            assert_eq!(err.name, "OPENAI_MAX_RESPONSE_BYTES", "{bad}");
            let text = err.to_string();
            assert!(
                text.starts_with("invalid OPENAI_MAX_RESPONSE_BYTES="),
                "{text}"
            );
        }
        let text = cap("0").unwrap_err().to_string();
        assert!(
            text.contains("between 1024 (1 KiB) and 268435456 (256 MiB)"),
            "{text}"
        );
        assert!(
            cap("4MiB")
                .unwrap_err()
                .to_string()
                .contains("invalid digit")
        );
    }

    #[test]
    fn connection_limits() {
        let s = settings(&[
            ("HEADER_READ_TIMEOUT_SECS", "0.5"),
            ("BODY_READ_TIMEOUT_SECS", " 2 "),
            ("MAX_CONNECTIONS", "8"),
        ])
        .unwrap();
        assert_eq!(s.header_read_timeout, Duration::from_millis(500));
        assert_eq!(s.body_read_timeout, Duration::from_secs(2));
        assert_eq!(s.max_connections, 8);
        for (name, value) in [
            ("HEADER_READ_TIMEOUT_SECS", "0"),
            ("HEADER_READ_TIMEOUT_SECS", "-1"),
            ("BODY_READ_TIMEOUT_SECS", "0"),
            ("BODY_READ_TIMEOUT_SECS", "soon"),
            ("BODY_READ_TIMEOUT_SECS", "1e19"),
            ("HEADER_READ_TIMEOUT_SECS", "86401"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS", "-5"),
            ("MAX_CONNECTIONS", "1000001"),
            ("MAX_CONNECTIONS", "many"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{value}");
        }
        assert_eq!(
            settings(&[("HEADER_READ_TIMEOUT_SECS", "86400")])
                .unwrap()
                .header_read_timeout,
            MAX_READ_TIMEOUT
        );
        assert_eq!(
            settings(&[("MAX_CONNECTIONS", "1000000")])
                .unwrap()
                .max_connections,
            MAX_CONNECTIONS_LIMIT
        );
    }

    #[test]
    fn secret_arn_and_refresh() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf";
        let s = settings(&[
            ("OPENAI_API_KEY_SECRET_ARN", &format!(" {arn} ")),
            ("SECRET_REFRESH_SECS", "60"),
        ])
        .unwrap();
        assert_eq!(s.openai.api_key_secret_arn.as_deref(), Some(arn));
        assert_eq!(s.openai.secret_refresh, Duration::from_secs(60));
        let err = settings(&[("SECRET_REFRESH_SECS", "0")]).unwrap_err();
        assert_eq!(err.name, "SECRET_REFRESH_SECS");
    }

    #[test]
    fn overrides_and_lists() {
        let s = settings(&[
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("ALLOWED_HOSTS", "localhost, example.com:8080,"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("OPENAI_REASONING_EFFORT", ""),
            ("SSE_KEEP_ALIVE_SECS", "0.5"),
            ("OPENAI_API_KEY", "sk-secret"),
        ])
        .unwrap();
        assert_eq!(s.port, 0);
        assert_eq!(s.allowed_hosts, vec!["localhost", "example.com:8080"]);
        assert_eq!(s.openai.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(s.openai.reasoning_effort, None);
        assert_eq!(s.sse_keep_alive, Duration::from_millis(500));
        assert!(
            settings(&[("ALLOWED_HOSTS", "a,*")])
                .unwrap()
                .allowed_hosts
                .is_empty()
        );
    }

    #[test]
    fn api_key_never_prints() {
        let s = settings(&[("OPENAI_API_KEY", "sk-secret")]).unwrap();
        let shown = format!("{s:?} {}", s.openai.api_key.as_ref().unwrap());
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert_eq!(s.openai.api_key.unwrap().expose(), "sk-secret");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("PORT", "http")]).unwrap_err();
        assert_eq!(err.name, "PORT");
        let err = settings(&[("OPENAI_TIMEOUT_SECS", "0")]).unwrap_err();
        assert_eq!(err.name, "OPENAI_TIMEOUT_SECS");
        let err = settings(&[("OPENAI_BASE_URL", "api.openai.com")]).unwrap_err();
        assert_eq!(err.name, "OPENAI_BASE_URL");
    }
}
