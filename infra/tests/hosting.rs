//! The ECR repository and the AgentCore runtime, against the AgentCore-faithful emulator
//! (`scripts/emulator.py`). Results are read back through the AWS API.

mod support;

use std::collections::HashMap;

use aws_sdk_bedrockagentcorecontrol::operation::get_agent_runtime::GetAgentRuntimeOutput;
use aws_sdk_bedrockagentcorecontrol::types::{
    AgentRuntimeArtifact, AllowedPort, AuthorizerConfiguration, AuthorizingClaimMatchValueType,
    ClaimMatchOperatorType, ClaimMatchValueType, ContainerConfiguration, CustomClaimValidationType,
    FilesystemConfiguration, InboundTokenClaimValueType, NetworkMode, RequestHeaderConfiguration,
    RuntimeMetadataConfiguration, SessionStorageConfiguration,
};
use aws_sdk_ecr::types::ImageTagMutability;
use support::{Aws, Moto, OPENAI_KEY, Project, prebuilt_image};

const RUNTIME: &str = "web_search_mcp";
const REPOSITORY: &str = "web-search-mcp";
const SECRET: &str = "web-search-mcp/openai_api_key";

async fn runtime_id(aws: &Aws) -> String {
    let list = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let ids: Vec<&str> = list
        .agent_runtimes()
        .iter()
        .filter(|r| r.agent_runtime_name() == RUNTIME)
        .map(|r| r.agent_runtime_id())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].to_owned()
}

#[tokio::test]
async fn apply_from_empty_makes_a_ready_runtime_behind_the_stacks_cognito_and_a_second_apply_writes_nothing()
 {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);

    // The repository, with every declared setting.
    let repos = aws
        .ecr
        .describe_repositories()
        .repository_names(REPOSITORY)
        .send()
        .await
        .unwrap();
    let repo = &repos.repositories()[0];
    assert_eq!(
        repo.image_tag_mutability(),
        Some(&ImageTagMutability::Immutable)
    );
    assert!(repo.image_scanning_configuration().unwrap().scan_on_push());
    let tags = aws
        .ecr
        .list_tags_for_resource()
        .resource_arn(repo.repository_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "infra:stack" && t.value() == "web-search-mcp")
    );
    let lifecycle = aws
        .ecr
        .get_lifecycle_policy()
        .repository_name(REPOSITORY)
        .send()
        .await
        .unwrap();
    let lifecycle: serde_json::Value =
        serde_json::from_str(lifecycle.lifecycle_policy_text().unwrap()).unwrap();
    assert_eq!(lifecycle["rules"][0]["selection"]["countNumber"], 10);
    assert_eq!(lifecycle["rules"][0]["action"]["type"], "expire");

    // The runtime: READY, every setting, the authorizer on the stack's pool and client.
    let id = runtime_id(&aws).await;
    let created = runtime(&aws, &id).await;
    assert_eq!(created.status().as_str(), "READY");
    assert_eq!(created.agent_runtime_version(), "1");
    let Some(AgentRuntimeArtifact::ContainerConfiguration(container)) =
        created.agent_runtime_artifact()
    else {
        panic!("no container artifact");
    };
    assert_eq!(container.container_uri(), prebuilt_image());
    assert_eq!(
        created.role_arn(),
        "arn:aws:iam::123456789012:role/agentcore-web-search-mcp-role"
    );
    assert_eq!(
        created.network_configuration().unwrap().network_mode(),
        &NetworkMode::Public
    );
    assert_eq!(
        created
            .protocol_configuration()
            .unwrap()
            .server_protocol()
            .as_str(),
        "MCP"
    );
    assert_eq!(created.description(), Some("OpenAI web search over MCP"));
    let lifecycle = created.lifecycle_configuration().unwrap();
    assert_eq!(
        (
            lifecycle.idle_runtime_session_timeout(),
            lifecycle.max_lifetime()
        ),
        (Some(900), Some(28800))
    );
    let env = created.environment_variables().unwrap();
    assert_eq!(env.get("OPENAI_MODEL").map(String::as_str), Some("o3"));
    assert_eq!(
        env.get("OPENAI_REASONING_EFFORT").map(String::as_str),
        Some("low")
    );
    // The key is in Secrets Manager; the runtime holds only the secret's ARN, and its role may
    // read exactly that secret.
    let secret_arn = aws.secret_arn(SECRET).await;
    assert_eq!(aws.secret_value(SECRET).await, OPENAI_KEY);
    assert_eq!(
        env.get("OPENAI_API_KEY_SECRET_ARN"),
        Some(&secret_arn),
        "{env:?}"
    );
    assert!(!env.contains_key("OPENAI_API_KEY"));
    assert!(!format!("{created:?}").contains(OPENAI_KEY));
    let policy = aws
        .iam
        .get_role_policy()
        .role_name("agentcore-web-search-mcp-role")
        .policy_name("infra-secrets")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(
        &percent_encoding::percent_decode_str(policy.policy_document()).decode_utf8_lossy(),
    )
    .unwrap();
    let granted = &policy["Statement"][0]["Resource"];
    let pattern = granted[0].as_str().unwrap();
    assert_eq!(granted.as_array().unwrap().len(), 1, "{policy}");
    assert_eq!(
        policy["Statement"][0]["Action"],
        "secretsmanager:GetSecretValue"
    );
    assert!(
        secret_arn.starts_with(pattern.trim_end_matches("??????"))
            && secret_arn.len() == pattern.len(),
        "{pattern} does not match exactly {secret_arn}"
    );
    let pool_id = aws.pool_ids("MCPServerPool").await.remove(0);
    let client_id = aws
        .client_ids(&pool_id, "MCPServerPoolClient")
        .await
        .remove(0);
    let Some(aws_sdk_bedrockagentcorecontrol::types::AuthorizerConfiguration::CustomJwtAuthorizer(
        jwt,
    )) = created.authorizer_configuration()
    else {
        panic!("no JWT authorizer");
    };
    assert_eq!(
        jwt.discovery_url(),
        format!(
            "https://cognito-idp.us-west-2.amazonaws.com/{pool_id}/.well-known/openid-configuration"
        )
    );
    assert_eq!(jwt.allowed_clients(), [client_id]);

    // Second apply: reads only; the runtime keeps its version.
    moto.start_recording();
    let again = project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(
        again
            .stdout
            .contains("No changes. Live AWS matches the stack (9 resources)."),
        "{}",
        again.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
    assert_eq!(runtime(&aws, &id).await.agent_runtime_version(), "1");
}

#[tokio::test]
async fn drift_in_runtime_and_repository_is_named_and_repaired_with_one_new_version() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let id = runtime_id(&aws).await;
    let before = runtime(&aws, &id).await;

    // Out of band: a new image and a changed variable in one update, as a console user would.
    let mut env: HashMap<String, String> = before.environment_variables().cloned().unwrap();
    env.insert("OPENAI_MODEL".into(), "gpt-4.1".into());
    aws.update_runtime_by_hand(&id, |update| {
        update
            .agent_runtime_artifact(AgentRuntimeArtifact::ContainerConfiguration(
                ContainerConfiguration::builder()
                    .container_uri(
                        "123456789012.dkr.ecr.us-west-2.amazonaws.com/web-search-mcp:hotfix",
                    )
                    .build()
                    .unwrap(),
            ))
            .set_environment_variables(Some(env))
    })
    .await;
    aws.ecr
        .put_image_tag_mutability()
        .repository_name(REPOSITORY)
        .image_tag_mutability(ImageTagMutability::Mutable)
        .send()
        .await
        .unwrap();
    aws.ecr
        .delete_lifecycle_policy()
        .repository_name(REPOSITORY)
        .send()
        .await
        .unwrap();
    let drifted = runtime(&aws, &id).await;
    let drifted_version: u32 = drifted.agent_runtime_version().parse().unwrap();

    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    for expected in [
        &format!(
            "~ container_uri: \"123456789012.dkr.ecr.us-west-2.amazonaws.com/web-search-mcp:hotfix\" -> \"{}\"",
            prebuilt_image()
        ),
        "~ environment.OPENAI_MODEL: \"gpt-4.1\" -> \"o3\"",
        "~ image_tag_mutability: \"MUTABLE\" -> \"IMMUTABLE\"",
        "+ lifecycle_policy =",
        "Plan: 0 to create, 2 to update, 0 to delete.",
    ] {
        assert!(
            plan.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            plan.stdout
        );
    }

    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let mut writes = moto.writes();
    writes.sort();
    assert_eq!(
        writes,
        [
            "PutImageTagMutability",
            "PutLifecyclePolicy",
            "UpdateAgentRuntime"
        ]
    );
    assert_eq!(
        runtime_id(&aws).await,
        id,
        "the runtime is updated in place"
    );
    let after = runtime(&aws, &id).await;
    assert_eq!(
        after.agent_runtime_version(),
        (drifted_version + 1).to_string(),
        "exactly one new version"
    );
    assert_eq!(after.agent_runtime_arn(), before.agent_runtime_arn());
    assert_eq!(after.status().as_str(), "READY");
    assert_eq!(
        after
            .environment_variables()
            .unwrap()
            .get("OPENAI_MODEL")
            .map(String::as_str),
        Some("o3")
    );
    // UpdateAgentRuntime was sent the whole configuration: nothing was reset.
    assert_eq!(
        after
            .environment_variables()
            .unwrap()
            .get("OPENAI_API_KEY_SECRET_ARN"),
        Some(&aws.secret_arn(SECRET).await)
    );
    assert!(after.authorizer_configuration().is_some());
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn renaming_the_runtime_or_changing_repository_encryption_is_refused() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);

    let renamed = Project::from_repo(|s| {
        s.replace("name = \"web_search_mcp\"", "name = \"web_search_mcp_v2\"")
    });
    moto.start_recording();
    let plan = renamed.infra(&moto, &["plan"]).expect(1);
    assert!(
        plan.stdout.contains("agentcore_runtime.web_search_mcp_v2: name: this stack's runtime is named \"web_search_mcp\""),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("AWS cannot rename a runtime in place"),
        "{}",
        plan.stdout
    );

    let kms = Project::from_repo(|s| {
        s.replace(
            "scan_on_push = true",
            "scan_on_push = true\nencryption = \"KMS\"",
        )
    });
    let plan = kms.infra(&moto, &["apply", "--yes"]).expect(1);
    assert!(
        plan.stdout.contains(
            "ecr_repository.web-search-mcp: encryption: is AES256 in AWS and KMS in the stack"
        ),
        "{}",
        plan.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_runtime_that_fails_to_create_stops_apply_with_the_reason() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    moto.fail_next_runtime("Image not found: web-search-mcp:0.1.0 (manifest unknown)");
    let run = project.infra(&moto, &["apply", "--yes"]).expect(1);
    assert!(
        run.stderr.contains(
            "agentcore_runtime.web_search_mcp: CreateAgentRuntime failed: CREATE_FAILED: Image not found: web-search-mcp:0.1.0 (manifest unknown)"
        ),
        "{}",
        run.stderr
    );
    // The failed runtime is the stack's: the next plan offers to update it back to READY.
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout
            .contains("~ status: \"CREATE_FAILED\" -> \"READY\""),
        "{}",
        plan.stdout
    );
    // `output` says it is broken: the runtime's state and AWS's reason, and exit 1.
    let output = project.infra(&moto, &["output", "--json"]).expect(1);
    assert!(
        output.stderr.contains(
            "agentcore_runtime.web_search_mcp failed: CREATE_FAILED: Image not found: web-search-mcp:0.1.0"
        ),
        "{}",
        output.stderr
    );
    let out: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let runtime = out["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "agentcore_runtime.web_search_mcp")
        .unwrap();
    assert_eq!(runtime["status"], "failed", "{out}");
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    project.infra(&moto, &["output"]).expect(0);
}

#[tokio::test]
async fn output_reads_identifiers_and_the_encoded_mcp_url_from_live_aws() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    // Nothing deployed yet: the values are null, every resource is missing, and the exit is 1.
    let before = project.infra(&moto, &["output", "--json"]).expect(1);
    assert!(
        before.stderr.contains("the stack is not deployed"),
        "{}",
        before.stderr
    );
    let before: serde_json::Value = serde_json::from_str(&before.stdout).unwrap();
    assert_eq!(before["runtime_arn"], serde_json::Value::Null);
    let statuses = |out: &serde_json::Value| -> Vec<String> {
        out["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["address"].as_str().unwrap(),
                    r["status"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(
        statuses(&before).iter().all(|s| s.ends_with(" missing")),
        "{before}"
    );

    project.infra(&moto, &["apply", "--yes"]).expect(0);
    moto.start_recording();
    let run = project.infra(&moto, &["output", "--json"]).expect(0);
    assert_eq!(moto.writes(), Vec::<String>::new());
    assert!(
        !moto.operations().iter().any(|op| op == "InitiateAuth"),
        "output does not sign in"
    );
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(statuses(&out).len() >= 8, "{out}");
    assert!(statuses(&out).iter().all(|s| s.ends_with(" ok")), "{out}");

    let id = runtime_id(&aws).await;
    let runtime = runtime(&aws, &id).await;
    let pool_id = aws.pool_ids("MCPServerPool").await.remove(0);
    let arn = runtime.agent_runtime_arn();
    assert_eq!(out["user_pool_id"], pool_id.as_str());
    assert_eq!(
        out["client_id"],
        aws.client_ids(&pool_id, "MCPServerPoolClient").await[0].as_str()
    );
    assert_eq!(
        out["discovery_url"],
        format!(
            "https://cognito-idp.us-west-2.amazonaws.com/{pool_id}/.well-known/openid-configuration"
        )
    );
    assert_eq!(
        out["role_arn"],
        "arn:aws:iam::123456789012:role/agentcore-web-search-mcp-role"
    );
    assert_eq!(
        out["repository_uri"],
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/web-search-mcp"
    );
    assert_eq!(out["runtime_arn"], arn);
    assert_eq!(out["runtime_id"], id.as_str());
    assert_eq!(out["runtime_version"], "1");
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    // The data plane follows AWS_ENDPOINT_URL like the SDKs (here: the emulator's).
    assert_eq!(
        out["mcp_url"],
        format!(
            "{}/runtimes/{encoded}/invocations?qualifier=DEFAULT",
            moto.endpoint
        )
    );
    let without_endpoint = project
        .infra_env(
            &moto,
            &["output", "--json"],
            &[(
                "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
                "https://bedrock-agentcore.us-west-2.amazonaws.com",
            )],
        )
        .expect(0);
    let out2: serde_json::Value = serde_json::from_str(&without_endpoint.stdout).unwrap();
    assert_eq!(
        out2["mcp_url"],
        format!(
            "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/{encoded}/invocations?qualifier=DEFAULT"
        )
    );

    let text = project.infra(&moto, &["output"]).expect(0);
    assert!(
        text.stdout
            .starts_with(&format!("user_pool_id = {pool_id}\n")),
        "{}",
        text.stdout
    );
}

async fn runtime(aws: &Aws, id: &str) -> GetAgentRuntimeOutput {
    aws.agentcore
        .get_agent_runtime()
        .agent_runtime_id(id)
        .send()
        .await
        .unwrap()
}

/// (status, liveVersion) of the runtime's DEFAULT endpoint.
async fn default_endpoint(aws: &Aws, id: &str) -> (String, String) {
    let (status, live) = aws.default_endpoint(id).await;
    (status, live.unwrap_or_default())
}

fn mmdsv2(runtime: &GetAgentRuntimeOutput) -> bool {
    runtime
        .metadata_configuration()
        .is_some_and(|m| m.require_mmdsv2())
}

#[tokio::test]
async fn apply_returns_only_once_the_default_endpoint_serves_the_new_version() {
    // The emulator's DEFAULT serves a new version only two polls after the runtime reads READY.
    let moto = Moto::start();
    moto.emulator_settings(r#"{"endpoint_lag_polls": 2}"#);
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let id = runtime_id(&aws).await;
    assert_eq!(
        default_endpoint(&aws, &id).await,
        ("READY".into(), "1".into())
    );

    project.edit_stack(|s| s.replace("idle_timeout_seconds = 900", "idle_timeout_seconds = 600"));
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let version = runtime(&aws, &id).await.agent_runtime_version().to_owned();
    assert_eq!(version, "2");
    // The first look after apply: DEFAULT already serves what apply deployed.
    assert_eq!(default_endpoint(&aws, &id).await, ("READY".into(), version));
}

#[tokio::test]
async fn a_runtime_without_mmdsv2_is_turned_on_by_one_update_and_a_new_one_with_it_costs_no_write()
{
    // Today's AWS: new runtimes have requireMMDSV2 on; creating one makes no update.
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let writes = moto.writes();
    assert!(
        writes.contains(&"CreateAgentRuntime".to_owned()),
        "{writes:?}"
    );
    assert!(
        !writes.contains(&"UpdateAgentRuntime".to_owned()),
        "{writes:?}"
    );
    assert!(mmdsv2(&runtime(&aws, &runtime_id(&aws).await).await));

    // A region (or an older runtime) where it is off: the create is followed by one update.
    let moto = Moto::start();
    moto.emulator_settings(r#"{"mmdsv2_on_create": false}"#);
    let aws = Aws::new(&moto).await;
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let writes = moto.writes();
    let updates = writes.iter().filter(|w| *w == "UpdateAgentRuntime").count();
    assert_eq!(updates, 1, "{writes:?}");
    let id = runtime_id(&aws).await;
    let created = runtime(&aws, &id).await;
    assert!(mmdsv2(&created));

    // Turned off out of band (possible for such a runtime): the plan names it, one update fixes it.
    aws.update_runtime_by_hand(&id, |update| {
        update.metadata_configuration(
            RuntimeMetadataConfiguration::builder()
                .require_mmdsv2(false)
                .build()
                .unwrap(),
        )
    })
    .await;
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout.contains("~ require_mmdsv2: false -> true"),
        "{}",
        plan.stdout
    );
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(moto.writes(), ["UpdateAgentRuntime"]);
    assert!(mmdsv2(&runtime(&aws, &id).await));
}

#[tokio::test]
async fn settings_the_stack_does_not_model_survive_an_unrelated_update() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let id = runtime_id(&aws).await;
    let before = runtime(&aws, &id).await;

    // Out of band, as a console user would: a session volume, an extra port, a platform
    // version, the protocol's port, and a custom claim on the JWT authorizer.
    let Some(AuthorizerConfiguration::CustomJwtAuthorizer(mut jwt)) =
        before.authorizer_configuration().cloned()
    else {
        panic!("the stack's runtime has a JWT authorizer");
    };
    let claim = CustomClaimValidationType::builder()
        .inbound_token_claim_name("department")
        .inbound_token_claim_value_type(InboundTokenClaimValueType::String)
        .authorizing_claim_match_value(
            AuthorizingClaimMatchValueType::builder()
                .claim_match_value(ClaimMatchValueType::MatchValueString("search".into()))
                .claim_match_operator(ClaimMatchOperatorType::Equals)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    jwt.custom_claims = Some(vec![claim.clone()]);
    let mut protocol = before.protocol_configuration().cloned().unwrap();
    protocol.port = Some(8000);
    let volume = FilesystemConfiguration::SessionStorage(
        SessionStorageConfiguration::builder()
            .mount_path("/mnt/session")
            .build()
            .unwrap(),
    );
    aws.update_runtime_by_hand(&id, |update| {
        update
            .protocol_configuration(protocol)
            .authorizer_configuration(AuthorizerConfiguration::CustomJwtAuthorizer(jwt))
            .filesystem_configurations(volume.clone())
            .allowed_ports(AllowedPort::Port(9000))
            .platform_version("2")
    })
    .await;
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);

    // An unrelated change: the update is sent the whole configuration, so nothing is lost.
    project.edit_stack(|s| s.replace("idle_timeout_seconds = 900", "idle_timeout_seconds = 600"));
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(moto.writes(), ["UpdateAgentRuntime"]);
    let after = runtime(&aws, &id).await;
    assert_eq!(
        after
            .lifecycle_configuration()
            .and_then(|l| l.idle_runtime_session_timeout()),
        Some(600)
    );
    assert_eq!(after.filesystem_configurations(), [volume]);
    assert_eq!(after.allowed_ports(), [AllowedPort::Port(9000)]);
    assert_eq!(after.platform_version(), Some("2"));
    assert_eq!(after.protocol_configuration().unwrap().port(), Some(8000));
    let Some(AuthorizerConfiguration::CustomJwtAuthorizer(jwt)) = after.authorizer_configuration()
    else {
        panic!("the JWT authorizer is kept");
    };
    assert_eq!(jwt.custom_claims(), [claim]);
}

#[tokio::test]
async fn request_headers_and_scopes_are_declared_and_reconciled() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| {
        s.replace(
            "authorizer = \"cognito\"",
            "authorizer = \"cognito\"\nallowed_scopes = [\"mcp/invoke\"]\nrequest_header_allowlist = [\"X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant\"]",
        )
    });
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let id = runtime_id(&aws).await;
    let created = runtime(&aws, &id).await;
    let Some(AuthorizerConfiguration::CustomJwtAuthorizer(jwt)) =
        created.authorizer_configuration()
    else {
        panic!("a JWT authorizer");
    };
    assert_eq!(jwt.allowed_scopes(), ["mcp/invoke"]);
    assert!(jwt.allowed_audience().is_empty());
    assert_eq!(
        created.request_header_configuration(),
        Some(&RequestHeaderConfiguration::RequestHeaderAllowlist(vec![
            "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant".into()
        ]))
    );
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);

    // Dropping them from the stack removes them: the declared lists are the whole lists.
    project.edit_stack(|s| s.replace("allowed_scopes = [\"mcp/invoke\"]\n", ""));
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout
            .contains("~ authorizer.allowed_scopes: [\"mcp/invoke\"] -> []"),
        "{}",
        plan.stdout
    );
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let Some(AuthorizerConfiguration::CustomJwtAuthorizer(jwt)) =
        runtime(&aws, &id).await.authorizer_configuration().cloned()
    else {
        panic!("a JWT authorizer");
    };
    assert!(jwt.allowed_scopes().is_empty());
    assert!(jwt.allowed_audience().is_empty());
}

#[tokio::test]
async fn a_changed_key_is_one_put_secret_value_and_no_new_runtime_version() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let id = runtime_id(&aws).await;

    let rotated = "sk-test-rotated-9876543210";
    let plan = project
        .infra_env(
            &moto,
            &["plan", "--detailed-exitcode"],
            &[("OPENAI_API_KEY", rotated)],
        )
        .expect(2);
    assert!(
        plan.stdout.contains("~ value: (sensitive) -> (sensitive)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains(rotated) && !plan.stderr.contains(rotated));
    moto.start_recording();
    let apply = project
        .infra_env(&moto, &["apply", "--yes"], &[("OPENAI_API_KEY", rotated)])
        .expect(0);
    assert!(!apply.stdout.contains(rotated) && !apply.stderr.contains(rotated));
    assert_eq!(moto.writes(), ["PutSecretValue"]);
    assert_eq!(aws.secret_value(SECRET).await, rotated);
    assert_eq!(runtime(&aws, &id).await.agent_runtime_version(), "1");
}

#[tokio::test]
async fn an_existing_secret_by_arn_is_used_without_writes() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let existing = aws
        .secrets
        .create_secret()
        .name("shared/openai")
        .secret_string(OPENAI_KEY)
        .send()
        .await
        .unwrap();
    let arn = existing.arn().unwrap().to_owned();
    let project = Project::from_repo(|s| {
        s.replace(
            "value = { env = \"OPENAI_API_KEY\" }   # write-only: from your environment, shown as (sensitive)\ndescription = \"OpenAI API key of the web search MCP server\"",
            &format!("arn = \"{arn}\""),
        )
    });
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let writes = moto.writes();
    assert!(
        !writes.iter().any(|w| w.contains("Secret")),
        "the secret is not written: {writes:?}"
    );
    let id = runtime_id(&aws).await;
    let env = runtime(&aws, &id)
        .await
        .environment_variables()
        .cloned()
        .unwrap();
    assert_eq!(env.get("OPENAI_API_KEY_SECRET_ARN"), Some(&arn));
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_failed_runtime_update_says_a_new_version_failed_and_the_old_one_still_serves() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    project.edit_stack(|s| {
        s.replace(
            "description = \"OpenAI web search over MCP\"",
            "description = \"OpenAI web search over MCP, v2\"",
        )
    });
    moto.fail_next_runtime("Container exited with code 1");
    let run = project.infra(&moto, &["apply", "--yes"]).expect(1);
    assert!(
        run.stderr.contains(
            "UpdateAgentRuntime failed: UPDATE_FAILED: Container exited with code 1. AWS made \
             version 2 and it failed; the DEFAULT endpoint keeps serving the previous version"
        ),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("were not changed;"),
        "no claim that nothing changed: {}",
        run.stderr
    );
    let output = project.infra(&moto, &["output"]).expect(1);
    assert!(
        output
            .stderr
            .contains("agentcore_runtime.web_search_mcp failed: UPDATE_FAILED"),
        "{}",
        output.stderr
    );
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let output = project.infra(&moto, &["output"]).expect(0);
    assert!(
        output.stdout.contains("runtime_version = 3"),
        "{}",
        output.stdout
    );
}
