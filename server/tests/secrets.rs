//! The OpenAI key in AWS Secrets Manager (`OPENAI_API_KEY_SECRET_ARN`): the
//! real server binary, moto's Secrets Manager (`scripts/emulator.py`) through
//! `AWS_ENDPOINT_URL` and the default credential chain, and the Responses API
//! stand-in accepting only the current key.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    Emulator, MockUpstream, ServerProcess, StallProxy, TEST_KEY, aws_env, call_body, eventually,
    final_result, post_raw,
};

/// Key values that must never show up in a log line or an answer.
const KEY_A: &str = "sk-proj-SENTINEL-first-4f1d9c2a7b";
const KEY_B: &str = "sk-proj-SENTINEL-second-8e3b6a0f5c";

fn start_server(upstream: &MockUpstream, env: &[(String, String)]) -> ServerProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ServerProcess::start(Some(&upstream.base_url()), &env)
}

/// Everything a client saw, for the leak checks.
#[derive(Default)]
struct Seen(String);

impl Seen {
    fn add(&mut self, body: &[u8]) {
        self.0.push_str(&String::from_utf8_lossy(body));
        self.0.push('\n');
    }
}

/// `web_search` through the binary: `(isError, text)`.
async fn search(server: &ServerProcess, seen: &mut Seen, id: u64, query: &str) -> (bool, String) {
    let (status, _, body) = post_raw(
        &server.url(),
        &call_body(id, "web_search", json!({ "query": query }), None),
    )
    .await;
    seen.add(&body);
    assert_eq!(status, 200);
    let result = final_result(&body);
    assert!(result.get("error").is_none(), "protocol error: {result}");
    (
        result["result"]["isError"].as_bool().unwrap(),
        result["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn tools_list(server: &ServerProcess, seen: &mut Seen) -> usize {
    let (status, _, body) = post_raw(
        &server.url(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    seen.add(&body);
    assert_eq!(status, 200);
    final_result(&body)["result"]["tools"]
        .as_array()
        .unwrap()
        .len()
}

async fn ping_status(server: &ServerProcess) -> String {
    let body: Value = reqwest::get(format!("http://{}/ping", server.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["status"].as_str().unwrap().to_owned()
}

fn assert_no_key_anywhere(server: &ServerProcess, seen: &Seen) {
    let logs = server.logs().join("\n");
    for key in [KEY_A, KEY_B] {
        assert!(!logs.contains(key), "a key leaked into the logs:\n{logs}");
        assert!(
            !seen.0.contains(key),
            "a key leaked to a client:\n{}",
            seen.0
        );
        // Not even a recognisable part of it.
        assert!(!logs.contains("SENTINEL") && !seen.0.contains("SENTINEL"));
    }
}

fn log_messages(server: &ServerProcess, message: &str) -> Vec<Value> {
    server
        .log_values()
        .into_iter()
        .filter(|l| l["message"] == message)
        .collect()
}

const READ_OK: &str = "read the OpenAI API key from Secrets Manager";
const READ_FAILED: &str = "cannot read the OpenAI API key from Secrets Manager";

/// Started with only the secret's ARN (plus AWS's usual variables), the server
/// answers with the key from Secrets Manager; after a rotation the stand-in
/// refuses the old key with 401, and the next call reads the secret again and
/// succeeds with the new key, in the same call.
#[tokio::test(flavor = "multi_thread")]
async fn key_comes_from_secrets_manager_and_a_rotation_is_picked_up_on_401() {
    let aws = Emulator::start();
    let arn = aws.create_secret("openai-api-key", KEY_A).await;
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:"),
        "{arn}"
    );
    let upstream = MockUpstream::start().await;
    upstream.accept_only(KEY_A);
    let server = start_server(&upstream, &aws.server_env(&arn, None));
    let mut seen = Seen::default();

    let (is_error, text) = search(&server, &mut seen, 1, "first question").await;
    assert!(!is_error, "{text}");
    assert!(text.contains("Answer to: first question"), "{text}");
    assert_eq!(upstream.log.keys(), [KEY_A]);

    // Rotation: a new AWSCURRENT value; OpenAI stops accepting the old key.
    aws.put_secret_value(&arn, KEY_B).await;
    upstream.accept_only(KEY_B);
    let (is_error, text) = search(&server, &mut seen, 2, "after rotation").await;
    assert!(!is_error, "{text}");
    assert_eq!(
        upstream.log.keys(),
        [KEY_A, KEY_A, KEY_B],
        "401 with the old key, then the same call again with the new one"
    );
    let (is_error, _) = search(&server, &mut seen, 3, "third").await;
    assert!(!is_error);
    assert_eq!(upstream.log.keys().last().unwrap(), KEY_B);
    assert_eq!(upstream.log.request_count(), 4, "no 401 any more");

    let reads = log_messages(&server, READ_OK);
    assert_eq!(reads.len(), 2, "startup and after the 401: {reads:#?}");
    assert_eq!(reads[0]["rotated"], false);
    assert_eq!(reads[1]["rotated"], true);
    assert!(reads.iter().all(|r| r["secret"] == arn.as_str()));

    // A key that OpenAI refuses and that has not changed: one read, no retry,
    // and the error says where the key comes from.
    upstream.accept_only("sk-something-else");
    let before = upstream.log.request_count();
    let (is_error, text) = search(&server, &mut seen, 4, "refused").await;
    assert!(is_error);
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains(&arn), "{text}");
    assert!(text.contains("has not changed"), "{text}");
    assert_eq!(upstream.log.request_count(), before + 1);
    assert_no_key_anywhere(&server, &seen);
}

/// Without any 401, a rotated key is picked up once the cached one is older
/// than `SECRET_REFRESH_SECS`: the call that notices still uses the cached key
/// (it does not wait for AWS) while a background read replaces it.
#[tokio::test(flavor = "multi_thread")]
async fn the_secret_is_read_again_after_the_refresh_interval() {
    let aws = Emulator::start();
    let arn = aws.create_secret("openai-refresh", KEY_A).await;
    let upstream = MockUpstream::start().await;
    let mut env = aws.server_env(&arn, None);
    env.push(("SECRET_REFRESH_SECS".into(), "1".into()));
    let server = start_server(&upstream, &env);
    let mut seen = Seen::default();

    assert!(!search(&server, &mut seen, 1, "one").await.0);
    aws.put_secret_value(&arn, KEY_B).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut id = 2;
    let picked_up = loop {
        assert!(!search(&server, &mut seen, id, "again").await.0);
        if upstream.log.keys().last().unwrap() == KEY_B {
            break true;
        }
        if id > 50 {
            break false;
        }
        id += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(picked_up, "{:?}", upstream.log.keys());
    let keys = upstream.log.keys();
    assert_eq!(keys[1], KEY_A, "the stale key served while the read ran");
    assert!(
        log_messages(&server, "OpenAI answered 401: reading the secret again").is_empty(),
        "no 401 was needed"
    );
    assert!(log_messages(&server, READ_OK).len() >= 2);
    assert_no_key_anywhere(&server, &seen);
}

/// The secret read at startup is in the background: while AWS does not
/// answer, `tools/list`, `/ping` and `greet_user` answer; a search waits for
/// the key up to `OPENAI_TIMEOUT_SECS`, then says what it was waiting for;
/// once AWS answers, the next search gets its answer.
#[tokio::test(flavor = "multi_thread")]
async fn tools_list_and_ping_do_not_wait_for_a_slow_secret_read() {
    let aws = Emulator::start();
    let arn = aws.create_secret("openai-slow", KEY_A).await;
    let stall = StallProxy::start(&aws.endpoint).await;
    let upstream = MockUpstream::start().await;
    upstream.accept_only(KEY_A);
    let mut env = aws.server_env(&arn, Some(&stall.endpoint()));
    env.push(("OPENAI_TIMEOUT_SECS".into(), "2".into()));
    let server = start_server(&upstream, &env);
    let mut seen = Seen::default();

    // The startup read has reached "AWS" and hangs there.
    assert!(eventually(Duration::from_secs(10), || stall.accepted() >= 1).await);
    assert_eq!(tools_list(&server, &mut seen).await, 2);
    assert_eq!(ping_status(&server).await, "Healthy");
    let (status, _, body) = post_raw(
        &server.url(),
        &call_body(2, "greet_user", json!({"name": "Ada"}), None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(final_result(&body)["result"]["isError"], false);
    assert!(
        log_messages(&server, READ_OK).is_empty() && log_messages(&server, READ_FAILED).is_empty(),
        "all of that happened while the read was still pending"
    );

    // A search waits for the key, bounded by OPENAI_TIMEOUT_SECS.
    let started = Instant::now();
    let (is_error, text) = search(&server, &mut seen, 3, "too early").await;
    assert!(is_error);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(text.contains("OPENAI_TIMEOUT_SECS"), "{text}");
    assert!(text.contains(&arn), "{text}");
    assert_eq!(upstream.log.request_count(), 0);

    // A search that arrives while the read is pending gets its answer once AWS answers.
    let waiting = tokio::spawn({
        let url = server.url();
        async move {
            post_raw(
                &url,
                &call_body(4, "web_search", json!({"query": "waits"}), None),
            )
            .await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while ping_status(&server).await != "HealthyBusy" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        ping_status(&server).await,
        "HealthyBusy",
        "the search is waiting"
    );
    assert_eq!(upstream.log.request_count(), 0, "no key yet");
    stall.release();
    let (_, _, body) = waiting.await.unwrap();
    seen.add(&body);
    let result = final_result(&body);
    assert_eq!(result["result"]["isError"], false, "{result}");
    assert_eq!(upstream.log.keys(), [KEY_A]);
    assert_eq!(log_messages(&server, READ_OK).len(), 1, "one read, shared");
    assert_no_key_anywhere(&server, &seen);
}

/// A secret that cannot be read is a tool error naming the secret and AWS's
/// error code; the process keeps serving and reads again on the next call.
#[tokio::test(flavor = "multi_thread")]
async fn unreadable_secret_is_a_tool_error_with_the_arn_and_aws_code() {
    let aws = Emulator::start();
    let upstream = MockUpstream::start().await;
    let mut seen = Seen::default();

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-missing-AbCdEf";
    let server = start_server(&upstream, &aws.server_env(missing, None));
    assert!(
        eventually(Duration::from_secs(10), || log_messages(
            &server,
            READ_FAILED
        )
        .len()
            == 1)
        .await,
        "the startup read failed"
    );
    for id in 1..=2 {
        let (is_error, text) = search(&server, &mut seen, id, "q").await;
        assert!(is_error);
        assert!(text.contains(missing), "{text}");
        assert!(text.contains("ResourceNotFoundException"), "{text}");
        assert!(text.contains("secretsmanager:GetSecretValue"), "{text}");
    }
    assert_eq!(tools_list(&server, &mut seen).await, 2);
    assert_eq!(upstream.log.request_count(), 0);
    let failures = log_messages(&server, READ_FAILED);
    assert_eq!(
        failures.len(),
        3,
        "startup, then once per call: {failures:#?}"
    );
    assert!(
        failures
            .iter()
            .all(|f| f["code"] == "ResourceNotFoundException" && f["secret"] == missing)
    );
    let calls = log_messages(&server, "tool call");
    assert!(calls.iter().all(|c| c["error"] == "secret_unavailable"));
    assert_no_key_anywhere(&server, &seen);

    // A secret scheduled for deletion, then restored: the call after the
    // restore succeeds without restarting anything.
    let arn = aws.create_secret("openai-restored", KEY_A).await;
    aws.secrets()
        .delete_secret()
        .secret_id(&arn)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let server = start_server(&upstream, &aws.server_env(&arn, None));
    let (is_error, text) = search(&server, &mut seen, 3, "q").await;
    assert!(is_error);
    assert!(
        text.contains(&arn) && text.contains("InvalidRequestException"),
        "{text}"
    );
    aws.secrets()
        .restore_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    let (is_error, text) = search(&server, &mut seen, 4, "q").await;
    assert!(!is_error, "{text}");
    assert_eq!(upstream.log.keys(), [KEY_A]);
    assert_no_key_anywhere(&server, &seen);
}

/// With both variables, the direct key wins (local runs) and the secret is not read.
#[tokio::test(flavor = "multi_thread")]
async fn a_direct_key_wins_over_the_secret() {
    let upstream = MockUpstream::start().await;
    // Nothing listens there: any read would fail.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf";
    let mut env = aws_env(&endpoint, arn);
    env.push(("OPENAI_API_KEY".into(), TEST_KEY.into()));
    let server = start_server(&upstream, &env);
    let mut seen = Seen::default();
    let (is_error, text) = search(&server, &mut seen, 1, "q").await;
    assert!(!is_error, "{text}");
    assert_eq!(upstream.log.keys(), [TEST_KEY]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(log_messages(&server, READ_FAILED).is_empty());
    assert!(log_messages(&server, READ_OK).is_empty());
    assert!(server.logs().iter().any(|l| l.contains("both set")));
}

/// A stand-in for the metadata endpoints a container gets its role's
/// credentials from: the ECS/container credentials endpoint (`GET /ecs`)
/// and the instance metadata service as IMDSv2 (AgentCore Runtime's microVM
/// metadata service, MMDS, speaks it): a session token first, then the role's
/// name, then its credentials. Counts the credential documents served.
struct CredentialEndpoints {
    addr: std::net::SocketAddr,
    served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CredentialEndpoints {
    async fn start() -> Self {
        use axum::{
            Router,
            http::{HeaderMap, StatusCode},
            routing::{get, put},
        };
        use std::sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        };
        const TOKEN: &str = "imds-session-token";
        let served = Arc::new(AtomicUsize::new(0));
        let credentials = {
            let served = served.clone();
            move || {
                served.fetch_add(1, Ordering::SeqCst);
                json!({
                    "Code": "Success", "Type": "AWS-HMAC",
                    "AccessKeyId": "ASIAEXAMPLEROLE", "SecretAccessKey": "role-secret",
                    "Token": "role-session-token", "Expiration": "2099-01-01T00:00:00Z",
                    "LastUpdated": "2026-01-01T00:00:00Z",
                    "RoleArn": "arn:aws:iam::123456789012:role/runtime-execution-role"
                })
                .to_string()
            }
        };
        let token_ok = |headers: &HeaderMap| {
            headers
                .get("x-aws-ec2-metadata-token")
                .is_some_and(|t| t == TOKEN)
        };
        let app = Router::new()
            .route(
                "/ecs",
                get({
                    let credentials = credentials.clone();
                    move || async move { credentials() }
                }),
            )
            .route(
                "/latest/api/token",
                put(|headers: HeaderMap| async move {
                    if headers
                        .get("x-aws-ec2-metadata-token-ttl-seconds")
                        .is_none()
                    {
                        return (StatusCode::BAD_REQUEST, HeaderMap::new(), String::new());
                    }
                    let mut out = HeaderMap::new();
                    out.insert(
                        "x-aws-ec2-metadata-token-ttl-seconds",
                        "21600".parse().unwrap(),
                    );
                    (StatusCode::OK, out, TOKEN.to_owned())
                }),
            )
            .route(
                "/latest/meta-data/iam/security-credentials/",
                get(move |headers: HeaderMap| async move {
                    if !token_ok(&headers) {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    (StatusCode::OK, "runtime-execution-role".to_owned())
                }),
            )
            .route(
                "/latest/meta-data/iam/security-credentials/runtime-execution-role",
                get(move |headers: HeaderMap| async move {
                    if !token_ok(&headers) {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    (StatusCode::OK, credentials())
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, served, task }
    }

    fn served(&self) -> usize {
        self.served.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for CredentialEndpoints {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Without credentials in the environment, the role's credentials come from
/// the container credentials endpoint, or from the metadata service
/// (IMDSv2, as AgentCore Runtime's MMDS serves them).
#[tokio::test(flavor = "multi_thread")]
async fn role_credentials_from_the_container_endpoint_or_the_metadata_service() {
    let aws = Emulator::start();
    let arn = aws.create_secret("openai-role", KEY_A).await;
    let endpoints = CredentialEndpoints::start().await;
    let upstream = MockUpstream::start().await;
    upstream.accept_only(KEY_A);
    let mut seen = Seen::default();
    let no_env_keys = |extra: (&str, String)| {
        let mut env: Vec<(String, String)> = aws
            .server_env(&arn, None)
            .into_iter()
            .filter(|(k, _)| !k.starts_with("AWS_ACCESS_KEY_ID") && k != "AWS_SECRET_ACCESS_KEY")
            .collect();
        env.push((extra.0.to_owned(), extra.1));
        env
    };

    let ecs = start_server(
        &upstream,
        &no_env_keys((
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("http://{}/ecs", endpoints.addr),
        )),
    );
    let (is_error, text) = search(&ecs, &mut seen, 1, "via the container endpoint").await;
    assert!(!is_error, "{text}");
    assert_eq!(endpoints.served(), 1);

    let imds = start_server(
        &upstream,
        &no_env_keys((
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://{}/", endpoints.addr),
        )),
    );
    let (is_error, text) = search(&imds, &mut seen, 2, "via the metadata service").await;
    assert!(!is_error, "{text}");
    assert_eq!(endpoints.served(), 2);
    assert_eq!(upstream.log.keys(), [KEY_A, KEY_A]);
    assert_no_key_anywhere(&ecs, &seen);
    assert_no_key_anywhere(&imds, &seen);
}

/// No credentials anywhere: a tool error that says so, naming the secret.
#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_are_named_as_such() {
    let upstream = MockUpstream::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf";
    let mut env: Vec<(String, String)> = aws_env(&endpoint, arn)
        .into_iter()
        .filter(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY")
        .collect();
    env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
    let server = start_server(&upstream, &env);
    let mut seen = Seen::default();
    let (is_error, text) = search(&server, &mut seen, 1, "q").await;
    assert!(is_error);
    assert!(
        text.contains(arn) && text.contains("CredentialsError: no AWS credentials"),
        "{text}"
    );
    assert_eq!(tools_list(&server, &mut seen).await, 2);
}

/// The line the server logs once at startup with the outcome of its secret
/// read: what `infra check` looks for in the runtime's log.
const STARTUP: &str = server::secret::STARTUP_MESSAGE;

/// A readable secret: one startup line, `outcome` "ok", naming the secret's
/// ARN and never its value, however many reads follow.
#[tokio::test(flavor = "multi_thread")]
async fn the_startup_line_says_ok_and_names_the_secret_not_its_value() {
    let aws = Emulator::start();
    let arn = aws.create_secret("openai-startup-ok", KEY_A).await;
    let upstream = MockUpstream::start().await;
    upstream.accept_only(KEY_A);
    let server = start_server(&upstream, &aws.server_env(&arn, None));
    assert!(
        eventually(Duration::from_secs(10), || !log_messages(&server, STARTUP)
            .is_empty())
        .await,
        "no startup line:\n{}",
        server.logs().join("\n")
    );
    let mut seen = Seen::default();
    assert!(!search(&server, &mut seen, 1, "q").await.0);

    let lines = log_messages(&server, STARTUP);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(lines[0]["secret"], arn.as_str());
    assert_eq!(lines[0]["level"], "INFO");
    assert!(lines[0].get("error").is_none(), "{}", lines[0]);
    assert_no_key_anywhere(&server, &seen);
}

/// A secret that cannot be read: the startup line's `outcome` is AWS's error
/// code, with AWS's message and the secret's name; the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn the_startup_line_carries_aws_error_code_when_the_read_fails() {
    let aws = Emulator::start();
    let upstream = MockUpstream::start().await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-gone-AbCdEf";
    let server = start_server(&upstream, &aws.server_env(missing, None));
    assert!(
        eventually(Duration::from_secs(10), || !log_messages(&server, STARTUP)
            .is_empty())
        .await,
        "no startup line:\n{}",
        server.logs().join("\n")
    );
    let lines = log_messages(&server, STARTUP);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "ResourceNotFoundException");
    assert_eq!(lines[0]["secret"], missing);
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(
        lines[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "AWS's message: {}",
        lines[0]
    );
    let mut seen = Seen::default();
    assert_eq!(tools_list(&server, &mut seen).await, 2);

    // A secret that exists, then one that holds a key: no value in any line.
    let arn = aws.create_secret("openai-startup-value", KEY_B).await;
    let server = start_server(&upstream, &aws.server_env(&arn, None));
    assert!(
        eventually(Duration::from_secs(10), || !log_messages(&server, STARTUP)
            .is_empty())
        .await
    );
    assert_no_key_anywhere(&server, &seen);
}
