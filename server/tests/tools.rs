//! In-process tool tests: the `web_search` logic against the mock Responses API.

mod support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use server::{
    Settings, app_state,
    openai::{Citation, SearchContextSize},
    tools::{SearchOutcome, WebSearchArgs, WebSearchServer},
};
use support::{MockUpstream, TEST_KEY, eventually, no_progress};
use tokio_util::sync::CancellationToken;

fn server_for(upstream: &MockUpstream, extra: &[(&str, &str)]) -> WebSearchServer {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("OPENAI_BASE_URL".into(), upstream.base_url()),
        ("OPENAI_API_KEY".into(), TEST_KEY.into()),
        ("OPENAI_MAX_RETRY_WAIT_SECS".into(), "2".into()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
    WebSearchServer::new(app_state(&settings))
}

fn args(query: &str) -> WebSearchArgs {
    WebSearchArgs {
        query: query.into(),
        search_context_size: None,
        allowed_domains: None,
    }
}

async fn search(server: &WebSearchServer, args: WebSearchArgs) -> SearchOutcome {
    server
        .run_search(args, CancellationToken::new(), no_progress())
        .await
}

fn failure(outcome: SearchOutcome) -> (&'static str, String) {
    match outcome {
        SearchOutcome::Failed(kind, message) => (kind, message),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn answer_with_citations_and_request_shape() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[("OPENAI_MODEL", "o4-mini")]);
    let outcome = search(
        &server,
        WebSearchArgs {
            query: "  when was Rust 1.0 released?  ".into(),
            search_context_size: Some(SearchContextSize::Low),
            allowed_domains: Some(vec!["rust-lang.org".into(), " ".into()]),
        },
    )
    .await;
    let SearchOutcome::Answer(answer) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        answer
            .answer
            .starts_with("Answer to: when was Rust 1.0 released?.")
    );
    assert_eq!(
        answer.citations,
        vec![
            Citation {
                url: "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html".into(),
                title: "Announcing Rust 1.0 | Rust Blog".into()
            },
            Citation {
                url: "https://en.wikipedia.org/wiki/Rust_(programming_language)".into(),
                title: "Rust (programming language) - Wikipedia".into()
            },
        ]
    );
    let result = server::tools::answer_result(&answer);
    assert_eq!(result.is_error, Some(false));
    let structured = result.structured_content.unwrap();
    assert_eq!(
        structured["citations"][1]["title"],
        "Rust (programming language) - Wikipedia"
    );
    let text = result.content[0].as_text().unwrap().text.clone();
    assert!(text.contains("Sources:\n[1] Announcing Rust 1.0 | Rust Blog - https://blog.rust-lang.org/2015/05/15/Rust-1.0.html\n[2] "), "{text}");

    let requests = upstream.log.requests.lock().unwrap();
    let (auth, body) = &requests[0];
    assert_eq!(auth, &format!("Bearer {TEST_KEY}"));
    assert_eq!(body["model"], "o4-mini");
    assert_eq!(body["input"], "when was Rust 1.0 released?");
    assert_eq!(body["reasoning"]["effort"], "low");
    assert!(
        body["instructions"]
            .as_str()
            .unwrap()
            .contains("same language")
    );
    assert_eq!(body["tools"][0]["type"], "web_search");
    assert_eq!(body["tools"][0]["search_context_size"], "low");
    assert_eq!(
        body["tools"][0]["filters"]["allowed_domains"],
        serde_json::json!(["rust-lang.org"])
    );
}

#[tokio::test]
async fn missing_api_key_says_how_to_configure_it() {
    let upstream = MockUpstream::start().await;
    let vars = HashMap::from([("OPENAI_BASE_URL", upstream.base_url())]);
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let server = WebSearchServer::new(app_state(&settings));
    let (kind, message) = failure(search(&server, args("q")).await);
    assert_eq!(kind, "missing_api_key");
    assert!(message.contains("OPENAI_API_KEY is not set"), "{message}");
    assert!(message.contains("Set OPENAI_API_KEY"), "{message}");
    assert_eq!(upstream.log.request_count(), 0);
}

#[tokio::test]
async fn unauthorized_and_forbidden_name_the_cause_without_retrying() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[]);
    let (kind, message) = failure(search(&server, args("q [401]")).await);
    assert_eq!(kind, "unauthorized");
    assert!(
        message.contains("HTTP 401") && message.contains("Incorrect API key"),
        "{message}"
    );
    assert!(message.contains("Check OPENAI_API_KEY"), "{message}");
    let (kind, message) = failure(search(&server, args("q [403]")).await);
    assert_eq!(kind, "forbidden");
    assert!(
        message.contains("HTTP 403") && message.contains("does not have access"),
        "{message}"
    );
    assert_eq!(upstream.log.request_count(), 2, "no retries on 401/403");
}

#[tokio::test]
async fn rate_limit_retry_honours_retry_after() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[]);
    let started = Instant::now();
    let outcome = search(&server, args("busy [429]")).await;
    assert!(matches!(outcome, SearchOutcome::Answer(_)), "{outcome:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited retry-after: 1"
    );
    assert_eq!(upstream.log.request_count(), 2);
}

#[tokio::test]
async fn persistent_429_and_500_are_bounded_then_tool_errors() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[("OPENAI_MAX_RETRIES", "2")]);
    let (kind, message) = failure(search(&server, args("q [429-always]")).await);
    assert_eq!(kind, "rate_limited");
    assert!(message.contains("after 3 attempts"), "{message}");
    assert_eq!(upstream.log.request_count(), 3);

    let started = Instant::now();
    let (kind, message) = failure(search(&server, args("q [500]")).await);
    assert_eq!(kind, "upstream_5xx");
    assert!(
        message.contains("HTTP 500") && message.contains("after 3 attempts"),
        "{message}"
    );
    assert_eq!(upstream.log.request_count(), 6);
    // Backoff 0.5 s then 1 s.
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn upstream_timeout_is_a_tool_error_not_a_hang() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[("OPENAI_TIMEOUT_SECS", "1")]);
    let started = Instant::now();
    let (kind, message) = failure(search(&server, args("q [hang]")).await);
    assert_eq!(kind, "timeout");
    assert!(
        message.contains("within 1s") && message.contains("OPENAI_TIMEOUT_SECS"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        eventually(Duration::from_secs(2), || upstream.log.aborted() == 1).await,
        "request dropped"
    );
}

#[tokio::test]
async fn missing_message_and_unknown_items_and_line_separators() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[]);
    let (kind, message) = failure(search(&server, args("q [no-message]")).await);
    assert_eq!(kind, "no_message");
    assert!(
        message.contains("no answer message") && message.contains("max_output_tokens"),
        "{message}"
    );

    let SearchOutcome::Answer(answer) = search(&server, args("q [x85]")).await else {
        panic!()
    };
    assert!(
        answer
            .answer
            .contains("one\u{85}line two\u{2028}line three\u{2029}end")
    );
}

#[tokio::test]
async fn empty_query_is_rejected_before_calling_upstream() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[]);
    let (kind, _) = failure(search(&server, args("   ")).await);
    assert_eq!(kind, "invalid_arguments");
    assert_eq!(upstream.log.request_count(), 0);
}

#[tokio::test]
async fn cancellation_aborts_the_upstream_request() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[]);
    let cancel = CancellationToken::new();
    let task = {
        let server = server.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            server
                .run_search(args("q [slow=10000]"), cancel, no_progress())
                .await
        })
    };
    assert!(eventually(Duration::from_secs(5), || upstream.log.request_count() == 1).await);
    cancel.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, SearchOutcome::Cancelled), "{outcome:?}");
    assert!(
        eventually(Duration::from_secs(2), || upstream.log.aborted() == 1).await,
        "upstream saw the disconnect"
    );
    assert_eq!(upstream.log.completed(), 0);
}

#[tokio::test]
async fn progress_ticks_while_waiting() {
    let upstream = MockUpstream::start().await;
    let server = server_for(&upstream, &[("PROGRESS_INTERVAL_SECS", "0.2")]);
    let ticks = Arc::new(Mutex::new(Vec::new()));
    let seen = ticks.clone();
    let outcome = server
        .run_search(
            args("q [slow=1100]"),
            CancellationToken::new(),
            Some(move |elapsed| {
                seen.lock().unwrap().push(elapsed);
                async {}
            }),
        )
        .await;
    assert!(matches!(outcome, SearchOutcome::Answer(_)));
    let ticks = ticks.lock().unwrap();
    assert!((3..=8).contains(&ticks.len()), "{ticks:?}");
    assert!(ticks.windows(2).all(|w| w[0] < w[1]));
}
