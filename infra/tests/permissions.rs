//! `infra permissions plan|apply` against what `infra plan` and `infra apply` really call: the
//! emulator records every request, each is mapped to its IAM action, and every action a command
//! made must be in the policy `infra permissions` prints for that command. (The image registry's
//! requests go to a local registry in tests, not through the emulator: a unit test in
//! `src/permissions.rs` maps each request `container/registry.rs` makes to its ECR action.)

mod support;

use std::collections::BTreeSet;

use base64::Engine as _;
use support::{Moto, Project, assert_run_snapshot, http, operation, stacks};

/// Operations IAM does not authorize: Cognito's public sign-in takes the user's password, not
/// AWS credentials ("unauthenticated" in
/// https://docs.aws.amazon.com/cognito/latest/developerguide/user-pools-API-operations.html),
/// and the SDK sends it unsigned. No policy needs to allow it.
const PUBLIC: &[&str] = &["InitiateAuth"];

/// Another password and OpenAI key, for the apply of an update.
const NEW_PASSWORD: &str = "N3w-Passw0rd!xyz";
const NEW_KEY: &str = "sk-test-fedcba9876543210";

/// The calls recorded since the last `start_recording`, as IAM actions (`service:Action`): the
/// service is the signing name in the request's SigV4 credential scope (for every service infra
/// calls, its IAM prefix, but for the Tagging API's), the action the operation's name. A request without a signature is
/// `unsigned:OPERATION`: IAM does not see it.
fn recorded_actions(moto: &Moto) -> Vec<String> {
    let body = http(moto.port, "GET", "/moto-api/recorder/download-recording")
        .expect("download the recording");
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            // Credential=KEY/DATE/REGION/SERVICE/aws4_request
            let service = match record["headers"]["Authorization"].as_str() {
                Some(authorization) => {
                    let scope = authorization.split("Credential=").nth(1)?;
                    match scope.split(['/', ',']).nth(3)? {
                        // The one service whose signing name is not its IAM prefix: the
                        // Resource Groups Tagging API signs as `tagging`, its actions are
                        // `tag:*` (Service Authorization Reference, "Actions defined by
                        // Resource Groups Tagging API").
                        "tagging" => "tag".to_owned(),
                        name => name.to_owned(),
                    }
                }
                None => "unsigned".to_owned(),
            };
            let url = record["url"].as_str().unwrap_or_default();
            let path = url.splitn(4, '/').nth(3).unwrap_or_default();
            let body = record["body"].as_str().unwrap_or_default();
            let body = if record["body_encoded"].as_bool() == Some(true) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                body.to_owned()
            };
            let method = record["method"].as_str().unwrap_or_default();
            let target = record["headers"]["X-Amz-Target"].as_str();
            Some(format!(
                "{service}:{}",
                operation(method, path, target, &body)
            ))
        })
        .collect()
}

/// The actions of the policy `infra permissions ARGS --json` prints (the caller's account,
/// from the emulator's STS).
fn printed(
    project: &Project,
    moto: &Moto,
    args: &[&str],
    env: &[(&str, &str)],
) -> BTreeSet<String> {
    let mut args = args.to_vec();
    args.push("--json");
    let run = project.infra_env(moto, &args, env).expect(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed["account_id"], "123456789012", "{}", run.stdout);
    assert_eq!(printed["partition"], "aws");
    assert_eq!(printed["region"], "us-west-2");
    assert!(printed["caller"].is_string(), "{}", run.stdout);
    let statements = printed["policy"]["Statement"].as_array().unwrap();
    statements
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// Every action the command made since the last `start_recording` is in `policy`; returns them.
#[track_caller]
fn assert_granted(moto: &Moto, policy: &BTreeSet<String>, what: &str) -> BTreeSet<String> {
    let calls: BTreeSet<String> = recorded_actions(moto).into_iter().collect();
    assert!(!calls.is_empty(), "{what}: nothing was recorded");
    let missing: Vec<&String> = calls
        .iter()
        .filter(|a| match a.strip_prefix("unsigned:") {
            Some(operation) => !PUBLIC.contains(&operation),
            None => !policy.contains(*a),
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{what} called {missing:?}, which `infra permissions` does not grant; it grants {policy:#?}"
    );
    calls
}

/// No action of a plan's policy changes anything: each reads by its name, and none starts
/// with a word that writes.
#[track_caller]
fn assert_read_only(policy: &BTreeSet<String>) {
    for action in policy {
        assert!(
            infra::permissions::reads_only(action),
            "{action} is in a plan's policy and does not only read by its name"
        );
    }
}

/// The repository's stack with a log group, so every kind is called.
fn with_log_group(s: String) -> String {
    let edited = s.replacen(
        "[runtime.environment]",
        "log_retention_days = 30\n\n[runtime.environment]",
        1,
    );
    assert_ne!(edited, s, "stack.toml has no [runtime.environment]");
    edited
}

#[test]
fn every_call_of_plan_and_apply_is_in_the_policy_infra_permissions_prints_for_it() {
    let moto = Moto::start();
    let project = Project::from_repo(with_log_group);
    let plan_policy = printed(&project, &moto, &["permissions", "plan"], &[]);
    let skipping_policy = printed(
        &project,
        &moto,
        &["permissions", "plan", "--skip-password-check"],
        &[],
    );
    let apply_policy = printed(&project, &moto, &["permissions", "apply"], &[]);
    assert_read_only(&plan_policy);
    assert_read_only(&skipping_policy);
    assert!(plan_policy.is_subset(&apply_policy));
    assert!(skipping_policy.is_subset(&plan_policy));
    assert!(apply_policy.contains("iam:PassRole"));

    moto.start_recording();
    project.infra(&moto, &["plan"]).expect(0);
    assert_granted(&moto, &plan_policy, "plan from empty");

    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let created = assert_granted(&moto, &apply_policy, "apply from empty");
    for write in [
        "cognito-idp:CreateUserPool",
        "cognito-idp:AdminSetUserPassword",
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "ecr:CreateRepository",
        "secretsmanager:CreateSecret",
        "bedrock-agentcore:CreateAgentRuntime",
        "logs:PutRetentionPolicy",
    ] {
        assert!(created.contains(write), "{write}: {created:?}");
    }

    // The password check signs in; the secret's value is read to compare it.
    moto.start_recording();
    project.infra(&moto, &["plan"]).expect(0);
    let checked = assert_granted(&moto, &plan_policy, "plan after apply");
    for read in ["secretsmanager:GetSecretValue", "unsigned:InitiateAuth"] {
        assert!(checked.contains(read), "{read}: {checked:?}");
    }
    moto.start_recording();
    project
        .infra(&moto, &["plan", "--skip-password-check"])
        .expect(0);
    let skipped = assert_granted(&moto, &skipping_policy, "plan --skip-password-check");
    for read in ["secretsmanager:GetSecretValue", "unsigned:InitiateAuth"] {
        assert!(!skipped.contains(read), "{read}: {skipped:?}");
    }

    // An update of every kind, a new password and a new secret value.
    project.edit_stack(stacks::update_every_kind);
    let new = [
        ("COGNITO_PASSWORD", NEW_PASSWORD),
        ("OPENAI_API_KEY", NEW_KEY),
    ];
    let apply_policy = printed(&project, &moto, &["permissions", "apply"], &new);
    moto.start_recording();
    project
        .infra_env(&moto, &["apply", "--yes"], &new)
        .expect(0);
    let updated = assert_granted(&moto, &apply_policy, "apply of an update");
    for write in [
        "cognito-idp:UpdateUserPool",
        "cognito-idp:UpdateUserPoolClient",
        "cognito-idp:AdminSetUserPassword",
        "iam:UpdateRole",
        "iam:PutRolePolicy",
        "ecr:PutImageTagMutability",
        "ecr:PutLifecyclePolicy",
        "secretsmanager:UpdateSecret",
        "secretsmanager:PutSecretValue",
        "bedrock-agentcore:UpdateAgentRuntime",
    ] {
        assert!(updated.contains(write), "{write}: {updated:?}");
    }

    let plan_policy = printed(&project, &moto, &["permissions", "plan"], &new);
    moto.start_recording();
    project
        .infra_env(&moto, &["plan", "--detailed-exitcode"], &new)
        .expect(0);
    assert_granted(&moto, &plan_policy, "plan after the update");
}

#[test]
fn the_policies_of_the_repository_s_stack() {
    let moto = Moto::start();
    // As it is: `permissions` builds nothing.
    let project = Project::from_repo_building(|s| s);
    for command in ["plan", "apply"] {
        let run = project.infra(&moto, &["permissions", command]).expect(0);
        assert_run_snapshot!(
            format!("{command}_policy"),
            run,
            project.filters(),
            moto.filters()
        );
    }
}

#[test]
fn without_credentials_the_account_and_partition_are_placeholders() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let run = project
        .infra_env_without(
            &moto,
            &["permissions", "apply"],
            &[],
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        )
        .expect(0);
    assert!(
        run.stdout.contains(
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/agentcore-web-search-mcp-role"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("123456789012"));
    assert!(
        run.stderr
            .contains("Account and partition are placeholders (no AWS credentials"),
        "{}",
        run.stderr
    );
    // The document is JSON on stdout alone; what it is for is on stderr.
    let _: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();

    // --placeholders asks nobody.
    moto.start_recording();
    let run = project
        .infra(&moto, &["permissions", "plan", "--placeholders", "--json"])
        .expect(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed["account_id"], "${AWS::AccountId}");
    assert_eq!(printed["placeholders_because"], "--placeholders");
    assert!(recorded_actions(&moto).is_empty());
}
