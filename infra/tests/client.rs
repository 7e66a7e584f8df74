//! From `apply` to an answering MCP client, all local: the emulator's AgentCore data plane checks
//! the bearer token like AgentCore's JWT authorizer and runs the repository's own server image
//! (built by `[image] build`, pushed to a real registry, run under qemu), which answers
//! `web_search` from a stand-in of the Responses API with the key it reads from Secrets Manager.
//! Clients: `infra` (rmcp), Python `mcp` 1.12.2 (the original article's), MCP Inspector's CLI.

mod support;

use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::Value;
use support::{
    INSTALL_HINT, KillOnDrop, LocalRegistry, Moto, OPENAI_KEY, PASSWORD, Project, ResponsesStandIn,
    Run, STAND_IN_ANSWER, STAND_IN_CITATION, assert_run_snapshot, free_port, tool, wait_for_port,
    workspace_root,
};

/// The claims of a JWT (not verified here: see `verify_with_jwks`).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Check `token`'s RS256 signature against the JWKS the emulator's Cognito serves for the pool
/// (with joserfc, which moto brings); returns the verified claims.
fn verify_with_jwks(moto: &Moto, pool_id: &str, token: &str) -> Value {
    let script = r#"
import json, sys, urllib.request
from joserfc import jwt
from joserfc.jwk import KeySet
url, token = sys.argv[1], sys.argv[2]
keys = KeySet.import_key_set(json.load(urllib.request.urlopen(url)))
print(json.dumps(jwt.decode(token, keys, algorithms=["RS256"]).claims))
"#;
    let url = format!("{}/{pool_id}/.well-known/jwks.json", moto.endpoint);
    let out = Command::new(workspace_root().join(".venv/bin/python"))
        .args(["-c", script, &url, token])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "signature check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn outputs(project: &Project, moto: &Moto) -> Value {
    let run = project.infra(moto, &["output", "--json"]).expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// The repository's stack, building the repository's own server (the image tests build the
/// same package into the same target directory), with the Responses API at `openai`.
fn deployed_project(openai: &str) -> Project {
    let repo = workspace_root().display().to_string();
    Project::from_repo_building(|s| {
        let s = s.replacen(
            "build = \"server\"\n",
            &format!("build = \"server\"\nworkspace = \"{repo}\"\n"),
            1,
        );
        s.replacen(
            "OPENAI_REASONING_EFFORT = \"low\"\n",
            &format!("OPENAI_REASONING_EFFORT = \"low\"\nOPENAI_BASE_URL = \"{openai}\"\n"),
            1,
        )
    })
}

/// What `infra` needs to build and push the image, with the post-apply check on.
fn build_env(registry: &LocalRegistry) -> Vec<(&'static str, String)> {
    let home = std::env::var("HOME").unwrap();
    vec![
        ("COGNITO_PASSWORD", PASSWORD.to_owned()),
        ("OPENAI_API_KEY", OPENAI_KEY.to_owned()),
        ("INFRA_ECR_REGISTRY", registry.url.clone()),
        ("INFRA_TOOLS_ROOT", workspace_root().display().to_string()),
        (
            "RUSTUP_HOME",
            std::env::var("RUSTUP_HOME").unwrap_or(format!("{home}/.rustup")),
        ),
        (
            "CARGO_HOME",
            std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo")),
        ),
        ("INFRA_CHECK", "1".to_owned()),
        // The real HOME for the build: zig keeps its cache there, and build scripts that see
        // another HOME each run rebuild (aws-lc-sys takes minutes). AWS's files are pinned by
        // AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, so ~/.aws is not read.
        ("HOME", home),
    ]
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn apply_checks_the_deployed_server_and_every_client_gets_answers_through_the_jwt_authorizer() {
    let registry = LocalRegistry::start();
    let moto = Moto::start();
    moto.emulator_settings(&format!(r#"{{"ecr_registry": "{}"}}"#, registry.url));
    let openai = ResponsesStandIn::start(OPENAI_KEY);
    let project = deployed_project(&openai.base_url);
    let env = build_env(&registry);
    let env = env_refs(&env);

    // apply ends by connecting as a client: token → initialize → tools/list.
    let apply = project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    assert!(
        apply.stdout.contains("as a client: token for testuser"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("answered in"), "{}", apply.stdout);
    assert!(
        apply.stdout.contains("  web_search(") && apply.stdout.contains("query: string"),
        "{}",
        apply.stdout
    );

    // `infra mcp tools` and `infra mcp call`, on the URL read from live AWS.
    let tools = project.infra_env(&moto, &["mcp", "tools"], &env).expect(0);
    assert!(
        tools.stdout.starts_with("web_search(") || tools.stdout.contains("\nweb_search("),
        "{}",
        tools.stdout
    );
    let call = project
        .infra_env(
            &moto,
            &[
                "mcp",
                "call",
                "web_search",
                "query=When was Rust 1.0 released?",
            ],
            &env,
        )
        .expect(0);
    assert!(call.stdout.contains(STAND_IN_ANSWER), "{}", call.stdout);
    assert!(call.stdout.contains(STAND_IN_CITATION), "{}", call.stdout);
    // The server got the key from Secrets Manager (the runtime holds only its ARN).
    assert!(openai.keys.lock().unwrap().iter().all(|k| k == OPENAI_KEY));
    let json = project
        .infra_env(
            &moto,
            &["mcp", "call", "web_search", "query=Rust 1.0?", "--json"],
            &env,
        )
        .expect(0);
    let structured: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(structured["answer"], STAND_IN_ANSWER, "{structured}");
    assert_eq!(structured["citations"][0]["url"], STAND_IN_CITATION);

    // Ctrl-C during a long call: notifications/cancelled, exit 130 (the stand-in answers a
    // [slow] question only after 30 s).
    let log = project.dir.path().join("cancelled.log");
    let mut slow = project.spawn_at(
        &moto.endpoint,
        &["mcp", "call", "web_search", "query=[slow] anything"],
        &log,
    );
    std::thread::sleep(std::time::Duration::from_secs(4));
    let started = std::time::Instant::now();
    let interrupted = Command::new("kill")
        .args(["-INT", &slow.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = slow.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{said}"
    );
    assert!(
        said.contains("cancelled (the server was told: notifications/cancelled)"),
        "{said}"
    );

    // `infra token`: one line, an access token of the stack's client, signed by the pool.
    let out = outputs(&project, &moto);
    let token = project.infra_env(&moto, &["token"], &env).expect(0).stdout;
    assert_eq!(token.lines().count(), 1, "{token}");
    let token = token.trim();
    let verified = verify_with_jwks(&moto, out["user_pool_id"].as_str().unwrap(), token);
    assert_eq!(verified, claims(token));
    assert_eq!(verified["client_id"], out["client_id"]);
    assert_eq!(verified["token_use"], "access");

    // The seed's Python client (mcp 1.12.2) and MCP Inspector, with that token.
    let url = out["mcp_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/runtimes/", moto.endpoint)),
        "{url}"
    );
    let python = workspace_root().join(".tools/mcp-1.12.2/bin/python");
    let script = workspace_root().join("infra/tests/clients/through_agentcore.py");
    let seed = Command::new(&python)
        .arg(&script)
        .arg(url)
        .env("MCP_BEARER_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "mcp 1.12.2: {}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let seed: Value = serde_json::from_slice(&seed.stdout).unwrap();
    assert!(
        seed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "web_search"),
        "{seed}"
    );
    assert!(
        seed["answer"].as_str().unwrap().contains(STAND_IN_ANSWER),
        "{seed}"
    );

    let inspector = workspace_root().join(".tools/node/node_modules/.bin/mcp-inspector");
    let auth = format!("Authorization: Bearer {token}");
    let listed = Command::new(&inspector)
        .args([
            "--cli",
            url,
            "--transport",
            "http",
            "--header",
            &auth,
            "--method",
            "tools/list",
        ])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "inspector: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(
        listed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "web_search"),
        "{listed}"
    );

    // `infra mcp config json`: the URL and a header helper that works when run.
    let config = project
        .infra_env(&moto, &["mcp", "config", "json"], &env)
        .expect(0);
    let config: Value = serde_json::from_str(&config.stdout).unwrap();
    let server = &config["mcpServers"]["web-search-mcp"];
    assert_eq!(server["url"], url);
    assert_eq!(server["type"], "http");
    assert!(
        server.get("headers").is_none(),
        "no token in the file: {server}"
    );
    let helper = server["headersHelper"].as_str().unwrap();
    let headers = Command::new("sh")
        .args(["-c", helper])
        .current_dir("/")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("COGNITO_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        headers.status.success(),
        "{helper}: {}",
        String::from_utf8_lossy(&headers.stderr)
    );
    let headers: Value = serde_json::from_slice(&headers.stdout).unwrap();
    let bearer = headers["Authorization"].as_str().unwrap();
    let with_helper = project
        .infra_env(
            &moto,
            &[
                "mcp",
                "tools",
                "--url",
                url,
                "--header",
                &format!("Authorization: {bearer}"),
            ],
            &env,
        )
        .expect(0);
    assert!(
        with_helper.stdout.contains("web_search("),
        "{}",
        with_helper.stdout
    );
    let claude = project
        .infra_env(&moto, &["mcp", "config", "claude"], &env)
        .expect(0);
    assert!(
        claude
            .stdout
            .starts_with("claude mcp add-json web-search-mcp '"),
        "{}",
        claude.stdout
    );
}

/// The check proves the secret path end to end: the server logs the outcome of its secret read
/// at startup, the emulator's data plane writes the runtime's output to its log group (as
/// AgentCore does), and the check reads it there. Without the execution role's grant, apply
/// fails naming AWS's error; with it back and a new version deployed, apply passes, and
/// `--check deep` gets a `web_search` answer.
#[test]
fn the_check_after_apply_proves_the_secret_read_from_the_runtimes_log() {
    let registry = LocalRegistry::start();
    let moto = Moto::start();
    moto.emulator_settings(&format!(
        r#"{{"ecr_registry": "{}", "deny_secret_read": true}}"#,
        registry.url
    ));
    let openai = ResponsesStandIn::start(OPENAI_KEY);
    let project = deployed_project(&openai.base_url);
    let env = build_env(&registry);
    let env = env_refs(&env);

    // `apply --json`: the round trip passed, the check failed with AWS's error.
    let apply = project
        .infra_env(&moto, &["apply", "--yes", "--json"], &env)
        .expect(1);
    let check: Value = apply
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "check")
        .unwrap_or_else(|| panic!("no check event:\n{}", apply.stdout));
    assert_eq!(check["status"], "failed", "{check}");
    assert!(
        check["tools"]
            .as_array()
            .unwrap()
            .contains(&"web_search".into()),
        "{check}"
    );
    let reason = check["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the server cannot read its secret arn:aws:secretsmanager:")
            && reason.contains(": AccessDeniedException: User: ")
            && reason.contains("secretsmanager:GetSecretValue"),
        "{reason}"
    );
    assert!(apply.stderr.contains(reason), "{}", apply.stderr);
    // `infra check` says the same; `infra logs` shows the line the check read.
    let check = project.infra_env(&moto, &["check"], &env).expect(1);
    assert!(check.stdout.contains("answered in"), "{}", check.stdout);
    assert!(
        check
            .stderr
            .contains(&format!("error: the check failed: {reason}")),
        "{}",
        check.stderr
    );
    let logs = project.infra_env(&moto, &["logs"], &env).expect(0);
    assert!(
        logs.stdout
            .contains("ERROR  AccessDeniedException  secret read at startup  secret=arn:"),
        "{}",
        logs.stdout
    );
    let json = project
        .infra_env(&moto, &["logs", "--json"], &env)
        .expect(0);
    let startup: Vec<Value> = json
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "secret read at startup")
        .collect();
    assert_eq!(startup.len(), 1, "{}", json.stdout);
    assert_eq!(startup[0]["outcome"], "AccessDeniedException");
    assert!(openai.keys.lock().unwrap().is_empty(), "no key, no search");

    // The grant back and a new version (new instances): the check passes, deep too.
    moto.emulator_settings(r#"{"deny_secret_read": false}"#);
    project.edit_stack(|s| {
        s.replacen(
            "OPENAI_REASONING_EFFORT = \"low\"\n",
            "OPENAI_REASONING_EFFORT = \"low\"\nDEPLOYED_AGAIN = \"yes\"\n",
            1,
        )
    });
    let apply = project
        .infra_env(&moto, &["apply", "--yes", "--check", "deep"], &env)
        .expect(0);
    assert!(
        apply
            .stdout
            .contains("✓ the server read its secret arn:aws:secretsmanager:")
            && apply.stdout.contains("✓ web_search answered in "),
        "{}\n{}",
        apply.stdout,
        apply.stderr
    );
    assert!(!apply.stderr.contains("warning"), "{}", apply.stderr);
    let check = project
        .infra_env(&moto, &["check", "--deep"], &env)
        .expect(0);
    assert!(
        check.stdout.contains("✓ web_search answered in "),
        "{}",
        check.stdout
    );
    assert!(openai.keys.lock().unwrap().iter().all(|k| k == OPENAI_KEY));
}

/// The authorizer's refusals, through `infra` and a raw client. They happen before AgentCore
/// starts the container, so the runtime here runs a prebuilt image that no registry holds.
#[tokio::test]
async fn refused_tokens_get_agentcores_statuses_and_the_check_says_why() {
    let moto = Moto::start();
    let aws = support::Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let out = outputs(&project, &moto);
    let url = out["mcp_url"].as_str().unwrap();
    let pool = out["user_pool_id"].as_str().unwrap();

    // Another app client of the same pool: a valid token, but not an allowed client (AgentCore
    // answers 401 "Claim 'client_id' value mismatch with configuration.").
    let other = aws
        .cognito
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("OtherClient")
        .explicit_auth_flows(
            aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowUserPasswordAuth,
        )
        .send()
        .await
        .unwrap();
    let other_id = other
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();
    let signed_in = aws
        .cognito
        .initiate_auth()
        .client_id(&other_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "testuser")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let foreign = signed_in
        .authentication_result()
        .unwrap()
        .access_token()
        .unwrap()
        .to_owned();
    let refused = project
        .infra(&moto, &["mcp", "tools", "--token", &foreign])
        .expect(1);
    assert!(refused.stderr.contains("HTTP 401"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Claim 'client_id' value mismatch"),
        "AgentCore's message: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("one of its allowed clients"),
        "{}",
        refused.stderr
    );

    // A tampered token (its signature no longer matches) and no token at all: 401.
    let good = project
        .infra(&moto, &["token"])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let refused = project
        .infra(&moto, &["mcp", "tools", "--token", &tampered])
        .expect(1);
    assert!(refused.stderr.contains("HTTP 401"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("ACCESS token"),
        "{}",
        refused.stderr
    );
    let anonymous = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    // SigV4 on a runtime with a JWT authorizer: AgentCore's "Authorization method mismatch".
    let signed = reqwest::Client::new()
        .post(url)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261127/us-west-2/bedrock-agentcore/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=0000",
        )
        .header("x-amz-date", "20261127T000000Z")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 403);
    let body = signed.text().await.unwrap();
    assert!(body.contains("Authorization method mismatch"), "{body}");

    // A runtime whose authorizer allows another client: `infra check` fails and says why.
    let runtime_id = out["runtime_id"].as_str().unwrap();
    let live = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(runtime_id)
        .send()
        .await
        .unwrap();
    use aws_sdk_bedrockagentcorecontrol::types::{
        AuthorizerConfiguration, CustomJwtAuthorizerConfiguration,
    };
    let discovery = out["discovery_url"].as_str().unwrap();
    aws.agentcore
        .update_agent_runtime()
        .agent_runtime_id(runtime_id)
        .set_agent_runtime_artifact(live.agent_runtime_artifact().cloned())
        .role_arn(live.role_arn())
        .set_network_configuration(live.network_configuration().cloned())
        .authorizer_configuration(AuthorizerConfiguration::CustomJwtAuthorizer(
            CustomJwtAuthorizerConfiguration::builder()
                .discovery_url(discovery)
                .allowed_clients(&other_id)
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    // The DEFAULT endpoint moves to the new version a few polls later (AgentCore does the same).
    aws.wait_for_default(runtime_id, "2").await;
    let check = project.infra(&moto, &["check"]).expect(1);
    assert!(
        check.stderr.contains("the MCP check failed: HTTP 401"),
        "{}",
        check.stderr
    );
    assert!(
        check.stderr.contains("runtime web_search_mcp:"),
        "{}",
        check.stderr
    );
}

/// `infra token` prints the token alone; a refresh-token file, outside any repository, lets a
/// later run renew it without the password.
#[test]
fn token_prints_only_the_token_and_renews_from_a_refresh_token_file() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let out = outputs(&project, &moto);

    let header = project.infra(&moto, &["token", "--header-json"]).expect(0);
    let header: Value = serde_json::from_str(&header.stdout).unwrap();
    let bearer = header["Authorization"].as_str().unwrap();
    assert!(bearer.starts_with("Bearer eyJ"), "{bearer}");

    let unknown = project
        .infra(&moto, &["token", "--user", "nobody"])
        .expect(1);
    assert!(
        unknown
            .stderr
            .contains("declares no user \"nobody\" (declared: testuser)"),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stdout.is_empty());
    let no_password = project
        .infra_env(&moto, &["token"], &[("OPENAI_API_KEY", OPENAI_KEY)])
        .expect(1);
    assert!(
        no_password.stderr.contains("$COGNITO_PASSWORD is not set"),
        "{}",
        no_password.stderr
    );
    assert!(no_password.stdout.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("infra/refresh-token");
    let file_arg = file.display().to_string();
    let first = project
        .infra(&moto, &["token", "--refresh-token-file", &file_arg])
        .expect(0);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.is_empty() && !first.stdout.contains(&saved));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let renewed = project
        .infra_env(
            &moto,
            &["token", "--refresh-token-file", &file_arg],
            &[("OPENAI_API_KEY", OPENAI_KEY)],
        )
        .expect(0);
    assert_eq!(claims(renewed.stdout.trim())["client_id"], out["client_id"]);

    // Never inside a repository.
    let repo = project.dir.path().join("checkout");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let inside = repo.join("token").display().to_string();
    let refused = project
        .infra(&moto, &["token", "--refresh-token-file", &inside])
        .expect(1);
    assert!(
        refused.stderr.contains("is inside the git work tree"),
        "{}",
        refused.stderr
    );
    assert!(!repo.join("token").exists());
}

// ---------------------------------------------------------------------------------------------
// Issue 19: the refresh-token file, `infra mcp` without a stack file, the header helper's
// quoting, connect errors in words
// ---------------------------------------------------------------------------------------------

/// The run with the loopback ports in its command line shown as `[PORT]`, so a snapshot's
/// description stays the same from run to run (the snapshot filters do the same for output).
fn described(mut run: Run) -> Run {
    let mut parts = run.command.split("127.0.0.1:");
    let mut shown = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        shown.push_str("127.0.0.1:[PORT]");
        shown.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
    }
    run.command = shown;
    run
}

/// Snapshot filter: an access token (a JWT) as `[JWT]`.
fn jwt_filter() -> Vec<(String, String)> {
    vec![(
        r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+".to_owned(),
        "[JWT]".to_owned(),
    )]
}

/// The mode bits of a file.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A saved refresh-token file that others can read is replaced by a private one (with a note)
/// even when the token in it is only read; a link is refused and what it points to is left as
/// it was; a path through a linked directory into a git work tree is refused like a direct one.
#[test]
fn a_refresh_token_file_stays_private_and_is_never_reached_through_a_link() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let out = outputs(&project, &moto);
    let without_password = [("OPENAI_API_KEY", OPENAI_KEY)];

    // Signed in once: the refresh token is saved, mode 600.
    let file = project.dir.path().join("tokens/refresh-token");
    project
        .infra(
            &moto,
            &["token", "--refresh-token-file", "tokens/refresh-token"],
        )
        .expect(0);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(mode(&file), 0o600);

    // Made readable by others (a copy, a `chmod`): the next run only reads it, and still
    // leaves a private file holding the same token.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let renewed = project
        .infra_env(
            &moto,
            &["token", "--refresh-token-file", "tokens/refresh-token"],
            &without_password,
        )
        .expect(0);
    assert_eq!(claims(renewed.stdout.trim())["client_id"], out["client_id"]);
    assert!(!renewed.stderr.contains(&saved) && !renewed.stdout.contains(&saved));
    assert_run_snapshot!(
        "refresh_token_file_open_to_others",
        renewed,
        project.filters(),
        jwt_filter()
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), saved);
    let names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["refresh-token"], "no temporary file left");

    // A symbolic link (to a file of the user's, mode 644): refused, the file left as it was.
    let elsewhere = project.dir.path().join("notes.txt");
    std::fs::write(&elsewhere, "my notes\n").unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, project.dir.path().join("link")).unwrap();
    let refused = project
        .infra(&moto, &["token", "--refresh-token-file", "link"])
        .expect(1);
    assert_run_snapshot!("refresh_token_file_is_a_link", refused, project.filters());
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "my notes\n");
    assert_eq!(mode(&elsewhere), 0o644);

    // A directory linked into a git work tree: the file would land in the repository.
    let repo = project.dir.path().join("checkout");
    std::fs::create_dir_all(repo.join("config")).unwrap();
    let git = Command::new("git")
        .args(["init", "--quiet"])
        .arg(&repo)
        .output()
        .unwrap();
    assert!(git.status.success(), "{git:?}");
    std::os::unix::fs::symlink(repo.join("config"), project.dir.path().join("config")).unwrap();
    let refused = project
        .infra(
            &moto,
            &["token", "--refresh-token-file", "config/refresh-token"],
        )
        .expect(1);
    assert_run_snapshot!(
        "refresh_token_file_through_a_link_into_a_repository",
        refused,
        project.filters()
    );
    assert_eq!(std::fs::read_dir(repo.join("config")).unwrap().count(), 0);
}

/// `mcp config` with an endpoint variable whose value holds `?`, `&` and `'`: the header helper
/// assigns it for `sh`, and run as a client runs it, it reaches Cognito through that URL (the
/// general endpoint is a dead port) and prints a valid bearer header.
#[test]
fn the_header_helper_survives_an_endpoint_url_with_shell_characters() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let out = outputs(&project, &moto);
    let cognito = format!("{}/?q=it's&b=2", moto.endpoint);

    let config = project
        .infra_env(
            &moto,
            &["mcp", "config", "json", "--url", "http://127.0.0.1:9/mcp"],
            &[
                ("COGNITO_PASSWORD", PASSWORD),
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
                ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", &cognito),
            ],
        )
        .expect(0);
    let config: Value = serde_json::from_str(&config.stdout).unwrap();
    let helper = config["mcpServers"]["web-search-mcp"]["headersHelper"]
        .as_str()
        .unwrap();
    let assigned = format!(
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER='{}/?q=it'\\''s&b=2'",
        moto.endpoint
    );
    assert!(helper.contains(&assigned), "{helper}");

    let headers = Command::new("sh")
        .args(["-c", helper])
        .current_dir("/")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("COGNITO_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        headers.status.success(),
        "{helper}: {}",
        String::from_utf8_lossy(&headers.stderr)
    );
    let headers: Value = serde_json::from_slice(&headers.stdout).unwrap();
    let bearer = headers["Authorization"].as_str().unwrap();
    let token = bearer.strip_prefix("Bearer ").unwrap();
    assert_eq!(claims(token)["client_id"], out["client_id"]);
}

/// The repository's MCP server as it runs on a laptop (`PORT=... server`): nothing in front of
/// it checks a token. The arm64 binary the image tests build, under qemu, on 127.0.0.1.
struct LocalServer {
    url: String,
    _process: KillOnDrop,
}

impl LocalServer {
    fn start() -> LocalServer {
        let built = infra::container::build(&infra::container::BuildOptions::new(
            workspace_root(),
            "server",
        ))
        .unwrap_or_else(|e| panic!("building the server failed: {e:#}\n({INSTALL_HINT})"));
        let qemu = tool("qemu-aarch64-static", &["/usr/bin/qemu-aarch64-static"]);
        let port = free_port();
        let mut process = KillOnDrop(
            Command::new(qemu)
                .arg(&built.binary)
                .env_clear()
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string())
                .env("LOG_FORMAT", "text")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for_port(port, &mut process.0, "the server under qemu");
        LocalServer {
            url: format!("http://127.0.0.1:{port}/mcp"),
            _process: process,
        }
    }
}

/// A directory without a stack file, as the current directory of `infra`.
fn no_stack_dir() -> Project {
    Project {
        dir: tempfile::tempdir().unwrap(),
    }
}

/// Without a stack file, `--url` with `--token` is enough for every `mcp` command: `tools` and
/// `call` connect with it, `config --static-token` embeds it, and `config` without
/// `--static-token` says what is missing (exit 1, no panic).
#[test]
fn mcp_with_a_url_and_a_token_needs_no_stack_file() {
    let server = LocalServer::start();
    let dir = no_stack_dir();
    let url = server.url.as_str();
    let run = |args: &[&str]| described(dir.infra_at("http://127.0.0.1:9", args));

    let tools = run(&["mcp", "--url", url, "--token", "T0KEN", "tools"]).expect(0);
    assert!(tools.stdout.contains("web_search("), "{}", tools.stdout);
    assert!(tools.stderr.is_empty(), "{}", tools.stderr);

    let helper = run(&["mcp", "--url", url, "--token", "T0KEN", "config", "json"]).expect(1);
    assert_run_snapshot!("mcp_config_json_without_a_stack_file", helper);

    let json = run(&[
        "mcp",
        "--url",
        url,
        "--token",
        "T0KEN",
        "config",
        "json",
        "--static-token",
    ])
    .expect(0);
    assert_run_snapshot!("mcp_config_json_static_without_a_stack_file", json);
    let config: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(config["mcpServers"]["127-0-0-1"]["url"], url);

    let claude = run(&[
        "mcp",
        "--url",
        url,
        "--token",
        "T0KEN",
        "config",
        "claude",
        "--static-token",
    ])
    .expect(0);
    assert_run_snapshot!("mcp_config_claude_static_without_a_stack_file", claude);

    // Nothing panics on what a user types.
    for args in [
        &[
            "mcp",
            "--url",
            "localhost:8000",
            "--token",
            "T0KEN",
            "tools",
        ][..],
        &[
            "mcp",
            "--url",
            url,
            "--token",
            "T0KEN",
            "--header",
            "Authorization Bearer s3cret",
            "tools",
        ],
    ] {
        let refused = run(args).expect(1);
        assert!(
            refused.stderr.starts_with("error: mcp: "),
            "{}",
            refused.stderr
        );
        assert!(!refused.stderr.contains("s3cret"), "{}", refused.stderr);
    }
}

/// Without a stack file, `--url` alone (a server without auth) or with an `Authorization`
/// header works too, and `config --static-token` with nothing to embed says what is missing.
#[test]
fn mcp_with_a_url_and_a_header_or_no_auth_needs_no_stack_file() {
    let server = LocalServer::start();
    let dir = no_stack_dir();
    let url = server.url.as_str();
    let run = |args: &[&str]| described(dir.infra_at("http://127.0.0.1:9", args));

    for auth in [&["--header", "Authorization: Bearer T0KEN"][..], &[]] {
        let args: Vec<&str> = ["mcp", "--url", url]
            .into_iter()
            .chain(auth.iter().copied())
            .chain(["tools"])
            .collect();
        let tools = run(&args).expect(0);
        assert!(tools.stdout.contains("web_search("), "{}", tools.stdout);
        assert!(tools.stderr.is_empty(), "{}", tools.stderr);
    }
    let called = run(&["mcp", "--url", url, "call", "greet_user", "name=Ada"]).expect(0);
    assert!(called.stdout.contains("Ada"), "{}", called.stdout);
    let claude = run(&[
        "mcp",
        "--url",
        url,
        "--header",
        "Authorization: Bearer T0KEN",
        "config",
        "claude",
        "--static-token",
    ])
    .expect(0);
    assert_run_snapshot!("mcp_config_claude_header_without_a_stack_file", claude);
    let open = run(&["mcp", "--url", url, "config", "json"]).expect(0);
    assert_run_snapshot!("mcp_config_json_no_auth_without_a_stack_file", open);
    let nothing = run(&["mcp", "--url", url, "config", "json", "--static-token"]).expect(1);
    assert_run_snapshot!("mcp_config_static_without_a_token_or_stack_file", nothing);
}

/// A plain HTTP server, not an MCP one, on a free loopback port: `POST /page` gets an HTML
/// page, `/broken` JSON cut short, anything else 404. Returns its base URL.
fn plain_http_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_plainly(stream));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn answer_plainly(mut stream: std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = stream.read_exact(&mut body);
    let (status, content_type, text) = match path.as_str() {
        "/page" => (
            "200 OK",
            "text/html",
            "<!doctype html><html><head><title>Welcome</title></head><body>Hi</body></html>",
        ),
        "/broken" => ("200 OK", "application/json", r#"{"jsonrpc": "2.0", "id"#),
        _ => ("404 Not Found", "text/plain", "Not Found"),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// When connecting fails, the error says what was tried and what happened, in words: no Rust
/// type names, no `Debug` dumps.
#[test]
fn connect_errors_say_what_was_tried_and_what_happened() {
    let dir = no_stack_dir();
    let plain = plain_http_server();
    let closed = format!("http://127.0.0.1:{}/mcp", free_port());
    for (name, url) in [
        ("mcp_connect_refused", closed),
        ("mcp_connect_not_found", format!("{plain}/mcp")),
        ("mcp_connect_html_page", format!("{plain}/page")),
        ("mcp_connect_broken_json", format!("{plain}/broken")),
    ] {
        let run = dir.infra_at("http://127.0.0.1:9", &["mcp", "--url", &url, "tools"]);
        let run = described(run).expect(1);
        assert!(run.stderr.contains(&url), "{name}: {}", run.stderr);
        for debris in [
            "::",
            "Error {",
            "Error(",
            "Some(",
            "StreamableHttpError",
            "ClientInitializeError",
            "Transport",
            "reqwest",
            "hyper",
        ] {
            assert!(
                !run.stderr.contains(debris),
                "{name}: {debris:?} in {}",
                run.stderr
            );
        }
        assert_run_snapshot!(name, run);
    }
}
