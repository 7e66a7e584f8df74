//! Third-party MCP clients against the real server binary over HTTP:
//! the Python SDK at the seed's version (mcp 1.12.2 + httpx-sse 0.4.1) and at
//! the newest version, and the MCP Inspector CLI. Install them with
//! `scripts/server-tools.sh`; these tests fail (never skip) without them.

mod support;

use std::{path::Path, time::Duration};

use serde_json::Value;
use support::{MockUpstream, ServerProcess, TEST_KEY, tool_path};

const SESSION: &str = "8d1f7c2a-agentcore-runtime-session";

fn start_server(upstream: &MockUpstream) -> ServerProcess {
    ServerProcess::start(
        Some(&upstream.base_url()),
        &[
            ("OPENAI_API_KEY", TEST_KEY),
            ("SSE_KEEP_ALIVE_SECS", "1"),
            ("PROGRESS_INTERVAL_SECS", "1"),
        ],
    )
}

/// Runs a client command with a hard timeout; returns its stdout.
async fn run(program: &Path, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(program);
    command.args(args).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} hung", program.display()))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{} {args:?} failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        program.display(),
        output.status
    );
    stdout
}

fn check_python_results(out: &Value) {
    assert_eq!(
        out["tools"],
        serde_json::json!(["greet_user", "web_search"]),
        "{out}"
    );
    assert_eq!(out["web_search_read_only"], true);
    assert_eq!(out["web_search_open_world"], true);
    assert_eq!(out["web_search_output_schema"], true);
    assert_eq!(out["greet"], "Hello, Ada! Welcome.");
    assert_eq!(out["search_is_error"], false, "{out}");
    assert!(
        out["search_text"]
            .as_str()
            .unwrap()
            .contains("Sources:\n[1] Announcing Rust 1.0"),
        "{out}"
    );
    assert_eq!(
        out["search_structured"]["citations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        out["x85_answer"],
        "Line one\u{85}line two\u{2028}line three\u{2029}end [1]."
    );
    assert!(
        out["x85_text"]
            .as_str()
            .unwrap()
            .contains("one\u{85}line two")
    );
    assert_eq!(
        out["slow_is_error"], false,
        "a call longer than the read timeout survives: {out}"
    );
    assert_eq!(out["slow_progress_is_error"], false, "{out}");
    assert!(
        out["progress"].as_array().unwrap().len() >= 2,
        "progress notifications: {out}"
    );
    assert_eq!(out["unauthorized_is_error"], true);
    assert!(
        out["unauthorized_text"]
            .as_str()
            .unwrap()
            .contains("HTTP 401")
    );
}

async fn python_client(venv: &str, extra: &[&str]) -> Value {
    let python = tool_path(&format!("{venv}/bin/python"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/mcp_client_check.py");
    let upstream = MockUpstream::start().await;
    let server = start_server(&upstream);
    let url = server.url();
    let mut args = vec![script.to_str().unwrap(), url.as_str()];
    args.extend_from_slice(extra);
    let stdout = run(&python, &args).await;
    let out: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stdout}"));
    // Every request carried AgentCore's headers and none was rejected.
    assert!(
        server
            .logs()
            .iter()
            .all(|l| !l.contains("\"level\":\"ERROR\"")),
        "{:#?}",
        server.logs()
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_1_12_2_seed_version() {
    let out = python_client("mcp-1.12.2", &[]).await;
    assert_eq!(out["mcp_version"], "1.12.2");
    assert_eq!(out["server_name"], "web-search");
    check_python_results(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_latest_auto_negotiation() {
    let out = python_client("mcp-latest", &["--mode", "auto"]).await;
    assert!(
        !out["mcp_version"].as_str().unwrap().starts_with("1."),
        "{out}"
    );
    check_python_results(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_latest_legacy_handshake() {
    let out = python_client("mcp-latest", &["--mode", "legacy"]).await;
    check_python_results(&out);
}

async fn inspector(url: &str, args: &[&str]) -> Value {
    let bin = tool_path("node/node_modules/.bin/mcp-inspector");
    let session_header = format!("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: {SESSION}");
    let mcp_session = format!("Mcp-Session-Id: {SESSION}");
    let mut all = vec![
        "--cli",
        url,
        "--transport",
        "http",
        "--header",
        &session_header,
        "--header",
        &mcp_session,
    ];
    all.extend_from_slice(args);
    let stdout = run(&bin, &all).await;
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("inspector output is not JSON ({e}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_inspector_cli() {
    let upstream = MockUpstream::start().await;
    let server = start_server(&upstream);
    let url = server.url();

    let tools = inspector(&url, &["--method", "tools/list"]).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["greet_user", "web_search"]);

    let greet = inspector(
        &url,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "greet_user",
            "--tool-arg",
            "name=Ada",
        ],
    )
    .await;
    assert_eq!(greet["content"][0]["text"], "Hello, Ada! Welcome.");

    let search = inspector(
        &url,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "web_search",
            "--tool-arg",
            "query=when was Rust 1.0 released?",
        ],
    )
    .await;
    assert_eq!(search["isError"], false, "{search}");
    assert_eq!(
        search["structuredContent"]["citations"][0]["url"],
        "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html"
    );

    let x85 = inspector(
        &url,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "web_search",
            "--tool-arg",
            "query=q [x85]",
        ],
    )
    .await;
    assert_eq!(
        x85["structuredContent"]["answer"],
        "Line one\u{85}line two\u{2028}line three\u{2029}end [1]."
    );

    let slow = inspector(
        &url,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "web_search",
            "--tool-arg",
            "query=q [slow=3500]",
        ],
    )
    .await;
    assert_eq!(slow["isError"], false, "{slow}");
}
