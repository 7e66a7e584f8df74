//! Environments from one repository: `infra --env NAME` merges `stack.NAME.toml` over
//! `stack.toml`. Two environments applied into one account are two complete, independent
//! stacks; a bad value is reported in the file it came from; names two environments would
//! share are refused before any AWS call; one commit builds one digest for every environment.
//! Against the emulator, with its request recorder.

mod support;

use std::path::Path;

use support::{Aws, LocalRegistry, Moto, Project, assert_run_snapshot};

/// Names every environment overrides: its stack, pool, role, repository and runtime.
fn overlay(env: &str) -> String {
    format!(
        "# The {env} environment: stack.toml, with these values over it.\n\
         [stack]\nname = \"web-search-mcp-{env}\"\n\n\
         [cognito.user_pool]\nname = \"MCPServerPool-{env}\"\n\n\
         [iam.role]\nname = \"agentcore-web-search-mcp-role-{env}\"\n\n\
         [ecr.repository]\nname = \"web-search-mcp-{env}\"\n\n\
         [runtime]\nname = \"web_search_mcp_{env}\"\n"
    )
}

fn write(project: &Project, file: &str, text: &str) {
    std::fs::write(project.dir.path().join(file), text).unwrap();
}

/// The repository's stack (with a prebuilt image) and the overlays `stack.dev.toml` and
/// `stack.prod.toml`.
fn two_environments() -> Project {
    let project = Project::from_repo(|s| s);
    write(&project, "stack.dev.toml", &overlay("dev"));
    write(&project, "stack.prod.toml", &overlay("prod"));
    project
}

/// What a stack is in AWS, read back through the AWS API (not through infra): each resource's
/// settings, tags and version or time of its last change, so that any write to it shows.
async fn stack_state(aws: &Aws, env: &str) -> String {
    let mut state = Vec::new();
    let pool_ids = aws.pool_ids(&format!("MCPServerPool-{env}")).await;
    assert_eq!(pool_ids.len(), 1, "{env}: pools {pool_ids:?}");
    let pool_id = &pool_ids[0];
    let pool = aws
        .cognito
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap();
    state.push(format!(
        "pool {pool_id}: {:?} {:?} {:?} {:?}",
        pool.last_modified_date(),
        pool.policies(),
        pool.deletion_protection(),
        pool.user_pool_tags().map(sorted)
    ));
    let clients = aws.client_ids(pool_id, "MCPServerPoolClient").await;
    assert_eq!(clients.len(), 1, "{env}: clients {clients:?}");
    let client = aws
        .cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(&clients[0])
        .send()
        .await
        .unwrap();
    let client = client.user_pool_client().unwrap();
    state.push(format!(
        "client {}: {:?} {:?}",
        clients[0],
        client.last_modified_date(),
        client.explicit_auth_flows()
    ));
    let user = aws
        .cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username("testuser")
        .send()
        .await
        .unwrap();
    state.push(format!(
        "user: {:?} {}",
        user.user_last_modified_date(),
        user.enabled()
    ));

    let role_name = format!("agentcore-web-search-mcp-role-{env}");
    let role = aws
        .iam
        .get_role()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    state.push(format!(
        "role {role_name}: {:?} {:?} {:?} {:?}",
        role.description(),
        role.max_session_duration(),
        role.assume_role_policy_document(),
        role.tags()
    ));
    let policies = aws
        .iam
        .list_role_policies()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
    for name in policies.policy_names() {
        let policy = aws
            .iam
            .get_role_policy()
            .role_name(&role_name)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        state.push(format!("policy {name}: {}", policy.policy_document()));
    }

    let repository_name = format!("web-search-mcp-{env}");
    let repositories = aws
        .ecr
        .describe_repositories()
        .repository_names(&repository_name)
        .send()
        .await
        .unwrap();
    let repository = &repositories.repositories()[0];
    let tags = aws
        .ecr
        .list_tags_for_resource()
        .resource_arn(repository.repository_arn().unwrap())
        .send()
        .await
        .unwrap();
    let lifecycle = aws
        .ecr
        .get_lifecycle_policy()
        .repository_name(&repository_name)
        .send()
        .await
        .unwrap();
    state.push(format!(
        "repository {repository_name}: {:?} {:?} {:?} {:?} {:?}",
        repository.image_tag_mutability(),
        repository.image_scanning_configuration(),
        repository.encryption_configuration(),
        tags.tags(),
        lifecycle.lifecycle_policy_text()
    ));

    let secret_name = format!("web-search-mcp-{env}/openai_api_key");
    let secret = aws
        .secrets
        .describe_secret()
        .secret_id(&secret_name)
        .send()
        .await
        .unwrap();
    state.push(format!(
        "secret {secret_name}: {:?} {:?} {:?} {:?}",
        secret.description(),
        secret.last_changed_date(),
        secret.version_ids_to_stages().map(sorted),
        secret.tags()
    ));

    let runtime = runtime_of(aws, env).await;
    state.push(format!(
        "runtime {}: version {} of {:?}, {:?} {:?} {:?} {:?} {:?} {:?}",
        runtime.agent_runtime_id(),
        runtime.agent_runtime_version(),
        runtime.last_updated_at(),
        runtime.description(),
        runtime.role_arn(),
        runtime.environment_variables().map(sorted),
        runtime.agent_runtime_artifact(),
        runtime.authorizer_configuration(),
        runtime.lifecycle_configuration()
    ));
    state.join("\n")
}

/// A map in the order of its keys (AWS's SDK maps are hash maps).
fn sorted<V: Clone>(
    map: &std::collections::HashMap<String, V>,
) -> std::collections::BTreeMap<String, V> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The runtime `web_search_mcp_{env}`, as `GetAgentRuntime` returns it.
async fn runtime_of(
    aws: &Aws,
    env: &str,
) -> aws_sdk_bedrockagentcorecontrol::operation::get_agent_runtime::GetAgentRuntimeOutput {
    let name = format!("web_search_mcp_{env}");
    let list = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let ids: Vec<&str> = list
        .agent_runtimes()
        .iter()
        .filter(|r| r.agent_runtime_name() == name)
        .map(|r| r.agent_runtime_id())
        .collect();
    assert_eq!(ids.len(), 1, "{env}: runtimes {ids:?}");
    aws.agentcore
        .get_agent_runtime()
        .agent_runtime_id(ids[0])
        .send()
        .await
        .unwrap()
}

/// The tag `infra:stack` of a role.
async fn role_stack_tag(aws: &Aws, role: &str) -> Option<String> {
    let tags = aws
        .iam
        .list_role_tags()
        .role_name(role)
        .send()
        .await
        .unwrap();
    tags.tags()
        .iter()
        .find(|t| t.key() == "infra:stack")
        .map(|t| t.value().to_owned())
}

#[tokio::test]
async fn two_environments_apply_into_one_account_as_two_complete_stacks() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = two_environments();

    let dev = project
        .infra(&moto, &["--env", "dev", "apply", "--yes"])
        .expect(0);
    assert!(
        dev.stdout
            .contains("+ iam_role.agentcore-web-search-mcp-role-dev"),
        "{}",
        dev.stdout
    );
    assert!(!dev.stdout.contains("prod"), "{}", dev.stdout);
    // INFRA_ENV names the environment as --env does.
    let prod = project
        .infra_env(
            &moto,
            &["apply", "--yes"],
            &[
                ("INFRA_ENV", "prod"),
                ("COGNITO_PASSWORD", support::PASSWORD),
                ("OPENAI_API_KEY", support::OPENAI_KEY),
            ],
        )
        .expect(0);
    assert!(
        prod.stdout
            .contains("+ iam_role.agentcore-web-search-mcp-role-prod"),
        "{}",
        prod.stdout
    );
    // prod found nothing of dev's to change: everything of its own was created.
    assert!(
        !prod.stdout.contains("-dev") && !prod.stdout.contains("_dev"),
        "{}",
        prod.stdout
    );

    // Each environment is converged; `--env` is global, after the command too.
    for env in ["dev", "prod"] {
        project
            .infra(&moto, &["--env", env, "plan", "--detailed-exitcode"])
            .expect(0);
        let output = project
            .infra(&moto, &["output", "--json", "--env", env])
            .expect(0);
        let output: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
        assert!(
            output["role_arn"]
                .as_str()
                .unwrap()
                .ends_with(&format!("role/agentcore-web-search-mcp-role-{env}")),
            "{output}"
        );
        assert_eq!(
            output["runtime_arn"].as_str(),
            Some(runtime_of(&aws, env).await.agent_runtime_arn()),
            "{output}"
        );
    }

    // Two of everything, each tagged for its own stack: read back through the AWS API.
    for env in ["dev", "prod"] {
        let role = format!("agentcore-web-search-mcp-role-{env}");
        assert_eq!(
            role_stack_tag(&aws, &role).await.as_deref(),
            Some(format!("web-search-mcp-{env}").as_str())
        );
        // Pool, client, user, role and policies, repository, secret, runtime: all there.
        let state = stack_state(&aws, env).await;
        assert!(state.contains(&format!("web-search-mcp-{env}")), "{state}");
        let runtime = runtime_of(&aws, env).await;
        let role_arn = runtime.role_arn();
        assert!(role_arn.ends_with(&role), "{role_arn}");
        let secret = aws
            .secret_value(&format!("web-search-mcp-{env}/openai_api_key"))
            .await;
        assert_eq!(secret, support::OPENAI_KEY);
    }
    let runtimes = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    assert_eq!(runtimes.agent_runtimes().len(), 2);
}

#[tokio::test]
async fn applying_a_change_to_dev_writes_only_devs_resources_and_leaves_prod_as_it_was() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = two_environments();
    for env in ["dev", "prod"] {
        project
            .infra(&moto, &["--env", env, "apply", "--yes"])
            .expect(0);
    }
    let prod_before = stack_state(&aws, "prod").await;
    let dev_before = stack_state(&aws, "dev").await;

    // dev gets another role description and runtime setting; prod's overlay is unchanged.
    write(
        &project,
        "stack.dev.toml",
        &format!(
            "{}\n[runtime.environment]\nOPENAI_MODEL = \"o4-mini\"\n",
            overlay("dev").replace(
                "[iam.role]\n",
                "[iam.role]\ndescription = \"the dev role\"\n"
            )
        ),
    );
    let plan = project
        .infra(&moto, &["--env", "dev", "plan", "--detailed-exitcode"])
        .expect(2);
    assert!(plan.stdout.contains("~ description"), "{}", plan.stdout);
    assert!(plan.stdout.contains("OPENAI_MODEL"), "{}", plan.stdout);
    project
        .infra(&moto, &["--env", "prod", "plan", "--detailed-exitcode"])
        .expect(0);

    moto.start_recording();
    project
        .infra(&moto, &["--env", "dev", "apply", "--yes"])
        .expect(0);
    let mut writes = moto.writes();
    writes.sort();
    assert_eq!(writes, ["UpdateAgentRuntime", "UpdateRole"]);
    // Every write names one of dev's resources, none of prod's.
    for request in recorded_writes(&moto) {
        assert!(request.contains("dev"), "{request}");
        assert!(!request.contains("prod"), "{request}");
    }

    // prod, read back: not one setting, tag, version or date moved.
    assert_eq!(stack_state(&aws, "prod").await, prod_before);
    assert_ne!(stack_state(&aws, "dev").await, dev_before);
    project
        .infra(&moto, &["--env", "prod", "plan", "--detailed-exitcode"])
        .expect(0);
    project
        .infra(&moto, &["--env", "dev", "plan", "--detailed-exitcode"])
        .expect(0);
    let role = aws
        .iam
        .get_role()
        .role_name("agentcore-web-search-mcp-role-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(
        role.role().and_then(|r| r.description()),
        Some("the dev role")
    );
}

/// Each write the recorder holds since `start_recording`: its method, URL and body.
fn recorded_writes(moto: &Moto) -> Vec<String> {
    use base64::Engine;
    let body = support::http(moto.port, "GET", "/moto-api/recorder/download-recording").unwrap();
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let method = record["method"].as_str().unwrap_or_default();
            let url = record["url"].as_str().unwrap_or_default();
            let path = url.splitn(4, '/').nth(3).unwrap_or_default();
            let raw = record["body"].as_str().unwrap_or_default();
            let body = if record["body_encoded"].as_bool() == Some(true) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .unwrap();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                raw.to_owned()
            };
            let target = record["headers"]["X-Amz-Target"].as_str();
            let operation = support::operation(method, path, target, &body);
            (!support::is_read(&operation)).then(|| format!("{operation} {method} {url} {body}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Refused before any AWS call: each run's whole output is a snapshot.

/// `infra ARGS` against the emulator, recording: exit 1, and not one AWS call.
#[track_caller]
fn refused(moto: &Moto, project: &Project, args: &[&str], snapshot: &str) {
    moto.start_recording();
    let run = project.infra(moto, args).expect(1);
    assert_run_snapshot!(snapshot, run, project.filters(), moto.filters());
    assert_eq!(
        moto.operations(),
        Vec::<String>::new(),
        "{snapshot}: AWS was called"
    );
    // apply refuses the same way.
    let mut apply: Vec<&str> = args.iter().copied().filter(|a| *a != "plan").collect();
    apply.extend(["apply", "--yes"]);
    let again = project.infra(moto, &apply).expect(1);
    assert_eq!(
        again.stderr, run.stderr,
        "{snapshot}: apply and plan differ"
    );
    assert_eq!(
        moto.operations(),
        Vec::<String>::new(),
        "{snapshot}: AWS was called"
    );
}

#[test]
fn a_bad_value_is_reported_in_the_file_it_came_from_and_nothing_is_called() {
    let moto = Moto::start();

    // In the overlay: at the overlay's line.
    let project = two_environments();
    write(
        &project,
        "stack.prod.toml",
        &format!("{}idle_timeout_seconds = 5\n", overlay("prod")),
    );
    refused(
        &moto,
        &project,
        &["--env", "prod", "plan"],
        "overlay_value_error",
    );

    // In the base: at the base's line, whichever environment is loaded.
    let project = Project::from_repo(|s| {
        s.replacen(
            "max_lifetime_seconds = 28800",
            "max_lifetime_seconds = 30",
            1,
        )
    });
    write(&project, "stack.dev.toml", &overlay("dev"));
    write(&project, "stack.prod.toml", &overlay("prod"));
    refused(
        &moto,
        &project,
        &["--env", "prod", "plan"],
        "base_value_error",
    );

    // A syntax error in the overlay: in the overlay.
    let project = two_environments();
    write(
        &project,
        "stack.prod.toml",
        &format!("{}description = \"unfinished\n", overlay("prod")),
    );
    refused(
        &moto,
        &project,
        &["--env", "prod", "plan"],
        "overlay_syntax_error",
    );
}

#[test]
fn a_missing_overlay_and_an_overlay_without_its_own_stack_name_are_refused() {
    let moto = Moto::start();
    let project = two_environments();
    refused(
        &moto,
        &project,
        &["--env", "staging", "plan"],
        "missing_overlay",
    );

    write(
        &project,
        "stack.prod.toml",
        &overlay("prod").replace("[stack]\nname = \"web-search-mcp-prod\"\n\n", ""),
    );
    refused(
        &moto,
        &project,
        &["--env", "prod", "plan"],
        "overlay_without_stack_name",
    );

    // Not an environment's name: refused by the command line (exit 2), before anything is read.
    let run = project
        .infra_at("http://127.0.0.1:1", &["--env", "../prod", "plan"])
        .expect(2);
    assert!(
        run.stderr.contains("not an environment name"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_role_repository_or_runtime_name_two_environments_share_is_refused() {
    let moto = Moto::start();
    let project = two_environments();
    // dev takes prod's role name, and neither names its repository or runtime: both would
    // take the base's.
    let without = |env: &str| {
        overlay(env)
            .replace(
                &format!("[ecr.repository]\nname = \"web-search-mcp-{env}\"\n\n"),
                "",
            )
            .replace(&format!("[runtime]\nname = \"web_search_mcp_{env}\"\n"), "")
    };
    write(
        &project,
        "stack.dev.toml",
        &without("dev").replace("role-dev", "role-prod"),
    );
    write(&project, "stack.prod.toml", &without("prod"));
    refused(&moto, &project, &["--env", "dev", "plan"], "shared_names");
    // prod sees the same from its side.
    moto.start_recording();
    let prod = project.infra(&moto, &["--env", "prod", "plan"]).expect(1);
    assert!(
        prod.stderr.contains(
            "stack.prod.toml:9:8: iam.role.name: \"agentcore-web-search-mcp-role-prod\" is \
             also the IAM role name of environment dev (stack.dev.toml:9:8)"
        ),
        "{}",
        prod.stderr
    );
    assert_eq!(moto.operations(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Build once, deploy many.

/// A dependency-free package standing in for the server (as in tests/image.rs), so building
/// takes seconds.
fn fixture_crate(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [profile.release]\ncodegen-units = 1\npanic = \"abort\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"fixture\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    println!(\"hello\");\n}\n",
    )
    .unwrap();
}

#[tokio::test]
async fn one_commit_deploys_one_digest_to_every_environment() {
    let registry = LocalRegistry::start();
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    // The base declares no image: an overlay adds to the base and cannot take a key out, so
    // each environment says how it gets its image (here both build it, as the first deploy of
    // a commit does).
    let project = Project::from_repo_building(|s| {
        let (head, rest) = s.split_once("[image]\n").unwrap();
        let (_, tail) = rest.split_once("[runtime]\n").unwrap();
        format!("{head}[runtime]\n{tail}")
    });
    fixture_crate(project.dir.path());
    let building = |env: &str| format!("{}\n[image]\nbuild = \"fixture\"\n", overlay(env));
    write(&project, "stack.dev.toml", &building("dev"));
    write(&project, "stack.prod.toml", &building("prod"));
    let home = std::env::var("HOME").unwrap();
    let owned = [
        ("COGNITO_PASSWORD", support::PASSWORD.to_owned()),
        ("OPENAI_API_KEY", support::OPENAI_KEY.to_owned()),
        ("INFRA_ECR_REGISTRY", registry.url.clone()),
        (
            "INFRA_TOOLS_ROOT",
            support::workspace_root().display().to_string(),
        ),
        (
            "RUSTUP_HOME",
            std::env::var("RUSTUP_HOME").unwrap_or(format!("{home}/.rustup")),
        ),
        (
            "CARGO_HOME",
            std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo")),
        ),
    ];
    let env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // One build per environment, as a pipeline runs one job per environment.
    let mut digests = Vec::new();
    for env_name in ["dev", "prod"] {
        let apply = project
            .infra_env(&moto, &["--env", env_name, "apply", "--yes"], &env)
            .expect(0);
        assert!(apply.stdout.contains("+ image.fixture"), "{}", apply.stdout);
        let runtime = runtime_of(&aws, env_name).await;
        let Some(
            aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeArtifact::ContainerConfiguration(c),
        ) = runtime.agent_runtime_artifact()
        else {
            panic!("{env_name}: no container artifact");
        };
        let (repository, digest) = c.container_uri().split_once('@').unwrap();
        assert!(
            repository.ends_with(&format!("/web-search-mcp-{env_name}")),
            "{repository}"
        );
        digests.push(digest.to_owned());
    }
    assert!(digests[0].starts_with("sha256:"), "{digests:?}");
    assert_eq!(digests[0], digests[1], "dev and prod run different images");

    // Promotion: prod pinned to the digest dev ran (in prod's own repository) is what it runs.
    write(
        &project,
        "stack.prod.toml",
        &format!(
            "{}\n[image]\nuri = \"${{repository_uri}}@{}\"\n",
            overlay("prod"),
            digests[0]
        ),
    );
    project
        .infra_env(
            &moto,
            &["--env", "prod", "plan", "--detailed-exitcode"],
            &env,
        )
        .expect(0);
}
