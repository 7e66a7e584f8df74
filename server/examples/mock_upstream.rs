//! A stand-in for the OpenAI Responses API, for benchmarks and manual runs.
//!
//! `MOCK_ADDR` (default 127.0.0.1:9100), `MOCK_DELAY_MS` (default 0): every
//! `POST /v1/responses` answers after the delay with a realistic o3 +
//! web_search body (reasoning, web_search_call items, a message with
//! url_citation annotations).

use std::time::Duration;

use axum::{Json, Router, routing::post, serve::ListenerExt};
use serde_json::{Value, json};

fn body(query: &str) -> Value {
    json!({
        "id": "resp_bench", "object": "response", "created_at": 1755443394,
        "status": "completed", "error": null, "incomplete_details": null,
        "model": "o3-2025-04-16",
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": []},
            {"id": "ws_1", "type": "web_search_call", "status": "completed",
             "action": {"type": "search", "query": query}},
            {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "logprobs": [],
               "text": "Rust 1.0 was released on 15 May 2015, six years after the project started at Mozilla Research [1][2].",
               "annotations": [
                 {"type": "url_citation", "start_index": 0, "end_index": 40,
                  "url": "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html", "title": "Announcing Rust 1.0 | Rust Blog"},
                 {"type": "url_citation", "start_index": 41, "end_index": 90,
                  "url": "https://en.wikipedia.org/wiki/Rust_(programming_language)", "title": "Rust (programming language) - Wikipedia"}
               ]}]}
        ],
        "reasoning": {"effort": "low", "summary": null},
        "tools": [{"type": "web_search", "search_context_size": "medium"}],
        "usage": {"input_tokens": 8153, "output_tokens": 412, "total_tokens": 8565}
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::var("MOCK_ADDR").unwrap_or_else(|_| "127.0.0.1:9100".into());
    let delay = Duration::from_millis(
        std::env::var("MOCK_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let app = Router::new().route(
        "/v1/responses",
        post(move |Json(request): Json<Value>| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Json(body(request["input"].as_str().unwrap_or("")))
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("bind")
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    eprintln!("mock upstream on http://{addr}/v1 (delay {delay:?})");
    axum::serve(listener, app).await.expect("serve");
}
