//! The command line as a user meets it: bad stack files rejected before any AWS call, help,
//! and snapshots of whole rendered plans (plain text, as in a pipe), in `snapshots/` (insta:
//! `INSTA_UPDATE=always cargo test -p infra --test cli` rewrites them; review with `git diff`).

mod support;

use aws_sdk_cognitoidentityprovider::types::{PasswordPolicyType, UserPoolPolicyType};
use support::{Aws, Moto, Project, STACK_NAME};

/// Each case: an edit of the repository's stack.toml and what the error must say.
const BAD_STACKS: &[(&str, &str, &str, &str)] = &[
    (
        "unknown key",
        "password_policy = { minimum_length = 8 }",
        "password_policy = { minimum_length = 8 }\nmfa = \"ON\"",
        "stack.toml:11:1: unknown field `mfa`, expected one of `name`, `password_policy`",
    ),
    (
        "wrong type",
        "minimum_length = 8",
        "minimum_length = \"eight\"",
        "stack.toml:10:38: invalid type: string \"eight\", expected an integer",
    ),
    (
        "password policy out of range",
        "minimum_length = 8",
        "minimum_length = 100",
        "stack.toml:10:38: cognito.user_pool.password_policy.minimum_length: 100 is out of range; allowed: 6 to 99",
    ),
    (
        "pool name breaks the AWS pattern",
        "name = \"MCPServerPool\"",
        "name = \"MCP/ServerPool\"",
        "stack.toml:9:8: cognito.user_pool.name: \"MCP/ServerPool\" is not a valid name; allowed: 1-128 characters",
    ),
    (
        "role name too long",
        "name = \"agentcore-web-search-mcp-role\"",
        "name = \"agentcore-web-search-mcp-role-with-a-name-much-longer-than-iam-allows\"",
        "stack.toml:21:8: iam.role.name: \"agentcore-web-search-mcp-role-with-a-name-much-longer-than-iam-allows\" is not a valid name; allowed: 1-64 characters",
    ),
    (
        "literal password",
        "password = { env = \"COGNITO_PASSWORD\" }",
        "password = \"Hunter2-Literal!\"",
        "stack.toml:18:12: cognito.users.password: a literal password is not allowed in the stack file",
    ),
    (
        "unknown placeholder",
        "\"${repository_arn}\"",
        "\"${repo_name}\"",
        "iam.role.policies.AgentCoreRuntime.document: unknown placeholder ${repo_name}; allowed: ${region}, ${account_id}, ${partition}, ${stack}",
    ),
    (
        "unknown auth flow",
        "\"ALLOW_REFRESH_TOKEN_AUTH\"]",
        "\"ALLOW_REFRESH_TOKEN\"]",
        "unknown variant `ALLOW_REFRESH_TOKEN`, expected one of `ALLOW_ADMIN_USER_PASSWORD_AUTH`",
    ),
    (
        "a key as a literal runtime variable",
        "OPENAI_MODEL = \"o3\"",
        "OPENAI_MODEL = \"o3\"\nOPENAI_ORG_KEY = \"Hunter2-Literal!\"",
        "stack.toml:120:18: runtime.environment.OPENAI_ORG_KEY: its name says it is a secret",
    ),
    (
        "a variable from the environment in the runtime's plaintext configuration",
        "OPENAI_MODEL = \"o3\"",
        "OPENAI_MODEL = \"o3\"\nSEARCH_CONTEXT = { env = \"SEARCH_CONTEXT\" }",
        "runtime.environment.SEARCH_CONTEXT: { env = \"SEARCH_CONTEXT\" } would put the value in plaintext",
    ),
    (
        "a literal secret value",
        "value = { env = \"OPENAI_API_KEY\" }",
        "value = \"Hunter2-Literal!\"",
        "secrets.openai_api_key.value: a literal secret is not allowed",
    ),
    (
        "a runtime secret that is not declared",
        "OPENAI_API_KEY = \"openai_api_key\"",
        "OPENAI_API_KEY = \"openai\"",
        "runtime.secrets.OPENAI_API_KEY: \"openai\" is not declared; declare [secrets.openai]",
    ),
];

#[test]
fn a_bad_stack_file_is_rejected_with_file_line_and_field_and_no_aws_call() {
    let moto = Moto::start();
    for (case, from, to, expected) in BAD_STACKS {
        let project = Project::from_repo(|s| {
            assert!(
                s.contains(from),
                "{case}: the repository's stack.toml no longer contains {from:?}"
            );
            s.replacen(from, to, 1)
        });
        moto.start_recording();
        for args in [&["plan"][..], &["apply", "--yes"][..]] {
            let run = project.infra(&moto, args).expect(1);
            assert!(
                run.stderr.contains(expected),
                "{case}: expected {expected:?} in:\n{}",
                run.stderr
            );
            assert!(
                run.stderr.contains("nothing was read or changed"),
                "{case}:\n{}",
                run.stderr
            );
            assert!(run.stdout.is_empty(), "{case}:\n{}", run.stdout);
            assert!(
                !run.stderr.contains("Hunter2-Literal!"),
                "{case}: the literal password was echoed"
            );
        }
        assert_eq!(
            moto.operations(),
            Vec::<String>::new(),
            "{case}: AWS was called"
        );
    }
}

#[test]
fn a_missing_stack_file_is_named() {
    let moto = Moto::start();
    let project = Project::with_stack("");
    let run = project
        .infra(&moto, &["--stack", "nowhere.toml", "plan"])
        .expect(1);
    assert!(
        run.stderr
            .contains("nowhere.toml: cannot read the stack file"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_lists_the_commands_and_global_options() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_infra"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "plan",
        "apply",
        "--stack",
        "--region",
        "--profile",
        "--color",
    ] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
}

/// The repository's AgentCoreRuntime document as deployed to the emulator's account.
fn declared_policy() -> String {
    let stack = std::fs::read_to_string(support::workspace_root().join("stack.toml")).unwrap();
    let start = stack.find("document = '''").unwrap() + "document = '''".len();
    let end = start + stack[start..].find("'''").unwrap();
    stack[start..end]
        .replace("${partition}", "aws")
        .replace("${region}", "us-west-2")
        .replace("${account_id}", "123456789012")
        .replace(
            "${repository_arn}",
            "arn:aws:ecr:us-west-2:123456789012:repository/web-search-mcp",
        )
        .replace("${runtime_name}", "web_search_mcp")
}

/// Ids are random per run: replace them with stable names.
fn redact(text: &str, ids: &[(&str, &str)]) -> String {
    ids.iter()
        .fold(text.to_owned(), |acc, (id, name)| acc.replace(id, name))
}

#[tokio::test]
async fn snapshot_of_the_plan_from_empty_and_of_a_drift_plan() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);

    let create = project.infra(&moto, &["plan"]).expect(0);
    insta::assert_snapshot!("plan_from_empty", create.stdout);

    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let pool_id = aws.pool_ids("MCPServerPool").await.remove(0);
    let client_id = aws
        .client_ids(&pool_id, "MCPServerPoolClient")
        .await
        .remove(0);
    let role = aws
        .iam
        .get_role()
        .role_name("agentcore-web-search-mcp-role")
        .send()
        .await
        .unwrap();
    let role_id = role.role().unwrap().role_id().to_owned();

    aws.iam
        .put_role_policy()
        .role_name("agentcore-web-search-mcp-role")
        .policy_name("AgentCoreRuntime")
        .policy_document(declared_policy().replace("\"logs:DescribeLogGroups\"", "\"logs:*\""))
        .send()
        .await
        .unwrap();
    aws.cognito
        .update_user_pool()
        .user_pool_id(&pool_id)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(10)
                        .temporary_password_validity_days(7)
                        .build(),
                )
                .build(),
        )
        .user_pool_tags("infra:stack", STACK_NAME)
        .send()
        .await
        .unwrap();

    let drift = project.infra(&moto, &["plan"]).expect(0);
    let ids = [
        (pool_id.as_str(), "<pool-id>"),
        (client_id.as_str(), "<client-id>"),
        (role_id.as_str(), "<role-id>"),
    ];
    insta::assert_snapshot!("plan_drift", redact(&drift.stdout, &ids));
}

#[test]
fn on_a_terminal_apply_asks_first_and_only_yes_applies() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);

    moto.start_recording();
    let run = project
        .infra_on_terminal(&moto, "apply", "no\n", &[])
        .expect(1);
    assert!(
        run.stdout
            .contains("Do you want to perform these actions? Only 'yes' will be accepted:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Apply cancelled; nothing was changed."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\x1b[32m+\x1b[0m"),
        "a terminal gets colour:\n{}",
        run.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());

    let run = project
        .infra_on_terminal(&moto, "apply", "yes\n", &[("NO_COLOR", "1")])
        .expect(0);
    assert!(
        run.stdout.contains("Apply complete! Resources: 9 created"),
        "{}",
        run.stdout
    );
    // Cursor control for the progress line is fine; colour (SGR) is not.
    assert!(
        !run.stdout.contains("\x1b[3") && !run.stdout.contains("\x1b[1m"),
        "NO_COLOR is honoured on a terminal:\n{}",
        run.stdout
    );
}

#[test]
fn an_endpoint_that_never_answers_fails_the_command_in_bounded_time_naming_it() {
    // Accepts connections and never answers, as a stuck proxy or a black-holed endpoint does.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(64).flatten() {
            open.push(stream);
        }
    });
    let project = Project::from_repo(|s| s);
    let started = std::time::Instant::now();
    let run = project
        .infra_at(&endpoint, &["--call-timeout", "2", "plan"])
        .expect(1);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    assert!(
        run.stderr.contains(&endpoint) && run.stderr.contains("--call-timeout"),
        "{}",
        run.stderr
    );
    drop(held);
}

#[test]
fn a_profile_on_the_command_line_wins_over_keys_in_the_environment() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let credentials = project.dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIADEFAULTPROFILE\naws_secret_access_key = d\n\
         [deploy]\naws_access_key_id = AKIADEPLOYPROFILE\naws_secret_access_key = p\n",
    )
    .unwrap();
    let env = [
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT"),
        ("AWS_SECRET_ACCESS_KEY", "e"),
    ];
    moto.start_recording();
    project
        .infra_env(&moto, &["--profile", "deploy", "output"], &env)
        .expect(0);
    let keys = moto.signing_keys();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k == "AKIADEPLOYPROFILE"),
        "every call is signed with the profile's key: {keys:?}"
    );

    // Without --profile, the environment's keys, as the AWS CLI does.
    moto.start_recording();
    project.infra_env(&moto, &["output"], &env).expect(0);
    assert!(moto.signing_keys().iter().all(|k| k == "AKIAENVIRONMENT"));

    // An unknown profile: named, with the files looked in, and no call at all.
    moto.start_recording();
    let run = project
        .infra_env(&moto, &["--profile", "prod", "plan"], &env)
        .expect(1);
    assert!(
        run.stderr.contains("the profile \"prod\" is not in")
            && run.stderr.contains(credentials.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert_eq!(moto.operations(), Vec::<String>::new());
}
