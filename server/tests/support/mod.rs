//! Test support: a local mock of the OpenAI Responses API, the real server
//! binary on a loopback port, and small MCP-over-HTTP helpers.
//!
//! The mock picks its behaviour from markers in the query text:
//! `[x85]` an answer containing U+0085/U+2028/U+2029, `[slow=MS]` a delay,
//! `[hang]` no answer at all, `[429]` one 429 (retry-after: 1) then success,
//! `[429-always]`, `[500]` always 500, `[401]`, `[403]`, `[no-message]` a
//! response without a message item. [`MockUpstream::accept_only`] makes it
//! answer 401 to any other key, like OpenAI after a key rotation.
//! With `[401]`: `[echo-key]` puts the request's `Authorization` header in the
//! error message (as some gateways do). With `[401]` or `[403]`: `[cut]`
//! breaks the error body off mid-way (the connection fails before its end).
//! `[big=N]` answers a valid response whose answer text is N bytes, sent
//! lazily in 64 KiB chunks with its `Content-Length`; `[big-chunked=N]` the
//! same without it (chunked). [`MockLog`] counts the bytes such bodies sent
//! and whether each was sent in full.
//!
//! For the key in AWS Secrets Manager: [`Emulator`] (moto, through
//! `scripts/emulator.py`, on a free loopback port) and [`StallProxy`] (a TCP
//! proxy that holds connections until released: a slow or unreachable AWS).
#![allow(dead_code)]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

pub const TEST_KEY: &str = "sk-test-0123456789-secret";

/// What the mock saw.
#[derive(Default)]
pub struct MockLog {
    /// Every request: the `Authorization` header and the JSON body.
    pub requests: Mutex<Vec<(String, Value)>>,
    /// Requests whose handler was dropped before answering (client went away).
    pub aborted: AtomicUsize,
    /// Requests that ran to completion.
    pub completed: AtomicUsize,
    /// Bytes of `[big=N]` / `[big-chunked=N]` bodies handed to the HTTP server.
    pub big_sent: AtomicUsize,
    /// Such bodies sent to their last byte.
    pub big_finished: AtomicUsize,
    /// Such bodies dropped, sent in full or not (the client read them all or
    /// closed the connection).
    pub big_dropped: AtomicUsize,
    attempts: Mutex<HashMap<String, usize>>,
    /// When set, any other `Authorization: Bearer` key gets 401.
    accepted_key: Mutex<Option<String>>,
}

impl MockLog {
    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
    pub fn aborted(&self) -> usize {
        self.aborted.load(Ordering::SeqCst)
    }
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }
    pub fn big_sent(&self) -> usize {
        self.big_sent.load(Ordering::SeqCst)
    }
    pub fn big_finished(&self) -> usize {
        self.big_finished.load(Ordering::SeqCst)
    }
    pub fn big_dropped(&self) -> usize {
        self.big_dropped.load(Ordering::SeqCst)
    }
    /// The keys of the requests so far, in order (`Bearer ` stripped).
    pub fn keys(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(auth, _)| auth.strip_prefix("Bearer ").unwrap_or(auth).to_owned())
            .collect()
    }
}

pub struct MockUpstream {
    pub addr: SocketAddr,
    pub log: Arc<MockLog>,
    task: tokio::task::JoinHandle<()>,
}

impl MockUpstream {
    /// Starts the mock on 127.0.0.1:0 in the current runtime.
    pub async fn start() -> Self {
        let log = Arc::new(MockLog::default());
        let app = Router::new()
            .route("/v1/responses", post(responses))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, log, task }
    }

    /// The value for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// From now on, only `key` is accepted; other keys get OpenAI's 401.
    pub fn accept_only(&self, key: &str) {
        *self.log.accepted_key.lock().unwrap() = Some(key.to_owned());
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct AbortGuard {
    log: Arc<MockLog>,
    done: bool,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if self.done {
            self.log.completed.fetch_add(1, Ordering::SeqCst);
        } else {
            self.log.aborted.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn marker_value(query: &str, name: &str) -> Option<u64> {
    let start = query.find(&format!("[{name}="))? + name.len() + 2;
    let end = query[start..].find(']')? + start;
    query[start..end].parse().ok()
}

async fn responses(
    State(log): State<Arc<MockLog>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let query = body["input"].as_str().unwrap_or("").to_owned();
    log.requests
        .lock()
        .unwrap()
        .push((auth.clone(), body.clone()));
    let attempt = {
        let mut attempts = log.attempts.lock().unwrap();
        let n = attempts.entry(query.clone()).or_default();
        *n += 1;
        *n
    };
    let mut guard = AbortGuard {
        log: log.clone(),
        done: false,
    };
    let accepted = log.accepted_key.lock().unwrap().clone();
    if let Some(key) = accepted
        && auth != format!("Bearer {key}")
    {
        guard.done = true;
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_api_key",
        );
    }

    if query.contains("[hang]") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if let Some(ms) = marker_value(&query, "slow") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let response = if query.contains("[401]") {
        let message = if query.contains("[echo-key]") {
            format!("Incorrect API key provided in header 'authorization: {auth}'")
        } else {
            "Incorrect API key provided: sk-test-***".to_owned()
        };
        let response = error(StatusCode::UNAUTHORIZED, &message, "invalid_api_key");
        if query.contains("[cut]") {
            cut_off(response).await
        } else {
            response
        }
    } else if query.contains("[403]") {
        let response = error(
            StatusCode::FORBIDDEN,
            "Project does not have access to model o3",
            "model_not_found",
        );
        if query.contains("[cut]") {
            cut_off(response).await
        } else {
            response
        }
    } else if let Some(size) = marker_value(&query, "big") {
        big_response(&log, size as usize, true)
    } else if let Some(size) = marker_value(&query, "big-chunked") {
        big_response(&log, size as usize, false)
    } else if query.contains("[429-always]") {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for o3",
            "rate_limit_exceeded",
        );
        r.headers_mut().insert("retry-after", "0".parse().unwrap());
        r
    } else if query.contains("[429]") && attempt == 1 {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for o3",
            "rate_limit_exceeded",
        );
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
        r
    } else if query.contains("[500]") {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request.",
            "server_error",
        )
    } else if query.contains("[no-message]") {
        Json(json!({
            "id": "resp_nomsg", "object": "response", "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "web_search_call", "id": "ws_1", "status": "completed",
                 "action": {"type": "search", "query": query}}
            ]
        }))
        .into_response()
    } else {
        let answer = if query.contains("[x85]") {
            "Line one\u{85}line two\u{2028}line three\u{2029}end [1].".to_owned()
        } else {
            format!("Answer to: {query}. Rust 1.0 was released on 15 May 2015 [1][2].")
        };
        Json(realistic_response(&answer)).into_response()
    };
    guard.done = true;
    drop(guard);
    response
}

/// `response` with the same status and headers but a body that stops after
/// its first 40 bytes with an error: the connection fails mid-body. The
/// error comes 200 ms after those bytes, so the status line and they are on
/// the wire first (an error at once would abort before anything is sent).
async fn cut_off(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let first = bytes.slice(..40.min(bytes.len()));
    let stream = futures::stream::unfold(Some(first), |first| async move {
        match first {
            Some(first) => Some((Ok(first), None)),
            None => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((
                    Err(std::io::Error::other("the stand-in breaks the body off")),
                    None,
                ))
            }
        }
    });
    Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

/// Counts a big body's fate in [`MockLog`] when it is dropped.
struct BigBody {
    log: Arc<MockLog>,
    remaining: usize,
}

impl Drop for BigBody {
    fn drop(&mut self) {
        if self.remaining == 0 {
            self.log.big_finished.fetch_add(1, Ordering::SeqCst);
        }
        self.log.big_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// A valid Responses API body whose answer is `size` bytes of `a`, made
/// lazily in 64 KiB chunks as the HTTP server asks for them (so nothing
/// large is held here, and a client that stops reading stops it), with its
/// `Content-Length` or chunked.
fn big_response(log: &Arc<MockLog>, size: usize, content_length: bool) -> Response {
    const CHUNK: usize = 64 * 1024;
    let prefix = br#"{"id":"resp_big","object":"response","status":"completed","output":[{"type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","annotations":[],"text":""#;
    let suffix = br#""}]}]}"#;
    let total = prefix.len() + size + suffix.len();
    let state = BigBody {
        log: log.clone(),
        remaining: total,
    };
    let stream =
        futures::stream::unfold((state, 0usize), move |(mut state, mut sent)| async move {
            if state.remaining == 0 {
                return None;
            }
            let n = state.remaining.min(CHUNK);
            let (start, end, text_end) = (sent, sent + n, prefix.len() + size);
            let mut chunk = Vec::with_capacity(n);
            if start < prefix.len() {
                chunk.extend_from_slice(&prefix[start..end.min(prefix.len())]);
            }
            let a = end.min(text_end).saturating_sub(start.max(prefix.len()));
            chunk.resize(chunk.len() + a, b'a');
            if end > text_end {
                chunk.extend_from_slice(&suffix[start.max(text_end) - text_end..end - text_end]);
            }
            sent = end;
            state.remaining -= n;
            state.log.big_sent.fetch_add(n, Ordering::SeqCst);
            Some((
                Ok::<_, std::io::Error>(axum::body::Bytes::from(chunk)),
                (state, sent),
            ))
        });
    let mut response = Response::new(axum::body::Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    if content_length {
        headers.insert(axum::http::header::CONTENT_LENGTH, total.into());
    }
    response
}

fn error(status: StatusCode, message: &str, code: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})),
    )
        .into_response()
}

/// A body shaped like a real o3 + web_search response.
pub fn realistic_response(answer: &str) -> Value {
    let len = answer.chars().count();
    json!({
        "id": "resp_68a1f0c2b3d48190a5e1c1f5f0e6d2a7",
        "object": "response",
        "created_at": 1755443394,
        "status": "completed",
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": "…",
        "model": "o3-2025-04-16",
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": []},
            {"id": "ws_1", "type": "web_search_call", "status": "completed",
             "action": {"type": "search", "query": "rust 1.0 release date"}},
            {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": null},
            {"id": "ws_2", "type": "web_search_call", "status": "completed",
             "action": {"type": "open_page", "url": "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html"}},
            {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
             "content": [{
                "type": "output_text",
                "text": answer,
                "logprobs": [],
                "annotations": [
                    {"type": "url_citation", "start_index": 0, "end_index": len.min(10),
                     "url": "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html",
                     "title": "Announcing Rust 1.0 | Rust Blog"},
                    {"type": "url_citation", "start_index": 0, "end_index": len.min(5),
                     "url": "https://en.wikipedia.org/wiki/Rust_(programming_language)",
                     "title": "Rust (programming language) - Wikipedia"},
                    {"type": "url_citation", "start_index": 1, "end_index": len.min(6),
                     "url": "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html",
                     "title": "Announcing Rust 1.0 | Rust Blog"}
                ]
             }]}
        ],
        "parallel_tool_calls": true,
        "reasoning": {"effort": "low", "summary": null},
        "tools": [{"type": "web_search", "search_context_size": "medium"}],
        "usage": {"input_tokens": 8153, "output_tokens": 412, "total_tokens": 8565,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 256}}
    })
}

/// The server binary on 127.0.0.1, with its stderr (JSON log lines) captured.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the binary with `OPENAI_BASE_URL` pointing at `upstream` (if any)
    /// plus `env`, and waits for its "listening" log line.
    pub fn start(upstream: Option<&str>, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(upstream) = upstream {
            command.env("OPENAI_BASE_URL", upstream);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start server binary");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(t) = &tx
                        && let Ok(v) = serde_json::from_str::<Value>(&line)
                        && v["message"] == "listening"
                    {
                        let _ = t.send(v["addr"].as_str().unwrap_or("").to_owned());
                        tx = None;
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("server logged its listening address");
        Self {
            child,
            addr: addr.parse().unwrap(),
            logs,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn log_values(&self) -> Vec<Value> {
        self.logs()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `initialize` params of a plain 2025-06-18 client.
pub fn initialize_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}})
}

pub fn call_body(id: u64, tool: &str, arguments: Value, progress_token: Option<&str>) -> Value {
    let mut params = json!({"name": tool, "arguments": arguments});
    if let Some(token) = progress_token {
        params["_meta"] = json!({"progressToken": token});
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

/// The headers AgentCore Runtime's proxy adds, plus the MCP ones.
pub fn agentcore_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-06-18"),
        ("mcp-session-id", "5f0c2a3e-agentcore-session-0001"),
        (
            "x-amzn-bedrock-agentcore-runtime-session-id",
            "5f0c2a3e-agentcore-session-0001",
        ),
    ]
}

/// The JSON-RPC messages in an SSE body (`data:` lines).
pub fn sse_messages(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() || data.iter().all(|d| d.is_empty()) {
                None
            } else {
                serde_json::from_str(&data.join("\n")).ok()
            }
        })
        .collect()
}

/// `POST /mcp` over a real socket; returns status, headers and raw body.
pub async fn post_raw(url: &str, body: &Value) -> (u16, HeaderMap, Vec<u8>) {
    let client = reqwest::Client::new();
    let mut request = client.post(url).body(body.to_string());
    for (k, v) in agentcore_headers() {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap().to_vec();
    (status, headers, bytes)
}

/// The final JSON-RPC response in an SSE body.
pub fn final_result(body: &[u8]) -> Value {
    let text = std::str::from_utf8(body).unwrap();
    sse_messages(text)
        .into_iter()
        .find(|m| m.get("result").is_some() || m.get("error").is_some())
        .unwrap_or_else(|| panic!("no response in body: {text}"))
}

/// `None` for `WebSearchServer::run_search`'s `on_progress`.
pub fn no_progress() -> Option<fn(Duration) -> std::future::Ready<()>> {
    None
}

/// Polls `f` until it holds, up to `timeout`.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// The wall clock in Unix seconds, for `time_of_last_update` bounds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Checks a `GET /ping` body: `{"status", "time_of_last_update"}` and nothing
/// else, the timestamp an integer. Returns both.
pub fn ping_state(body: &Value) -> (String, u64) {
    let object = body.as_object().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(object.len(), 2, "{body}");
    let status = body["status"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(
        status == "Healthy" || status == "HealthyBusy",
        "AgentCore's casing: {body}"
    );
    let time = body["time_of_last_update"]
        .as_u64()
        .unwrap_or_else(|| panic!("time_of_last_update is not a Unix time in seconds: {body}"));
    (status.to_owned(), time)
}

/// `<repo>/.tools/<rel>`, or a failure telling how to install it.
pub fn tool_path(rel: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".tools")
        .join(rel);
    assert!(
        path.exists(),
        "{} is missing: run scripts/server-tools.sh (it installs the MCP clients these tests drive)",
        path.display()
    );
    path
}

/// `<repo>/.venv/bin/python` (moto), or a failure telling how to install it.
pub fn venv_python() -> PathBuf {
    // Not canonicalized: `bin/python` is a symlink to the base interpreter, and run through
    // its resolved path Python would not see the venv (nor the moto installed in it).
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.canonicalize().unwrap_or(root).join(".venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test-tools.sh (it installs moto, the AWS emulator these tests \
         read the OpenAI key from)",
        path.display()
    );
    path
}

/// moto through `scripts/emulator.py` on a free loopback port; it serves
/// Secrets Manager. Killed on drop.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
}

/// The region every test uses.
pub const REGION: &str = "us-east-1";

impl Emulator {
    pub fn start() -> Self {
        let python = venv_python();
        let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/emulator.py");
        // Retry on the rare race where another process takes the port between probe and bind.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&python)
                .arg(&launcher)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start scripts/emulator.py");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self {
                        child,
                        endpoint: format!("http://127.0.0.1:{port}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the emulator did not start");
    }

    /// A Secrets Manager client of the emulator (the test's side, not the server's).
    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(server::secret::aws_http_client())
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// Creates a secret holding `value`; returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        self.secrets()
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .expect("ARN")
            .to_owned()
    }

    /// Rotates the secret: a new AWSCURRENT version holding `value`.
    pub async fn put_secret_value(&self, arn: &str, value: &str) {
        self.secrets()
            .put_secret_value()
            .secret_id(arn)
            .secret_string(value)
            .send()
            .await
            .expect("PutSecretValue");
    }

    /// The environment the server needs to read secrets here: test
    /// credentials, the region, `AWS_ENDPOINT_URL` (`endpoint`, default the
    /// emulator), and `OPENAI_API_KEY_SECRET_ARN`.
    pub fn server_env(&self, secret: &str, endpoint: Option<&str>) -> Vec<(String, String)> {
        aws_env(endpoint.unwrap_or(&self.endpoint), secret)
    }
}

/// The server's environment for a secret read through `endpoint`.
pub fn aws_env(endpoint: &str, secret: &str) -> Vec<(String, String)> {
    [
        ("OPENAI_API_KEY_SECRET_ARN", secret),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", REGION),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy to `target` that accepts connections but forwards nothing
/// until [`StallProxy::release`]: a slow (or, never released, unreachable)
/// AWS endpoint.
pub struct StallProxy {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    release: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl StallProxy {
    pub async fn start(target: &str) -> Self {
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let task = tokio::spawn({
            let accepted = accepted.clone();
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let mut released = released.clone();
                    let target = target.clone();
                    tokio::spawn(async move {
                        if released.wait_for(|r| *r).await.is_err() {
                            return;
                        }
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            }
        });
        Self {
            addr,
            accepted,
            release,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far (held until released).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Forwards held and future connections.
    pub fn release(&self) {
        self.release.send_replace(true);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
