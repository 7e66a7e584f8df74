//! The real binary against Responses API stand-ins that answer too much or
//! refuse the key: `OPENAI_MAX_RESPONSE_BYTES` (oversized answers, with and
//! without `Content-Length`, are tool errors and are not read past the cap;
//! answers under it work; bad values stop the server at startup) and 401/403
//! (one request, never retried, the key refused and never shown).

mod support;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{
    MockUpstream, ServerProcess, TEST_KEY, call_body, eventually, final_result, post_raw,
};

/// The cap the servers here get: 64 KiB.
const CAP: usize = 64 * 1024;

/// What the stand-ins send when asked for too much: 32 MiB, 512 times the cap.
const HUGE: usize = 32 * 1024 * 1024;

fn start(upstream: &MockUpstream, extra: &[(&str, &str)]) -> ServerProcess {
    let cap = CAP.to_string();
    let mut env = vec![
        ("OPENAI_API_KEY", TEST_KEY),
        ("OPENAI_MAX_RESPONSE_BYTES", cap.as_str()),
        ("OPENAI_MAX_RETRY_WAIT_SECS", "0.1"),
    ];
    env.extend_from_slice(extra);
    ServerProcess::start(Some(&upstream.base_url()), &env)
}

/// `web_search` through `POST /mcp`; returns the tool result and the size of
/// the whole SSE body the client received.
async fn web_search(server: &ServerProcess, id: u64, query: &str) -> (Value, usize) {
    let (status, _, body) = post_raw(
        &server.url(),
        &call_body(id, "web_search", json!({ "query": query }), None),
    )
    .await;
    assert_eq!(status, 200, "{query}");
    let response = final_result(&body);
    assert_eq!(response["id"], id, "{response}");
    let result = response
        .get("result")
        .unwrap_or_else(|| panic!("{query}: a protocol error instead of a tool result: {response}"))
        .clone();
    (result, body.len())
}

fn text_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap()
}

/// `result` for a failure message, cut to 500 characters (an oversized
/// answer would flood the output).
fn short(result: &Value) -> String {
    let text = result.to_string();
    match text.char_indices().nth(500) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text,
    }
}

/// The server's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib(server: &ServerProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}

/// A 32 MiB answer, announced by its `Content-Length` or chunked, with the cap
/// at 64 KiB: the call is a tool error naming the cap and the variable, the
/// request is not retried, the stand-in's body is dropped long before its end
/// (the server stopped reading), the client gets a small SSE body, and the
/// server's peak memory grows by far less than the answer.
#[tokio::test(flavor = "multi_thread")]
async fn answers_over_openai_max_response_bytes_are_tool_errors_and_not_read() {
    let upstream = MockUpstream::start().await;
    let server = start(&upstream, &[]);
    // Warm up (client, pools, one served search) so the peak reflects the big answers.
    let (result, _) = web_search(&server, 1, "warm up").await;
    assert_eq!(result["isError"], false, "{}", short(&result));
    let peak_before = peak_rss_kib(&server);

    let cases = [
        (format!("huge [big={HUGE}]"), true),
        (format!("huge [big-chunked={HUGE}]"), false),
    ];
    for (i, (query, announced)) in cases.iter().enumerate() {
        let requests = upstream.log.request_count();
        let (result, sse_bytes) = web_search(&server, 10 + i as u64, query).await;
        assert_eq!(result["isError"], true, "{query}: {}", short(&result));
        let text = text_of(&result);
        assert!(
            text.contains(&format!("larger than {CAP} bytes"))
                && text.contains("OPENAI_MAX_RESPONSE_BYTES"),
            "{query}: {}",
            short(&result)
        );
        assert_eq!(
            text.contains("Content-Length"),
            *announced,
            "{query}: says how it knew: {text}"
        );
        assert!(sse_bytes < 8 * 1024, "{query}: {sse_bytes} bytes relayed");
        assert_eq!(
            upstream.log.request_count(),
            requests + 1,
            "{query}: not retried"
        );
        assert!(
            eventually(Duration::from_secs(10), || upstream.log.big_dropped()
                == i + 1)
            .await,
            "{query}: the stand-in's body is still being sent"
        );
        assert_eq!(
            upstream.log.big_finished(),
            0,
            "{query}: the server read the whole answer"
        );
    }
    // What the stand-in produced before the server dropped the connection:
    // the cap plus what socket buffers hold, far from the 64 MiB offered.
    assert!(
        upstream.log.big_sent() < HUGE,
        "{} bytes produced",
        upstream.log.big_sent()
    );
    let grown_kib = peak_rss_kib(&server).saturating_sub(peak_before);
    assert!(
        grown_kib < 16 * 1024,
        "peak RSS grew by {grown_kib} KiB for answers the server should not hold"
    );

    // One error line per oversized call (the log reader may lag the answers).
    let failed = || -> Vec<Value> {
        server
            .log_values()
            .into_iter()
            .filter(|l| l["message"] == "tool call" && l["outcome"] == "error")
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(10), || failed().len() == 2).await,
        "{:#?}",
        server.logs()
    );
    let calls = failed();
    assert!(
        calls.iter().all(|c| c["error"] == "response_too_large"),
        "{calls:#?}"
    );
    // Still serving.
    let (result, _) = web_search(&server, 20, "after").await;
    assert_eq!(result["isError"], false, "{result}");
}

/// With the same 64 KiB cap, answers under it (a 60,000-byte answer text,
/// with and without `Content-Length`, and an ordinary answer) come back whole.
#[tokio::test(flavor = "multi_thread")]
async fn answers_under_openai_max_response_bytes_are_served_whole() {
    let upstream = MockUpstream::start().await;
    let server = start(&upstream, &[]);
    let size = 60_000;
    for (id, query) in [
        (1, format!("[big={size}]")),
        (2, format!("[big-chunked={size}]")),
    ] {
        let (result, _) = web_search(&server, id, &query).await;
        assert_eq!(result["isError"], false, "{query}: {}", short(&result));
        let answer = result["structuredContent"]["answer"].as_str().unwrap();
        assert_eq!(answer.len(), size, "{query}");
        assert!(answer.bytes().all(|b| b == b'a'), "{query}");
    }
    assert_eq!(upstream.log.big_finished(), 2);
    let (result, _) = web_search(&server, 3, "when was Rust 1.0 released?").await;
    assert_eq!(result["isError"], false, "{result}");
    assert!(text_of(&result).contains("15 May 2015"), "{result}");
    assert_eq!(upstream.log.request_count(), 3);
}

/// A value that is not a byte count between 1 KiB and 256 MiB stops the
/// binary at startup (exit code 2) with a log line naming the variable, the
/// value and the accepted range or the parse error.
#[test]
fn bad_openai_max_response_bytes_stops_the_server_at_startup() {
    for (value, says) in [
        ("0", "between 1024 (1 KiB) and 268435456 (256 MiB)"),
        ("4", "between 1024 (1 KiB) and 268435456 (256 MiB)"),
        (
            "1099511627776",
            "between 1024 (1 KiB) and 268435456 (256 MiB)",
        ),
        ("4MiB", "invalid digit"),
        ("lots", "invalid digit"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("OPENAI_MAX_RESPONSE_BYTES", value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{value}: the server started");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(status.code(), Some(2), "{value}: {stderr}");
        let line: Value = stderr
            .lines()
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
            .unwrap_or_else(|| panic!("{value}: no log line: {stderr}"));
        assert_eq!(line["message"], "invalid configuration", "{line}");
        let error = line["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("invalid OPENAI_MAX_RESPONSE_BYTES=\"{value}\"")),
            "{error}"
        );
        assert!(error.contains(says), "{value}: {error}");
    }
}

/// A 401 is answered with one request to the stand-in, never retried, even
/// when its body breaks off mid-way (which used to be retried 3 times and
/// reported as "could not reach OpenAI"); the tool error says the key was
/// refused and what to check, and never shows the key, even when the error
/// body echoes it. A 403 is not retried either, cut off or not. No log line
/// holds the key.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_is_asked_once_and_reported_as_refused_without_the_key() {
    let upstream = MockUpstream::start().await;
    let server = start(&upstream, &[("OPENAI_MAX_RETRIES", "2")]);
    let cases = [
        ("q [401]", "HTTP 401", "Incorrect API key"),
        ("q [401] [cut]", "HTTP 401", "broke off"),
        ("q [401] [echo-key]", "HTTP 401", "[the API key, redacted]"),
        ("q [403]", "HTTP 403", "does not have access"),
        ("q [403] [cut]", "HTTP 403", "broke off"),
    ];
    for (i, (query, status, detail)) in cases.iter().enumerate() {
        let requests = upstream.log.request_count();
        let (result, _) = web_search(&server, i as u64 + 1, query).await;
        assert_eq!(
            upstream.log.request_count(),
            requests + 1,
            "{query}: asked OpenAI more than once"
        );
        assert_eq!(result["isError"], true, "{query}: {result}");
        let text = text_of(&result);
        assert!(
            text.contains(status) && text.contains(detail),
            "{query}: {text}"
        );
        assert!(!text.contains("could not reach"), "{query}: {text}");
        assert!(!text.contains(TEST_KEY), "{query}: shows the key: {text}");
        if *status == "HTTP 401" {
            assert!(
                text.starts_with("OpenAI refused the API key (HTTP 401 Unauthorized)")
                    && text.contains("Check OPENAI_API_KEY."),
                "{query}: {text}"
            );
        } else {
            assert!(
                text.contains("refused the request made with this API key"),
                "{text}"
            );
        }
    }
    assert!(
        upstream.log.keys().iter().all(|key| key == TEST_KEY),
        "the stand-in saw the key it refused"
    );
    // The per-call log lines may reach the log reader after the answers.
    let errors = || -> Vec<String> {
        server
            .log_values()
            .into_iter()
            .filter(|l| l["message"] == "tool call")
            .map(|l| l["error"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(10), || errors().len() == cases.len()).await,
        "{:#?}",
        server.logs()
    );
    let logs = server.logs();
    assert!(
        logs.iter().all(|l| !l.contains(TEST_KEY)),
        "the key is in the logs"
    );
    assert_eq!(
        errors(),
        [
            "unauthorized",
            "unauthorized",
            "unauthorized",
            "forbidden",
            "forbidden"
        ]
    );
}
