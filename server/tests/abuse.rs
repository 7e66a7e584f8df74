//! The real binary under abuse, over raw TCP on loopback: requests whose
//! headers or body never finish, a thousand such connections held at once,
//! more connections than `MAX_CONNECTIONS` (only `GET /ping` is still
//! answered above it), and shutdown while they are held.
//! Each case sets small limits through the environment and is bounded well
//! under 30 s.

mod support;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{
    MockUpstream, ServerProcess, TEST_KEY, call_body, eventually, final_result, initialize_body,
    ping_state, post_raw,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The most any single step may take before the test fails, far above the
/// limits the servers here are given.
const PATIENCE: Duration = Duration::from_secs(10);

async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// Reads until the server closes the connection (EOF or reset); returns what
/// it sent and when it closed. Fails if it is still open after [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("connection still open after {PATIENCE:?}"));
    (received, closed)
}

/// Reads one response with a `content-length` body; returns its head
/// (lower-cased) and body.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .expect("content-length");
                if received.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]);
                    return (head, body.into_owned());
                }
            }
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed mid-response: {received:?}");
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("response in time")
}

const PING: &[u8] = b"GET /ping HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";

/// `GET /ping` on an open keep-alive connection: the status must be Healthy.
async fn ping_on(stream: &mut TcpStream) {
    stream.write_all(PING).await.unwrap();
    let (head, body) = read_response(stream).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    ping_state(&serde_json::from_str::<Value>(&body).unwrap());
}

/// `GET /ping` on a new connection (a new client, so no pooled connection);
/// returns the status code and how long it took.
async fn ping_fresh(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let response = client
        .get(format!("http://{addr}/ping"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    (status, started.elapsed())
}

/// A new connection on which `GET /ping` is answered 200 and kept open,
/// retried while the server is at its connection limit (where a ping is
/// answered too, but the connection closed) for up to 5 s.
async fn served_connection(addr: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = connect(addr).await;
        stream.write_all(PING).await.unwrap();
        let (head, _) = read_response(&mut stream).await;
        if head.starts_with("http/1.1 200") && !head.contains("\r\nconnection: close") {
            return stream;
        }
        assert!(
            head.starts_with("http/1.1 200") || head.starts_with("http/1.1 503"),
            "{head}"
        );
        assert!(
            Instant::now() < deadline,
            "still refused 5 s after connections closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Request headers cut off in the middle.
fn half_headers() -> Vec<u8> {
    b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: appl"
        .to_vec()
}

/// Complete headers announcing a 1,000,000-byte body, and 10 bytes of it.
fn short_body(path: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-06-18\r\n\
         content-length: 1000000\r\n\r\n{{\"jsonrpc\""
    )
    .into_bytes()
}

/// A connection that sends half its headers, one that sends nothing, and an
/// idle keep-alive connection after a served request are all closed once
/// `HEADER_READ_TIMEOUT_SECS` has passed, not before and not much later.
#[tokio::test(flavor = "multi_thread")]
async fn half_sent_headers_and_idle_connections_are_closed_after_the_header_timeout() {
    let server = ServerProcess::start(None, &[("HEADER_READ_TIMEOUT_SECS", "1")]);
    let timeout = Duration::from_secs(1);

    let mut half = connect(server.addr).await;
    let half_opened = Instant::now();
    half.write_all(&half_headers()).await.unwrap();
    let mut silent = connect(server.addr).await;
    let silent_opened = Instant::now();
    let mut idle = connect(server.addr).await;
    ping_on(&mut idle).await;
    let idle_since = Instant::now();

    for (name, stream, since) in [
        ("half headers", &mut half, half_opened),
        ("nothing sent", &mut silent, silent_opened),
        ("idle keep-alive", &mut idle, idle_since),
    ] {
        let (received, closed) = read_until_closed(stream).await;
        let after = closed - since;
        assert!(
            after >= timeout - Duration::from_millis(300),
            "{name}: closed after {after:?}, before the timeout"
        );
        assert!(
            after < timeout + Duration::from_secs(4),
            "{name}: closed only after {after:?}"
        );
        assert!(
            received.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&received)
        );
    }
    // A request whose headers arrive slowly but within the timeout is served.
    let mut slow = connect(server.addr).await;
    for part in PING.chunks(8) {
        slow.write_all(part).await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let (head, _) = read_response(&mut slow).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(ping_fresh(server.addr).await.0, 200);
}

/// `Content-Length: 1000000` with a 10-byte body: `/mcp` answers 408 (a
/// JSON-RPC error naming `BODY_READ_TIMEOUT_SECS`, `connection: close`) once
/// the body timeout has passed, and closes. The header timeout, shorter
/// still, does not apply to the body. A route that never reads its body
/// answers at once and closes without waiting for the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_shorter_than_its_content_length_gets_408_after_the_body_timeout() {
    let server = ServerProcess::start(
        None,
        &[
            ("BODY_READ_TIMEOUT_SECS", "2"),
            ("HEADER_READ_TIMEOUT_SECS", "1"),
        ],
    );
    let timeout = Duration::from_secs(2);
    for path in ["/mcp", "/mcp/"] {
        let mut stream = connect(server.addr).await;
        stream.write_all(&short_body(path)).await.unwrap();
        let sent = Instant::now();
        let (head, body) = read_response(&mut stream).await;
        let after = sent.elapsed();
        assert!(head.starts_with("http/1.1 408"), "{path}: {head}");
        assert!(head.contains("\r\nconnection: close"), "{path}: {head}");
        assert!(
            after >= timeout - Duration::from_millis(100)
                && after < timeout + Duration::from_secs(4),
            "{path}: 408 after {after:?}"
        );
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["jsonrpc"], "2.0");
        assert_eq!(error["error"]["code"], -32600);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("BODY_READ_TIMEOUT_SECS"), "{message}");
        let (rest, _) = read_until_closed(&mut stream).await;
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    }

    let mut stream = connect(server.addr).await;
    let sent = Instant::now();
    stream
        .write_all(
            b"GET /ping HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 1000000\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let (_, closed) = read_until_closed(&mut stream).await;
    assert!(
        closed - sent < Duration::from_millis(1500),
        "closed after {:?}",
        closed - sent
    );
    assert_eq!(ping_fresh(server.addr).await.0, 200);
    assert!(server.logs().iter().all(|l| !l.contains("panicked")));
}

/// 500 connections with half their headers and 500 with a body that never
/// ends are held open (the timeouts are a minute): `/ping` (new and
/// keep-alive connections) and an MCP `initialize`, `tools/list` and
/// `greet_user` are still answered, each within 2 s, and the held
/// connections are still open afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn ping_and_mcp_calls_are_served_while_1000_slow_connections_are_held() {
    let server = ServerProcess::start(
        None,
        &[
            ("HEADER_READ_TIMEOUT_SECS", "60"),
            ("BODY_READ_TIMEOUT_SECS", "60"),
        ],
    );
    let mut keep_alive = connect(server.addr).await;
    ping_on(&mut keep_alive).await;

    let mut held = Vec::with_capacity(1000);
    for i in 0..1000 {
        let mut stream = connect(server.addr).await;
        let bytes = if i % 2 == 0 {
            half_headers()
        } else {
            short_body("/mcp")
        };
        stream.write_all(&bytes).await.unwrap();
        held.push(stream);
    }

    let bound = Duration::from_secs(2);
    for _ in 0..3 {
        let (status, took) = ping_fresh(server.addr).await;
        assert_eq!(status, 200);
        assert!(took < bound, "/ping took {took:?}");
        let started = Instant::now();
        ping_on(&mut keep_alive).await;
        assert!(
            started.elapsed() < bound,
            "keep-alive /ping took {:?}",
            started.elapsed()
        );
    }
    let url = server.url();
    let requests = [
        initialize_body(1),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        call_body(3, "greet_user", json!({"name": "Ada"}), None),
    ];
    for request in &requests {
        let started = Instant::now();
        let (status, _, body) = tokio::time::timeout(bound, post_raw(&url, request))
            .await
            .unwrap_or_else(|_| panic!("{request} took over {bound:?}"));
        assert!(status == 200 || status == 202, "{status} for {request}");
        if request.get("id").is_some() {
            let result = final_result(&body);
            assert!(result.get("result").is_some(), "{result}");
        }
        assert!(started.elapsed() < bound);
    }
    let (status, _, body) = post_raw(&url, &requests[2]).await;
    assert_eq!(status, 200);
    assert_eq!(
        final_result(&body)["result"]["tools"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // None of the held connections was answered or closed meanwhile.
    let still_open = futures::future::join_all(held.iter_mut().map(|stream| async move {
        let mut buf = [0u8; 64];
        tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf))
            .await
            .is_err()
    }))
    .await;
    let open = still_open.iter().filter(|open| **open).count();
    assert_eq!(open, 1000, "held connections closed early");
    drop(held);
    assert_eq!(ping_fresh(server.addr).await.0, 200);
}

/// An MCP request on a new connection, over raw TCP.
const TOOLS_LIST: &[u8] =
    b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-06-18\r\n\
content-length: 46\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";

/// With `MAX_CONNECTIONS=8` and 8 connections open, a ninth (an MCP request)
/// gets an immediate 503 with `retry-after`, `connection: close` and a text
/// body naming the limit, then is closed, while the 8 are still served; once
/// some of them close, new connections are served again. The refusal is
/// logged.
#[tokio::test(flavor = "multi_thread")]
async fn above_max_connections_new_connections_are_refused_then_served_again() {
    let server = ServerProcess::start(
        None,
        &[("MAX_CONNECTIONS", "8"), ("HEADER_READ_TIMEOUT_SECS", "30")],
    );
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(connect(server.addr).await);
    }

    for _ in 0..3 {
        let started = Instant::now();
        let mut extra = connect(server.addr).await;
        extra.write_all(TOOLS_LIST).await.unwrap();
        let (received, closed) = read_until_closed(&mut extra).await;
        let text = String::from_utf8(received).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{text:?}"
        );
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let head = head.to_lowercase();
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(head.contains("\r\nretry-after: 1"), "{head}");
        assert!(head.contains("\r\ncontent-type: text/plain"), "{head}");
        assert!(
            body.contains("8 open connections (MAX_CONNECTIONS)"),
            "{body}"
        );
        assert!(
            closed - started < Duration::from_secs(2),
            "{:?}",
            closed - started
        );
    }
    // What an HTTP client makes of it.
    let started = Instant::now();
    let (status, _, _) = post_raw(
        &server.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The connections within the limit are served, and stay open.
    for stream in &mut open {
        ping_on(stream).await;
    }
    ping_on(&mut open[0]).await;

    // Three close: three new connections are served (once the server has
    // seen the closes, and those of the clients that retried meanwhile).
    open.truncate(5);
    for _ in 0..3 {
        open.push(served_connection(server.addr).await);
    }
    for stream in &mut open {
        ping_on(stream).await;
    }
    let mut extra = connect(server.addr).await;
    let (received, _) = read_until_closed(&mut extra).await;
    assert!(received.starts_with(b"HTTP/1.1 503 "), "full again");

    assert!(
        eventually(Duration::from_secs(2), || {
            server.log_values().iter().any(|l| {
                l["level"] == "WARN"
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("connection limit reached"))
                    && l["max_connections"] == 8
            })
        })
        .await,
        "{:#?}",
        server.logs()
    );
}

/// At `MAX_CONNECTIONS=4`, filled by two searches in flight, a keep-alive
/// connection and a silent one: `GET /ping` on new connections (raw, and
/// through an HTTP client) is still answered 200 with the health body,
/// `HealthyBusy` since searches run, and the connection closed; an MCP
/// request, or any other request, on a new connection still gets the 503.
/// The connections within the cap are served as before.
#[tokio::test(flavor = "multi_thread")]
async fn at_max_connections_ping_is_still_answered_and_mcp_refused() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[
            ("OPENAI_API_KEY", TEST_KEY),
            ("MAX_CONNECTIONS", "4"),
            ("HEADER_READ_TIMEOUT_SECS", "30"),
        ],
    );
    let mut keep_alive = connect(server.addr).await;
    ping_on(&mut keep_alive).await;
    let url = server.url();
    let searches: Vec<_> = (0..2)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                post_raw(
                    &url,
                    &call_body(i, "web_search", json!({"query": "q [hang]"}), None),
                )
                .await
            })
        })
        .collect();
    assert!(
        eventually(PATIENCE, || upstream.log.request_count() == 2).await,
        "both searches reached the stand-in"
    );
    // The fourth connection, accepted before any connection opened after it.
    let _silent = connect(server.addr).await;

    for _ in 0..3 {
        let mut probe = connect(server.addr).await;
        probe.write_all(PING).await.unwrap();
        let (received, _) = read_until_closed(&mut probe).await;
        let text = String::from_utf8(received).unwrap();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("{text:?}"));
        let head = head.to_lowercase();
        assert!(head.starts_with("http/1.1 200 ok\r\n"), "{text:?}");
        assert!(
            head.contains("\r\ncontent-type: application/json"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close"), "{head}");
        let (status, _) = ping_state(&serde_json::from_str::<Value>(body).unwrap());
        assert_eq!(status, "HealthyBusy", "two searches run");
    }
    // As an HTTP client (an AgentCore health check) sees it.
    let (status, _) = ping_fresh(server.addr).await;
    assert_eq!(status, 200);

    // Anything else over the cap is refused, as before.
    let (status, _, body) = post_raw(
        &url,
        &call_body(9, "greet_user", json!({"name": "Ada"}), None),
    )
    .await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("4 open connections (MAX_CONNECTIONS)"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    for request in [
        TOOLS_LIST,
        b"GET /ping/ HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
        b"POST /ping HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n",
    ] {
        let mut probe = connect(server.addr).await;
        probe.write_all(request).await.unwrap();
        let (received, _) = read_until_closed(&mut probe).await;
        assert!(
            received.starts_with(b"HTTP/1.1 503 "),
            "{}: {}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(&received)
        );
    }

    // Within the cap, nothing changed: the keep-alive connection is served
    // and the searches are still running.
    ping_on(&mut keep_alive).await;
    assert!(searches.iter().all(|search| !search.is_finished()));
    for search in searches {
        search.abort();
    }
}

/// The read timeouts bound reading the request, not writing the response: a
/// tool call answering after 3 s, with both timeouts at 1 s, streams its
/// keep-alives and result in full.
#[tokio::test(flavor = "multi_thread")]
async fn long_responses_are_not_cut_by_the_read_timeouts() {
    let upstream = MockUpstream::start().await;
    let server = ServerProcess::start(
        Some(&upstream.base_url()),
        &[
            ("OPENAI_API_KEY", TEST_KEY),
            ("HEADER_READ_TIMEOUT_SECS", "1"),
            ("BODY_READ_TIMEOUT_SECS", "1"),
            ("SSE_KEEP_ALIVE_SECS", "1"),
        ],
    );
    let started = Instant::now();
    let (status, headers, body) = post_raw(
        &server.url(),
        &call_body(1, "web_search", json!({"query": "q [slow=3000]"}), None),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let result = final_result(&body);
    assert_eq!(result["id"], 1);
    assert_eq!(result["result"]["isError"], false, "{result}");
}

/// SIGTERM while connections with half-sent headers are held: they cannot
/// hold the drain past the header timeout, so the process exits well within
/// its grace period, drained.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_is_not_held_by_half_open_connections() {
    let mut server = ServerProcess::start(
        None,
        &[
            ("HEADER_READ_TIMEOUT_SECS", "2"),
            ("SHUTDOWN_GRACE_SECS", "20"),
        ],
    );
    let mut held = Vec::new();
    for i in 0..50 {
        let mut stream = connect(server.addr).await;
        if i % 2 == 0 {
            stream.write_all(&half_headers()).await.unwrap();
        } else {
            ping_on(&mut stream).await;
        }
        held.push(stream);
    }
    let started = Instant::now();
    server.terminate();
    let exit = server
        .wait_exit(Duration::from_secs(8))
        .expect("exited before the grace period ended");
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let logs = server.logs().join("\n");
    assert!(logs.contains("drained"), "{logs}");
}
