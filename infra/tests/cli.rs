//! The command line as a user meets it: bad stack files rejected before any AWS call, help,
//! and snapshots of whole rendered plans (plain text, as in a pipe), in `snapshots/` (insta:
//! `INSTA_UPDATE=always cargo test -p infra --test cli` rewrites them; review with `git diff`).

mod support;

use aws_sdk_cognitoidentityprovider::types::{PasswordPolicyType, UserPoolPolicyType};
use support::{Aws, Moto, Project, STACK_NAME};

/// Each case: an edit of the repository's stack.toml and what the error must say.
fn bad_stacks() -> Vec<(&'static str, &'static str, String, &'static str)> {
    let cases: [(&str, &str, &str, &str); 12] = [
        (
            "unknown key",
            "password_policy = { minimum_length = 8 }",
            "password_policy = { minimum_length = 8 }\nmfa = \"ON\"",
            "stack.toml:11:1: cognito.user_pool.mfa: unknown field `mfa`; allowed: `name`, `password_policy`",
        ),
        (
            "wrong type",
            "minimum_length = 8",
            "minimum_length = \"eight\"",
            "stack.toml:10:38: cognito.user_pool.password_policy.minimum_length: expected an integer from 6 to 99; found the string \"eight\"",
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
            "stack.toml:21:8: iam.role.name: \"agentcore-web-search-mcp-role-with-a-name-much-longer-than-i…\" is not a valid name; allowed: 1-64 characters",
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
            "stack.toml:14:52: cognito.client.explicit_auth_flows: \"ALLOW_REFRESH_TOKEN\" is not allowed; allowed: a list of \"ALLOW_USER_PASSWORD_AUTH\"",
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
    let mut cases: Vec<_> = cases
        .into_iter()
        .map(|(case, from, to, expected)| (case, from, to.to_owned(), expected))
        .collect();
    cases.extend([
        (
            "a password that is not { env = ... }",
            "password = { env = \"COGNITO_PASSWORD\" }",
            "password = [\"Hunter2-Literal!\"]".to_owned(),
            "stack.toml:18:12: cognito.users.password: expected password = { env = \"VARIABLE\" }, the environment variable that holds the password (a literal password is not allowed); found a list",
        ),
        (
            "a secret's value that is not { env = ... }",
            "value = { env = \"OPENAI_API_KEY\" }",
            "value = { env = \"OPENAI_API_KEY\", literal = \"Hunter2-Literal!\" }".to_owned(),
            "secrets.openai_api_key.value: expected value = { env = \"VARIABLE\" }, the environment variable that holds the secret (a literal secret is not allowed); found a table with the keys `env`, `literal`",
        ),
        (
            "a 10 MB description",
            "description = \"OpenAI web search over MCP\"",
            format!("description = \"{}\"", "d".repeat(10 * 1024 * 1024)),
            "runtime.description: at most 4096 characters (AgentCore's limit)",
        ),
        (
            "inline policies over IAM's 10,240 characters for a role",
            "[ecr.repository]",
            format!(
                "[iam.role.policies.Logs]\ndocument = '''{}'''\n\n[ecr.repository]",
                big_policy(300)
            ),
            "iam.role.policies: the role's inline policies come to",
        ),
    ]);
    cases
}

/// A policy document granting log writes on `n` log groups of the stack.
fn big_policy(n: usize) -> String {
    let groups: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "\"arn:${{partition}}:logs:${{region}}:${{account_id}}:log-group:/${{stack}}/{i}\""
            )
        })
        .collect();
    format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \
         \"Action\": \"logs:PutLogEvents\", \"Resource\": [{}]}}]}}",
        groups.join(",\n  ")
    )
}

#[test]
fn a_bad_stack_file_is_rejected_with_file_line_and_field_and_no_aws_call() {
    let moto = Moto::start();
    for (case, from, to, expected) in bad_stacks() {
        let project = Project::from_repo(|s| {
            assert!(
                s.contains(from),
                "{case}: the repository's stack.toml no longer contains {from:?}"
            );
            s.replacen(from, &to, 1)
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
            // A value of any size is cut to a readable width.
            assert!(
                run.stderr.len() < 4096,
                "{case}: {} bytes on stderr",
                run.stderr.len()
            );
        }
        assert_eq!(
            moto.operations(),
            Vec::<String>::new(),
            "{case}: AWS was called"
        );
    }
}

/// Several problems in one file: all of them are reported, each with its position, field and
/// snippet, and AWS is not called. So are variables set to the empty string, or to a password
/// longer than Cognito takes.
#[test]
fn every_problem_of_a_refused_file_is_reported_at_once_and_aws_is_not_called() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| {
        s.replacen("minimum_length = 8", "minimum_length = \"8\"", 1)
            .replacen(
                "name = \"MCPServerPool\"",
                "name = \"MCPServerPool\"\nmfa = \"ON\"",
                1,
            )
            .replacen("username = \"testuser\"", "username = 7", 1)
            .replacen(
                "max_lifetime_seconds = 28800",
                "max_lifetime_seconds = 30",
                1,
            )
            .replacen("protocol = \"MCP\"", "protocol = \"mcp\"", 1)
    });
    moto.start_recording();
    let run = project.infra(&moto, &["plan"]).expect(1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    insta::assert_snapshot!("refused_stack_file", run.stderr);
    assert_eq!(moto.operations(), Vec::<String>::new(), "AWS was called");

    let project = Project::from_repo(|s| s);
    let too_long = format!("Aa1!{}", "x".repeat(300));
    for (env, expected) in [
        (
            [("COGNITO_PASSWORD", ""), ("OPENAI_API_KEY", "")],
            vec![
                "stack.toml:18:12: cognito.users.password: $COGNITO_PASSWORD is set but empty: \
                 set it to the user's password, or unset it to leave the password as it is",
                "secrets.openai_api_key.value: $OPENAI_API_KEY is set but empty: set it to the \
                 secret's value, or unset it to keep the stored value",
            ],
        ),
        (
            [
                ("COGNITO_PASSWORD", too_long.as_str()),
                ("OPENAI_API_KEY", "sk-test"),
            ],
            vec![
                "stack.toml:18:12: cognito.users.password: the value of $COGNITO_PASSWORD is \
                 longer than 256 characters, Cognito's limit for a password",
            ],
        ),
    ] {
        moto.start_recording();
        let run = project.infra_env(&moto, &["plan"], &env).expect(1);
        for expected in expected {
            assert!(
                run.stderr.contains(expected),
                "{expected:?} in:\n{}",
                run.stderr
            );
        }
        assert!(!run.stderr.contains("xxxx"), "{}", run.stderr);
        assert_eq!(moto.operations(), Vec::<String>::new(), "AWS was called");
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
            .contains("no stack file: nowhere.toml does not exist"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`infra init`"), "{}", run.stderr);
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
        "--verbose",
        "token",
        "mcp",
        "check",
        "init",
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
    // Nothing is deployed, so output exits 1; it has read AWS all the same.
    project
        .infra_env(&moto, &["--profile", "deploy", "output"], &env)
        .expect(1);
    let keys = moto.signing_keys();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k == "AKIADEPLOYPROFILE"),
        "every call is signed with the profile's key: {keys:?}"
    );

    // Without --profile, the environment's keys, as the AWS CLI does.
    moto.start_recording();
    project.infra_env(&moto, &["output"], &env).expect(1);
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
