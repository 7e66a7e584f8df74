//! HTTP tests of the axum router, in process (no server socket).

mod support;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use serde_json::{Value, json};
use server::{Settings, app_state, http::router};
use support::{
    MockUpstream, TEST_KEY, agentcore_headers, call_body, eventually, final_result,
    initialize_body, ping_state, sse_messages, unix_now,
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

fn app(vars: &[(&str, &str)]) -> Router {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
    router(&settings, app_state(&settings), CancellationToken::new())
}

fn post() -> axum::http::request::Builder {
    let mut builder = Request::post("/mcp").header("host", "agentcore.internal:8000");
    for (k, v) in agentcore_headers() {
        builder = builder.header(k, v);
    }
    builder
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, content_type, body.to_vec())
}

async fn rpc(app: &Router, body: Value) -> (StatusCode, String, Vec<u8>) {
    send(app, post().body(Body::from(body.to_string())).unwrap()).await
}

/// `GET /ping`: `(status, time_of_last_update)`.
async fn ping(app: &Router) -> (String, u64) {
    let (status, content_type, body) =
        send(app, Request::get("/ping").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("application/json"));
    ping_state(&serde_json::from_slice(&body).unwrap())
}

/// Polls `GET /ping` until it reports `want`, up to `timeout`; returns the
/// last answer.
async fn ping_until(app: &Router, want: &str, timeout: Duration) -> (String, u64) {
    let deadline = Instant::now() + timeout;
    loop {
        let state = ping(app).await;
        if state.0 == want || Instant::now() >= deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a 20 s `web_search` with request id `id` and waits until `/ping`
/// reports it in flight.
async fn start_slow_search(
    app: &Router,
    id: u64,
) -> tokio::task::JoinHandle<(StatusCode, String, Vec<u8>)> {
    let call = tokio::spawn({
        let app = app.clone();
        async move {
            rpc(
                &app,
                call_body(id, "web_search", json!({"query": "q [slow=20000]"}), None),
            )
            .await
        }
    });
    assert_eq!(
        ping_until(app, "HealthyBusy", Duration::from_secs(5))
            .await
            .0,
        "HealthyBusy"
    );
    call
}

#[tokio::test]
async fn ping_is_healthy() {
    let before = unix_now();
    let app = app(&[]);
    let (status, since) = ping(&app).await;
    assert_eq!(status, "Healthy");
    assert!(
        (before..=unix_now()).contains(&since),
        "idle since the server started: {since}"
    );
}

#[tokio::test]
async fn initialize_with_agentcore_session_headers_is_served_statelessly() {
    let app = app(&[]);
    let (status, content_type, body) = rpc(&app, initialize_body(1)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "text/event-stream");
    let result = final_result(&body);
    assert_eq!(result["result"]["serverInfo"]["name"], "web-search");
    assert!(result["result"]["capabilities"]["tools"].is_object());
    // A follow-up carrying a session id the server never issued still works.
    let (status, _, body) = rpc(&app, json!({"jsonrpc": "2.0", "id": 2, "method": "ping"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(final_result(&body)["result"], json!({}));
}

#[tokio::test]
async fn tools_list_has_schemas_and_annotations() {
    let app = app(&[]);
    let (status, _, body) = rpc(
        &app,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let tools = final_result(&body)["result"]["tools"].clone();
    let by_name = |name: &str| {
        tools
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    let search = by_name("web_search");
    assert_eq!(search["annotations"]["readOnlyHint"], true);
    assert_eq!(search["annotations"]["openWorldHint"], true);
    assert_eq!(search["inputSchema"]["required"], json!(["query"]));
    assert!(search["inputSchema"]["properties"]["search_context_size"].is_object());
    assert!(search["inputSchema"]["properties"]["allowed_domains"].is_object());
    assert_eq!(
        search["outputSchema"]["required"],
        json!(["answer", "citations"])
    );
    let greet = by_name("greet_user");
    assert_eq!(greet["annotations"]["readOnlyHint"], true);
    assert_eq!(greet["inputSchema"]["required"], json!(["name"]));
}

#[tokio::test]
async fn greet_user_and_missing_key_web_search() {
    let app = app(&[]);
    let (_, _, body) = rpc(
        &app,
        call_body(3, "greet_user", json!({"name": "Ada"}), None),
    )
    .await;
    let result = final_result(&body);
    assert_eq!(
        result["result"]["content"][0]["text"],
        "Hello, Ada! Welcome."
    );
    let (status, _, body) = rpc(
        &app,
        call_body(4, "web_search", json!({"query": "q"}), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let result = final_result(&body);
    assert!(
        result.get("error").is_none(),
        "never a protocol error: {result}"
    );
    assert_eq!(result["result"]["isError"], true);
    assert!(
        result["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("OPENAI_API_KEY")
    );
}

#[tokio::test]
async fn answer_with_line_separators_is_escaped_in_the_body() {
    let upstream = MockUpstream::start().await;
    let base = upstream.base_url();
    let app = app(&[("OPENAI_BASE_URL", &base), ("OPENAI_API_KEY", TEST_KEY)]);
    let (status, _, body) = rpc(
        &app,
        call_body(5, "web_search", json!({"query": "q [x85]"}), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let raw = String::from_utf8(body.clone()).unwrap();
    assert!(
        raw.contains(r"one\u0085line two\u2028line three\u2029end"),
        "{raw}"
    );
    assert!(!raw.contains('\u{85}') && !raw.contains('\u{2028}') && !raw.contains('\u{2029}'));
    let result = final_result(&body);
    assert_eq!(
        result["result"]["structuredContent"]["answer"],
        "Line one\u{85}line two\u{2028}line three\u{2029}end [1]."
    );
}

#[tokio::test]
async fn malformed_requests_get_jsonrpc_errors() {
    let app = app(&[("MAX_BODY_BYTES", "1000")]);
    // Not JSON.
    let (status, content_type, body) =
        send(&app, post().body(Body::from("{\"jsonrpc\":")).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type, "application/json");
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], -32700);
    // JSON, but not JSON-RPC.
    let (status, _, body) = rpc(&app, json!({"hello": "world"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        -32600
    );
    // Unknown method: a JSON-RPC error, the process keeps serving.
    let (_, _, body) = rpc(
        &app,
        json!({"jsonrpc": "2.0", "id": 9, "method": "no/such"}),
    )
    .await;
    let messages = sse_messages(std::str::from_utf8(&body).unwrap());
    let error = messages
        .first()
        .cloned()
        .unwrap_or_else(|| serde_json::from_slice(&body).unwrap());
    assert_eq!(error["error"]["code"], -32601);
    // Unknown tool.
    let (_, _, body) = rpc(&app, call_body(10, "nope", json!({}), None)).await;
    assert!(final_result(&body)["error"]["code"].is_number());
    // Bad tool arguments: a tool error, not a crash.
    let (_, _, body) = rpc(&app, call_body(11, "web_search", json!({"query": 5}), None)).await;
    assert_eq!(final_result(&body)["result"]["isError"], true);
    // Wrong content type.
    let request = Request::post("/mcp")
        .header("host", "x")
        .header("content-type", "text/plain")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(initialize_body(1).to_string()))
        .unwrap();
    let (status, content_type, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(content_type, "application/json");
    assert!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Content-Type")
    );
    // Accept without text/event-stream.
    let request = Request::post("/mcp")
        .header("host", "x")
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(Body::from(initialize_body(1).to_string()))
        .unwrap();
    assert_eq!(send(&app, request).await.0, StatusCode::NOT_ACCEPTABLE);
    // Too large.
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "greet_user", "arguments": {"name": "x".repeat(2000)}}});
    let (status, _, body) = rpc(&app, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MAX_BODY_BYTES")
    );
    // GET and DELETE are not offered by a stateless server.
    let (status, _, _) = send(
        &app,
        Request::get("/mcp")
            .header("host", "x")
            .header("accept", "text/event-stream")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _, _) = send(
        &app,
        Request::delete("/mcp")
            .header("host", "x")
            .header("mcp-session-id", "s")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // Still serving.
    let (status, _, body) = rpc(&app, initialize_body(12)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(final_result(&body)["result"].is_object());
}

#[tokio::test]
async fn notifications_are_accepted() {
    let app = app(&[]);
    let (status, _, _) = rpc(
        &app,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, _) = rpc(&app, json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 77, "reason": "user"}})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn host_allow_list() {
    let open = app(&[]);
    let request = post()
        .header("host", "bedrock-agentcore.us-east-1.amazonaws.com")
        .body(Body::from(initialize_body(1).to_string()))
        .unwrap();
    assert_eq!(
        send(&open, request).await.0,
        StatusCode::OK,
        "any Host by default"
    );

    let closed = app(&[("ALLOWED_HOSTS", "localhost,127.0.0.1:8000")]);
    let with_host = |host: &str| {
        let mut builder = Request::post("/mcp").header("host", host);
        for (k, v) in agentcore_headers() {
            builder = builder.header(k, v);
        }
        builder
            .body(Body::from(initialize_body(1).to_string()))
            .unwrap()
    };
    assert_eq!(
        send(&closed, with_host("localhost:1234")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&closed, with_host("127.0.0.1:8000")).await.0,
        StatusCode::OK
    );
    let (status, _, body) = send(&closed, with_host("evil.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("Host"));
    assert_eq!(
        send(&closed, with_host("127.0.0.1:9000")).await.0,
        StatusCode::FORBIDDEN
    );
}

// The HTTP layer decides how to serve a POST (does a tool call need its SSE
// stream started early? does a notification cancel a call running on another
// POST?) from the JSON-RPC method of the body, not from bytes in it.

#[tokio::test]
async fn tool_calls_whose_arguments_mention_tools_call_are_served() {
    let upstream = MockUpstream::start().await;
    let base = upstream.base_url();
    let app = app(&[("OPENAI_BASE_URL", &base), ("OPENAI_API_KEY", TEST_KEY)]);
    let (status, _, body) = rpc(
        &app,
        call_body(1, "greet_user", json!({"name": "tools/call"}), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let result = final_result(&body);
    assert_eq!(result["id"], 1);
    assert_eq!(
        result["result"]["content"][0]["text"],
        "Hello, tools/call! Welcome."
    );
    let (status, _, body) = rpc(
        &app,
        call_body(
            2,
            "web_search",
            json!({"query": "what is tools/call"}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let result = final_result(&body);
    assert_eq!(result["id"], 2);
    assert_eq!(result["result"]["isError"], false, "{result}");
    assert!(
        result["result"]["structuredContent"]["answer"]
            .as_str()
            .unwrap()
            .starts_with("Answer to: what is tools/call."),
        "{result}"
    );
    assert_eq!(upstream.log.request_count(), 1);
    assert_eq!(
        upstream.log.requests.lock().unwrap()[0].1["input"],
        "what is tools/call"
    );
}

#[tokio::test]
async fn other_requests_mentioning_tools_call_are_served_as_what_they_are() {
    let app = app(&[]);
    // The id and a parameter spell the method of another request.
    let (status, content_type, body) = rpc(
        &app,
        json!({"jsonrpc": "2.0", "id": "tools/call", "method": "tools/list",
               "params": {"_meta": {"note": "not a tools/call"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/event-stream");
    let result = final_result(&body);
    assert_eq!(result["id"], "tools/call");
    assert_eq!(result["result"]["tools"].as_array().unwrap().len(), 2);
    let (status, _, body) = rpc(
        &app,
        json!({"jsonrpc": "2.0", "id": "tools/call", "method": "ping",
               "params": {"_meta": {"method": "tools/call"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let result = final_result(&body);
    assert_eq!(result["id"], "tools/call");
    assert_eq!(result["result"], json!({}));
    // A notification that mentions it is still just accepted.
    let (status, _, body) = rpc(
        &app,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized",
               "params": {"_meta": {"next": "tools/call"}}}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Not a JSON-RPC message at all, though its first string is "tools/call":
    // still the same 400 Invalid Request.
    let (status, content_type, body) = send(
        &app,
        post()
            .body(Body::from(r#"["tools/call", {"name": "greet_user"}]"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        -32600
    );
}

/// A `POST /mcp` in the per-request (2026-07-28) protocol style, for which
/// rmcp sends nothing until the handler's first message.
fn per_request_post(method: &str) -> axum::http::request::Builder {
    Request::post("/mcp")
        .header("host", "agentcore.internal:8000")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .header("x-amzn-bedrock-agentcore-runtime-session-id", "s-1")
}

#[tokio::test]
async fn a_tool_call_is_recognised_by_its_method_even_with_an_escaped_slash() {
    let upstream = MockUpstream::start().await;
    let base = upstream.base_url();
    let app = app(&[
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_API_KEY", TEST_KEY),
        ("SSE_KEEP_ALIVE_SECS", "0.2"),
    ]);
    // `tools\/call` is `tools/call` in JSON, but not in bytes.
    let body = r#"{"jsonrpc": "2.0", "id": 7, "method": "tools\/call", "params": {
        "name": "web_search", "arguments": {"query": "q [slow=2000]"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"}
        }}}"#;
    let request = per_request_post("tools/call")
        .header("mcp-name", "web_search")
        .body(Body::from(body))
        .unwrap();
    let started = Instant::now();
    let response = app.clone().oneshot(request).await.unwrap();
    let headers_after = started.elapsed();
    assert!(
        headers_after < Duration::from_millis(1500),
        "a tool call's stream starts at once, not after the search: {headers_after:?}"
    );
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.starts_with(": keep-alive"), "{text}");
    let result = final_result(&body);
    assert_eq!(result["id"], 7);
    assert_eq!(result["result"]["isError"], false, "{result}");
}

#[tokio::test]
async fn a_cancellation_is_recognised_by_its_method_even_with_an_escaped_slash() {
    let upstream = MockUpstream::start().await;
    let base = upstream.base_url();
    let app = app(&[("OPENAI_BASE_URL", &base), ("OPENAI_API_KEY", TEST_KEY)]);
    let call = tokio::spawn({
        let app = app.clone();
        async move {
            rpc(
                &app,
                call_body(42, "web_search", json!({"query": "q [slow=20000]"}), None),
            )
            .await
        }
    });
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 1).await);
    let (status, _, _) = send(
        &app,
        post()
            .body(Body::from(
                r#"{"jsonrpc": "2.0", "method": "notifications\/cancelled",
                    "params": {"requestId": 42, "reason": "user pressed stop"}}"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        eventually(Duration::from_secs(5), || upstream.log.aborted() == 1).await,
        "upstream not aborted"
    );
    let (status, _, _) = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("call ended")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(upstream.log.completed(), 0);
}

// `POST /mcp/`: AgentCore's troubleshooting guide names the MCP path with a
// trailing slash, so that path is the same endpoint as `/mcp`.

/// Status, content type, `Allow` header and body (the JSON-RPC messages of an
/// SSE body, else the JSON body, else the text).
async fn exchange(app: &Router, request: Request<Body>) -> (StatusCode, String, String, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let content_type = header("content-type");
    let allow = header("allow");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let body = if content_type.starts_with("text/event-stream") {
        Value::Array(sse_messages(&text))
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, content_type, allow, body)
}

#[tokio::test]
async fn mcp_with_a_trailing_slash_is_the_same_endpoint() {
    let app = app(&[("MAX_BODY_BYTES", "1000")]);
    let with_headers = |builder: axum::http::request::Builder| {
        let mut builder = builder.header("host", "agentcore.internal:8000");
        for (k, v) in agentcore_headers() {
            builder = builder.header(k, v);
        }
        builder
    };
    let requests = |path: &str| -> Vec<(&'static str, Request<Body>)> {
        let post = |body: String| {
            with_headers(Request::post(path))
                .body(Body::from(body))
                .unwrap()
        };
        vec![
            ("initialize", post(initialize_body(1).to_string())),
            (
                "tools/list",
                post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string()),
            ),
            (
                "greet_user",
                post(call_body(3, "greet_user", json!({"name": "Ada"}), None).to_string()),
            ),
            (
                "web_search without a key",
                post(call_body(4, "web_search", json!({"query": "q"}), None).to_string()),
            ),
            (
                "notification",
                post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string()),
            ),
            (
                "cancellation",
                post(
                    json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                            "params": {"requestId": 77}})
                    .to_string(),
                ),
            ),
            ("not JSON", post("{\"jsonrpc\":".into())),
            ("not JSON-RPC", post(json!({"hello": "world"}).to_string())),
            (
                "too large",
                post(
                    call_body(5, "greet_user", json!({"name": "x".repeat(2000)}), None).to_string(),
                ),
            ),
            (
                "wrong content type",
                Request::post(path)
                    .header("host", "x")
                    .header("content-type", "text/plain")
                    .header("accept", "application/json, text/event-stream")
                    .body(Body::from(initialize_body(6).to_string()))
                    .unwrap(),
            ),
            (
                "GET",
                Request::get(path)
                    .header("host", "x")
                    .header("accept", "text/event-stream")
                    .body(Body::empty())
                    .unwrap(),
            ),
            (
                "DELETE",
                with_headers(Request::delete(path))
                    .body(Body::empty())
                    .unwrap(),
            ),
        ]
    };
    let mut statuses = Vec::new();
    for ((what, plain), (_, slash)) in requests("/mcp").into_iter().zip(requests("/mcp/")) {
        let expected = exchange(&app, plain).await;
        let got = exchange(&app, slash).await;
        assert_eq!(got, expected, "{what}: /mcp/ differs from /mcp");
        statuses.push(got.0.as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 202, 202, 400, 400, 413, 415, 405, 405]
    );
    // And it really is the MCP endpoint, served from the start of the stream.
    let (_, content_type, _, messages) = exchange(
        &app,
        with_headers(Request::post("/mcp/"))
            .body(Body::from(
                call_body(7, "greet_user", json!({"name": "Bo"}), None).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(content_type, "text/event-stream");
    assert_eq!(messages[0]["id"], 7);
    assert_eq!(
        messages[0]["result"]["content"][0]["text"],
        "Hello, Bo! Welcome."
    );
}

// `GET /ping` says `HealthyBusy` while a tool call runs, so AgentCore does
// not reclaim the session mid-search, and `time_of_last_update` is when the
// status last changed (AgentCore measures idle time from it).

#[tokio::test]
async fn ping_is_busy_while_tool_calls_run() {
    let upstream = MockUpstream::start().await;
    let base = upstream.base_url();
    let before = unix_now();
    let app = app(&[("OPENAI_BASE_URL", &base), ("OPENAI_API_KEY", TEST_KEY)]);
    let (status, started) = ping(&app).await;
    assert_eq!(status, "Healthy");
    assert!((before..=unix_now()).contains(&started));

    let called = unix_now();
    let long = tokio::spawn({
        let app = app.clone();
        async move {
            rpc(
                &app,
                call_body(1, "web_search", json!({"query": "long [slow=4000]"}), None),
            )
            .await
        }
    });
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 1).await);
    let (status, busy_since) = ping(&app).await;
    assert_eq!(status, "HealthyBusy", "a search is running");
    assert!(
        (called..=unix_now()).contains(&busy_since),
        "busy since the call started: {busy_since}, called at {called}"
    );

    // A second call, started over a second later, changes neither the
    // status nor its timestamp, and neither does its end while the first
    // still runs.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let short = tokio::spawn({
        let app = app.clone();
        async move {
            rpc(
                &app,
                call_body(2, "web_search", json!({"query": "short [slow=1000]"}), None),
            )
            .await
        }
    });
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 2).await);
    assert_eq!(ping(&app).await, ("HealthyBusy".into(), busy_since));
    let (status, _, body) = short.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(final_result(&body)["result"]["isError"], false);
    assert!(!long.is_finished());
    assert_eq!(
        ping(&app).await,
        ("HealthyBusy".into(), busy_since),
        "one call still runs"
    );

    let (status, _, body) = long.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(final_result(&body)["result"]["isError"], false);
    let (status, idle_since) = ping(&app).await;
    assert_eq!(status, "Healthy", "no call runs");
    assert!(
        idle_since >= busy_since + 3 && idle_since <= unix_now(),
        "idle since the 4 s call ended: {idle_since}, busy since {busy_since}"
    );
    // Pings themselves do not move it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(ping(&app).await, ("Healthy".into(), idle_since));
}

#[tokio::test]
async fn ping_returns_to_healthy_when_a_call_fails_or_is_cancelled() {
    let upstream = MockUpstream::start().await;
    let base = upstream.base_url();
    let app = app(&[
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_API_KEY", TEST_KEY),
        ("OPENAI_MAX_RETRIES", "0"),
        ("OPENAI_TIMEOUT_SECS", "1"),
    ]);
    // Failed searches: busy while they run, healthy once the error is produced.
    for (id, query, expected) in [
        (1, "q [slow=600] [500]", "HTTP 500"),
        (2, "q [slow=600] [401]", "HTTP 401"),
        (3, "q [hang]", "within 1s"),
    ] {
        let call = tokio::spawn({
            let app = app.clone();
            async move {
                rpc(
                    &app,
                    call_body(id, "web_search", json!({"query": query}), None),
                )
                .await
            }
        });
        assert_eq!(
            ping_until(&app, "HealthyBusy", Duration::from_secs(5))
                .await
                .0,
            "HealthyBusy",
            "{query}"
        );
        let (_, _, body) = call.await.unwrap();
        let result = final_result(&body);
        assert_eq!(result["result"]["isError"], true, "{query}: {result}");
        let text = result["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(expected), "{query}: {text}");
        assert_eq!(ping(&app).await.0, "Healthy", "after {query}");
    }
    // Calls rejected before any search starts.
    let (_, _, body) = rpc(&app, call_body(4, "web_search", json!({"query": 5}), None)).await;
    assert_eq!(final_result(&body)["result"]["isError"], true);
    assert_eq!(ping(&app).await.0, "Healthy");
    let (_, _, body) = rpc(&app, call_body(5, "no_such_tool", json!({}), None)).await;
    assert!(final_result(&body)["error"].is_object());
    assert_eq!(ping(&app).await.0, "Healthy");

    // Cancelled by `notifications/cancelled` on another POST.
    let call = start_slow_search(&app, 42).await;
    let (status, _, _) = rpc(
        &app,
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
               "params": {"requestId": 42, "reason": "user pressed stop"}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        ping_until(&app, "Healthy", Duration::from_secs(5)).await.0,
        "Healthy",
        "a cancelled call is no longer in flight"
    );
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("cancelled call answered")
        .unwrap();

    // The client went away: its request and response stream are dropped.
    let before = upstream.log.aborted();
    let call = start_slow_search(&app, 43).await;
    call.abort();
    assert_eq!(
        ping_until(&app, "Healthy", Duration::from_secs(5)).await.0,
        "Healthy",
        "a call whose client left is no longer in flight"
    );
    assert!(eventually(Duration::from_secs(5), || upstream.log.aborted() > before).await);
}
