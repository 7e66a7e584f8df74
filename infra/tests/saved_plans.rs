//! Saved plans as a pipeline uses them: `plan --out FILE` on a pull request (with
//! `--skip-password-check`: no sign-in, no secret), `apply FILE` on merge, applied only while
//! live AWS still matches what was reviewed. Against the emulator, with its request recorder.

mod support;

use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
use support::{Aws, Moto, OPENAI_KEY, PASSWORD, Project};

const CLIENT: &str = "MCPServerPoolClient";
const POOL: &str = "MCPServerPool";
const ROLE: &str = "agentcore-web-search-mcp-role";
const PLAN: &str = "plan.json";

/// The environment of a pull-request job: no password, no API key.
const NO_SECRETS: [&str; 2] = ["COGNITO_PASSWORD", "OPENAI_API_KEY"];

fn saved(project: &Project) -> String {
    std::fs::read_to_string(project.dir.path().join(PLAN)).unwrap()
}

#[test]
fn a_saved_plan_is_applied_exactly_and_without_a_prompt() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let plan = project
        .infra(&moto, &["plan", "--out", PLAN, "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stderr.contains("Saved the plan to plan.json"),
        "{}",
        plan.stderr
    );
    let file = saved(&project);
    assert!(
        !file.contains(PASSWORD) && !file.contains(OPENAI_KEY),
        "{file}"
    );

    // `show` prints what was reviewed, with no AWS call.
    moto.start_recording();
    let shown = project.infra(&moto, &["show", PLAN]).expect(0);
    assert!(shown.stdout.starts_with(&plan.stdout), "{}", shown.stdout);
    let json = project.infra(&moto, &["show", PLAN, "--json"]).expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(moto.operations(), Vec::<String>::new());
    let now = project.infra(&moto, &["plan", "--json"]).expect(0);
    let now: serde_json::Value = serde_json::from_str(&now.stdout).unwrap();
    assert_eq!(value, now);

    // No --yes, no terminal: a saved plan needs no confirmation.
    let applied = project.infra(&moto, &["apply", PLAN]).expect(0);
    assert!(
        applied.stdout.contains("Apply complete!"),
        "{}",
        applied.stdout
    );
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_plan_is_stale_once_live_aws_changed_and_nothing_is_written() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let pool_id = aws.pool_ids(POOL).await.remove(0);
    let client_id = aws.client_ids(&pool_id, CLIENT).await.remove(0);
    project.edit_stack(|s| {
        s.replace(
            "description = \"OpenAI web search over MCP\"",
            "description = \"OpenAI web search over MCP, reviewed\"",
        )
    });
    project
        .infra(&moto, &["plan", "--out", PLAN, "--detailed-exitcode"])
        .expect(2);

    // Between review and merge, a colleague edits the role's policy and the client's flows.
    aws.iam
        .put_role_policy()
        .role_name(ROLE)
        .policy_name("AgentCoreRuntime")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    aws.cognito
        .update_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .client_name(CLIENT)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();

    moto.start_recording();
    let run = project.infra(&moto, &["apply", PLAN]).expect(1);
    assert!(
        run.stderr.contains("error: the plan is stale"),
        "{}",
        run.stderr
    );
    for named in [
        "iam_role_policy.AgentCoreRuntime: document: was a value with digest",
        &format!("cognito_user_pool_client.{CLIENT}: explicit_auth_flows: was"),
    ] {
        assert!(
            run.stderr.contains(named),
            "{named} not in:\n{}",
            run.stderr
        );
    }
    assert_eq!(moto.writes(), Vec::<String>::new());

    // Planned again, it applies.
    project.infra(&moto, &["plan", "--out", PLAN]).expect(0);
    project.infra(&moto, &["apply", PLAN]).expect(0);
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_runtime_updated_by_hand_makes_the_plan_stale() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    project.edit_stack(|s| {
        s.replace(
            "description = \"OpenAI web search over MCP\"",
            "description = \"OpenAI web search over MCP, reviewed\"",
        )
    });
    project.infra(&moto, &["plan", "--out", PLAN]).expect(0);

    // The same settings, sent again by hand: a new runtime version all the same.
    let list = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let id = list.agent_runtimes()[0].agent_runtime_id().to_owned();
    let previous = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(&id)
        .send()
        .await
        .unwrap()
        .agent_runtime_version()
        .to_owned();
    aws.update_runtime_by_hand(&id, |update| update).await;

    moto.start_recording();
    let run = project.infra(&moto, &["apply", PLAN]).expect(1);
    let was = format!(
        "agentcore_runtime.web_search_mcp: version: was {:?}, now",
        previous
    );
    assert!(
        run.stderr.contains("error: the plan is stale") && run.stderr.contains(&was),
        "{was} not in:\n{}",
        run.stderr
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
}

#[test]
fn a_plan_of_another_stack_file_content_or_not_a_plan_is_refused_before_any_call() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["plan", "--out", PLAN]).expect(0);
    project.edit_stack(|s| s.replace("OpenAI web search over MCP", "Edited after review"));
    moto.start_recording();
    let run = project.infra(&moto, &["apply", PLAN]).expect(1);
    assert!(
        run.stderr
            .contains("the plan was made from another content of stack.toml"),
        "{}",
        run.stderr
    );
    std::fs::write(project.dir.path().join("notes.txt"), "not a plan").unwrap();
    let run = project.infra(&moto, &["apply", "notes.txt"]).expect(1);
    assert!(
        run.stderr.contains("notes.txt is not a saved plan"),
        "{}",
        run.stderr
    );
    let mut other = saved(&project);
    other = other.replace(
        &format!("\"infra_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
        "\"infra_version\": \"0.0.0-older\"",
    );
    project.edit_stack(|s| s.replace("Edited after review", "OpenAI web search over MCP"));
    std::fs::write(project.dir.path().join("older.json"), other).unwrap();
    let run = project.infra(&moto, &["apply", "older.json"]).expect(1);
    assert!(
        run.stderr
            .contains("the plan was made by infra 0.0.0-older"),
        "{}",
        run.stderr
    );
    assert_eq!(moto.operations(), Vec::<String>::new());
}

#[test]
fn a_pull_request_plan_needs_no_secret_and_signs_nobody_in() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let sign_in = |ops: &[String]| {
        ops.iter()
            .any(|op| op.contains("InitiateAuth") || op.contains("GetSecretValue"))
    };

    // From empty: the user and the secret are created, their values not checked.
    moto.start_recording();
    let plan = project
        .infra_env_without(
            &moto,
            &["plan", "--skip-password-check", "--out", PLAN],
            &[],
            &NO_SECRETS,
        )
        .expect(0);
    assert!(
        plan.stdout.contains(
            "password: not checked (--skip-password-check); apply needs $COGNITO_PASSWORD"
        ) && plan
            .stdout
            .contains("value: not checked (--skip-password-check); apply needs $OPENAI_API_KEY"),
        "{}",
        plan.stdout
    );
    assert!(!sign_in(&moto.operations()), "{:?}", moto.operations());

    // On merge, with the secrets: the reviewed plan applies.
    project.infra(&moto, &["apply", PLAN]).expect(0);

    // Deployed: the job's plan (here through INFRA_SKIP_PASSWORD_CHECK) is empty, and still
    // signs nobody in and reads no secret value.
    moto.start_recording();
    let plan = project
        .infra_env_without(
            &moto,
            &["plan", "--detailed-exitcode"],
            &[("INFRA_SKIP_PASSWORD_CHECK", "1")],
            &NO_SECRETS,
        )
        .expect(0);
    assert!(
        plan.stdout.contains("No changes.")
            && plan
                .stdout
                .contains("password: not checked (--skip-password-check)")
            && plan
                .stdout
                .contains("value: not checked (--skip-password-check)"),
        "{}",
        plan.stdout
    );
    assert!(!sign_in(&moto.operations()), "{:?}", moto.operations());
}
