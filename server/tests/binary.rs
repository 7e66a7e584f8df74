//! The real server binary over a loopback socket: wire format, long calls,
//! cancellation, shutdown and logs.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    MockUpstream, ServerProcess, TEST_KEY, agentcore_headers, call_body, eventually, final_result,
    ping_state, post_raw, sse_messages, unix_now,
};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn request(url: &str, body: &Value) -> reqwest::RequestBuilder {
    let mut request = client().post(url).body(body.to_string());
    for (k, v) in agentcore_headers() {
        request = request.header(k, v);
    }
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn line_separators_are_escaped_on_the_wire() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(Some(&upstream.base_url()), &[("OPENAI_API_KEY", TEST_KEY)]);
    let (status, headers, bytes) = post_raw(
        &server.url(),
        &call_body(1, "web_search", json!({"query": "q [x85]"}), None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let raw = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        raw.contains(r"Line one\u0085line two\u2028line three\u2029end"),
        "{raw}"
    );
    for bad in ["\u{85}", "\u{2028}", "\u{2029}"] {
        assert!(!raw.contains(bad), "raw {bad:?} on the wire: {raw}");
    }
    // Line splitting à la Python's str.splitlines no longer breaks a data line.
    for line in raw.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
        if let Some(data) = line.strip_prefix("data: ") {
            serde_json::from_str::<Value>(data).expect("every data line is whole JSON");
        }
    }
    let result = final_result(&bytes);
    assert_eq!(
        result["result"]["structuredContent"]["answer"],
        "Line one\u{85}line two\u{2028}line three\u{2029}end [1]."
    );
}

/// Streams a call; returns the body, the time to the first byte and the longest silence.
async fn stream_call(url: &str, body: &Value) -> (String, Duration, Duration) {
    let started = Instant::now();
    let mut response = request(url, body).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "headers are sent at once"
    );
    let mut text = String::new();
    let mut last = Instant::now();
    let mut longest_gap = Duration::ZERO;
    let mut first_byte = None;
    while let Some(chunk) = response.chunk().await.unwrap() {
        first_byte.get_or_insert(started.elapsed());
        longest_gap = longest_gap.max(last.elapsed());
        last = Instant::now();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    (text, first_byte.unwrap(), longest_gap)
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_call_gets_keep_alives_then_its_result() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[("OPENAI_API_KEY", TEST_KEY), ("SSE_KEEP_ALIVE_SECS", "1")],
    );
    let started = Instant::now();
    let (body, first_byte, longest_gap) = stream_call(
        &server.url(),
        &call_body(7, "web_search", json!({"query": "q [slow=3500]"}), None),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(3500));
    assert!(
        first_byte < Duration::from_millis(1600),
        "first byte after {first_byte:?}"
    );
    assert!(
        longest_gap < Duration::from_millis(1600),
        "silent for {longest_gap:?}: {body}"
    );
    assert!(
        body.lines().filter(|l| l.starts_with(':')).count() >= 2,
        "keep-alive comments: {body}"
    );
    let messages = sse_messages(&body);
    assert_eq!(messages.len(), 1, "{body}");
    assert_eq!(messages[0]["id"], 7);
    assert_eq!(messages[0]["result"]["isError"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_call_with_progress_token_gets_progress_notifications() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[
            ("OPENAI_API_KEY", TEST_KEY),
            ("PROGRESS_INTERVAL_SECS", "1"),
        ],
    );
    let (body, _, longest_gap) = stream_call(
        &server.url(),
        &call_body(
            8,
            "web_search",
            json!({"query": "q [slow=3500]"}),
            Some("tok-8"),
        ),
    )
    .await;
    assert!(
        longest_gap < Duration::from_millis(1600),
        "silent for {longest_gap:?}: {body}"
    );
    let messages = sse_messages(&body);
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert!(progress.len() >= 3, "{body}");
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "tok-8")
    );
    assert!(
        progress
            .windows(2)
            .all(|w| w[0]["params"]["progress"].as_f64() < w[1]["params"]["progress"].as_f64())
    );
    assert!(
        progress[0]["params"]["message"]
            .as_str()
            .unwrap()
            .contains("searching")
    );
    let last = messages.last().unwrap();
    assert_eq!(last["id"], 8);
    assert_eq!(last["result"]["isError"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_disconnect_aborts_the_upstream_request() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(Some(&upstream.base_url()), &[("OPENAI_API_KEY", TEST_KEY)]);
    let response = request(
        &server.url(),
        &call_body(1, "web_search", json!({"query": "q [slow=20000]"}), None),
    )
    .send()
    .await
    .unwrap();
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 1).await);
    drop(response);
    assert!(
        eventually(Duration::from_secs(5), || upstream.log.aborted() == 1).await,
        "upstream request still running after the client left"
    );
    assert!(
        eventually(Duration::from_secs(2), || server
            .log_values()
            .iter()
            .any(|l| l["outcome"] == "cancelled"))
        .await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled_notification_aborts_the_upstream_request() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(Some(&upstream.base_url()), &[("OPENAI_API_KEY", TEST_KEY)]);
    let call = tokio::spawn({
        let url = server.url();
        async move {
            post_raw(
                &url,
                &call_body(42, "web_search", json!({"query": "q [slow=20000]"}), None),
            )
            .await
        }
    });
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 1).await);
    let (status, _, _) = post_raw(
        &server.url(),
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 42, "reason": "user pressed stop"}}),
    )
    .await;
    assert_eq!(status, 202);
    assert!(
        eventually(Duration::from_secs(5), || upstream.log.aborted() == 1).await,
        "upstream not aborted"
    );
    let (status, _, _) = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("call ended")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(upstream.log.completed(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_in_flight_calls_finish_then_exits_zero() {
    let upstream = MockUpstream::start().await;
    let mut server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[("OPENAI_API_KEY", TEST_KEY), ("SHUTDOWN_GRACE_SECS", "10")],
    );
    let url = server.url();
    let call = tokio::spawn({
        let url = url.clone();
        async move {
            post_raw(
                &url,
                &call_body(5, "web_search", json!({"query": "q [slow=1500]"}), None),
            )
            .await
        }
    });
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 1).await);
    server.terminate();
    // New connections are refused once the signal is handled.
    let refused = eventually(Duration::from_secs(1), || {
        std::net::TcpStream::connect_timeout(&server.addr, Duration::from_millis(100)).is_err()
    })
    .await;
    assert!(refused, "still accepting after SIGTERM");
    let (status, _, body) = call.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        final_result(&body)["result"]["isError"],
        false,
        "the in-flight call completed"
    );
    let exit = server.wait_exit(Duration::from_secs(5)).expect("exited");
    assert!(exit.success(), "{exit:?}");
    let logs = server.logs().join("\n");
    assert!(
        logs.contains("SIGTERM") && logs.contains("drained"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_grace_period_is_bounded() {
    let upstream = MockUpstream::start().await;
    let mut server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[("OPENAI_API_KEY", TEST_KEY), ("SHUTDOWN_GRACE_SECS", "1")],
    );
    let _call = tokio::spawn({
        let url = server.url();
        async move {
            post_raw(
                &url,
                &call_body(5, "web_search", json!({"query": "q [slow=30000]"}), None),
            )
            .await
        }
    });
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 1).await);
    let started = Instant::now();
    server.terminate();
    let exit = server
        .wait_exit(Duration::from_secs(5))
        .expect("exited within the grace period");
    assert!(exit.success());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_key_starts_warns_and_explains() {
    let server = ServerProcess::start(None, &[]);
    let (status, _, body) = post_raw(
        &server.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        final_result(&body)["result"]["tools"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, _, body) = post_raw(
        &server.url(),
        &call_body(2, "web_search", json!({"query": "q"}), None),
    )
    .await;
    let result = final_result(&body);
    assert_eq!(result["result"]["isError"], true);
    assert!(
        result["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Set OPENAI_API_KEY")
    );
    let logs = server.log_values();
    assert!(logs.iter().any(|l| {
        l["level"] == "WARN"
            && l["message"]
                .as_str()
                .unwrap()
                .contains("OPENAI_API_KEY is not set")
    }));
    assert_eq!(ping(&server).await.0, "Healthy");
}

/// `GET /ping` on the wire: `(status, time_of_last_update)`.
async fn ping(server: &ServerProcess) -> (String, u64) {
    let response = reqwest::get(format!("http://{}/ping", server.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    ping_state(&response.json::<Value>().await.unwrap())
}

/// Polls `GET /ping` until it reports `want`, up to `timeout`; returns the
/// last answer.
async fn ping_until(server: &ServerProcess, want: &str, timeout: Duration) -> (String, u64) {
    let deadline = Instant::now() + timeout;
    loop {
        let state = ping(server).await;
        if state.0 == want || Instant::now() >= deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What AgentCore sees: `/ping` says `HealthyBusy` while a call sent to
/// `/mcp/` (the path as its troubleshooting guide writes it) runs, and
/// `Healthy` again once it has ended or its client has gone away.
#[tokio::test(flavor = "multi_thread")]
async fn ping_is_busy_during_calls_to_mcp_with_a_trailing_slash() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(Some(&upstream.base_url()), &[("OPENAI_API_KEY", TEST_KEY)]);
    let slash = format!("{}/", server.url());
    assert!(slash.ends_with("/mcp/"));
    let (status, started) = ping(&server).await;
    assert_eq!(status, "Healthy");

    let called = unix_now();
    let call = tokio::spawn({
        let slash = slash.clone();
        async move {
            post_raw(
                &slash,
                &call_body(1, "web_search", json!({"query": "q [slow=2000]"}), None),
            )
            .await
        }
    });
    let (status, busy_since) = ping_until(&server, "HealthyBusy", Duration::from_secs(5)).await;
    assert_eq!(status, "HealthyBusy");
    assert!(busy_since >= called.max(started) && busy_since <= unix_now());
    let (status, headers, body) = call.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let result = final_result(&body);
    assert_eq!(result["id"], 1);
    assert_eq!(result["result"]["isError"], false, "{result}");
    let (status, idle_since) = ping(&server).await;
    assert_eq!(status, "Healthy");
    assert!(idle_since > busy_since && idle_since <= unix_now());

    // The client disconnects mid-search.
    let response = request(
        &slash,
        &call_body(2, "web_search", json!({"query": "q [slow=20000]"}), None),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        ping_until(&server, "HealthyBusy", Duration::from_secs(5))
            .await
            .0,
        "HealthyBusy"
    );
    drop(response);
    assert_eq!(
        ping_until(&server, "Healthy", Duration::from_secs(5))
            .await
            .0,
        "Healthy",
        "a call whose client left is no longer in flight"
    );
    assert!(eventually(Duration::from_secs(5), || upstream.log.aborted() == 1).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_are_tool_errors_and_logged_once_per_call_without_the_key() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[
            ("OPENAI_API_KEY", TEST_KEY),
            ("OPENAI_TIMEOUT_SECS", "1"),
            ("OPENAI_MAX_RETRIES", "1"),
            ("RUST_LOG", "debug"),
        ],
    );
    let url = server.url();
    let cases = [
        ("q [401]", Some("HTTP 401")),
        ("q [403]", Some("HTTP 403")),
        ("q [500]", Some("HTTP 500")),
        ("q [429-always]", Some("HTTP 429")),
        ("q [hang]", Some("within 1s")),
        ("fine", None),
    ];
    for (i, (query, expected)) in cases.iter().enumerate() {
        let started = Instant::now();
        let (status, _, body) = post_raw(
            &url,
            &call_body(i as u64, "web_search", json!({"query": query}), None),
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{query} took {:?}",
            started.elapsed()
        );
        let result = final_result(&body);
        assert!(
            result.get("error").is_none(),
            "{query}: protocol error {result}"
        );
        let text = result["result"]["content"][0]["text"].as_str().unwrap();
        match expected {
            Some(expected) => {
                assert_eq!(result["result"]["isError"], true, "{query}");
                assert!(text.contains(expected), "{query}: {text}");
            }
            None => assert_eq!(result["result"]["isError"], false),
        }
    }
    post_raw(
        &url,
        &call_body(99, "greet_user", json!({"name": "Ada"}), None),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = server.logs();
    assert!(
        logs.iter().all(|l| !l.contains(TEST_KEY)),
        "API key leaked into the logs"
    );
    let calls: Vec<Value> = server
        .log_values()
        .into_iter()
        .filter(|l| l["message"] == "tool call")
        .collect();
    assert_eq!(calls.len(), cases.len() + 1, "{calls:#?}");
    for call in &calls {
        assert!(
            call["duration_ms"].is_number()
                && call["tool"].is_string()
                && call["outcome"].is_string(),
            "{call}"
        );
    }
    let errors: Vec<&str> = calls.iter().filter_map(|c| c["error"].as_str()).collect();
    assert_eq!(
        errors,
        [
            "unauthorized",
            "forbidden",
            "upstream_5xx",
            "rate_limited",
            "timeout"
        ]
    );
    assert_eq!(calls.last().unwrap()["tool"], "greet_user");
}

/// A tools/call in the per-request (2026-07-28) protocol style, which rmcp
/// answers only once the handler's first message exists.
fn modern_call(url: &str, id: u64, query: &str) -> reqwest::RequestBuilder {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
    "name": "web_search", "arguments": {"query": query},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"}
    }}});
    client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "web_search")
        .header("x-amzn-bedrock-agentcore-runtime-session-id", "s-1")
        .body(body.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn per_request_protocol_calls_also_stream_keep_alives_from_the_start() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[("OPENAI_API_KEY", TEST_KEY), ("SSE_KEEP_ALIVE_SECS", "1")],
    );
    let started = Instant::now();
    let mut response = modern_call(&server.url(), 3, "q [slow=3500]")
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "headers after {:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = String::new();
    let mut last = Instant::now();
    let mut longest_gap = Duration::ZERO;
    while let Some(chunk) = response.chunk().await.unwrap() {
        longest_gap = longest_gap.max(last.elapsed());
        last = Instant::now();
        body.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        longest_gap < Duration::from_millis(1600),
        "silent for {longest_gap:?}: {body}"
    );
    assert!(
        body.lines().filter(|l| l.starts_with(':')).count() >= 2,
        "{body}"
    );
    let result = final_result(body.as_bytes());
    assert_eq!(result["id"], 3);
    assert_eq!(result["result"]["isError"], false, "{result}");

    // A fast call keeps the plain path, and a disconnect still aborts upstream.
    let (status, _, _) = post_raw(
        &server.url(),
        &call_body(4, "greet_user", json!({"name": "A"}), None),
    )
    .await;
    assert_eq!(status, 200);
    let response = modern_call(&server.url(), 5, "q [slow=20000]")
        .send()
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 2).await);
    drop(response);
    assert!(
        eventually(Duration::from_secs(5), || upstream.log.aborted() == 1).await,
        "upstream not aborted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn searches_run_concurrently() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(Some(&upstream.base_url()), &[("OPENAI_API_KEY", TEST_KEY)]);
    let started = Instant::now();
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let url = server.url();
            tokio::spawn(async move {
                post_raw(
                    &url,
                    &call_body(
                        i,
                        "web_search",
                        json!({"query": format!("q{i} [slow=1000]")}),
                        None,
                    ),
                )
                .await
            })
        })
        .collect();
    for call in calls {
        let (status, _, body) = call.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(final_result(&body)["result"]["isError"], false);
    }
    // One at a time would take 16 s.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(upstream.log.completed(), 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_errors_and_the_process_keeps_serving() {
    let server = ServerProcess::start(None, &[("MAX_BODY_BYTES", "1000")]);
    let url = server.url();
    let send = |body: String, content_type: &'static str| {
        client()
            .post(&url)
            .header("content-type", content_type)
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };
    let response = send("{not json".into(), "application/json").await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        -32700
    );
    let response = send("[1, 2]".into(), "application/json").await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        -32600
    );
    let response = send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
        "text/plain",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 415);
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "greet_user", "arguments": {"name": "x".repeat(5000)}}});
    let response = send(big.to_string(), "application/json").await.unwrap();
    assert_eq!(response.status(), 413);
    // Still serving, and nothing crashed.
    let (status, _, body) = post_raw(
        &url,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        final_result(&body)["result"]["tools"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(server.logs().iter().all(|l| !l.contains("panicked")));
}
