//! The command line as a user meets it: bad stack files rejected before any AWS call, help,
//! and whole runs (exit code, stdout and stderr, plain text as in a pipe) as snapshots in
//! `snapshots/` (`support::assert_run_snapshot!`; `INSTA_UPDATE=always cargo test -p infra --test
//! cli` rewrites them; review with `git diff`).

mod support;

use aws_sdk_cognitoidentityprovider::types::{PasswordPolicyType, UserPoolPolicyType};
use support::stacks::OTHER_DIGEST;
use support::{Aws, Moto, PREBUILT_DIGEST, Project, Run, STACK_NAME, assert_run_snapshot, literal};

/// Each case: an edit of the repository's stack.toml, and the snapshot of what `infra` says
/// (`bad_stack__<snapshot>`).
fn bad_stacks() -> Vec<(&'static str, &'static str, String, &'static str)> {
    let cases: [(&str, &str, &str, &str); 12] = [
        (
            "unknown key",
            "password_policy = { minimum_length = 8 }",
            "password_policy = { minimum_length = 8 }\nmfa = \"ON\"",
            "unknown_key",
        ),
        (
            "wrong type",
            "minimum_length = 8",
            "minimum_length = \"eight\"",
            "wrong_type",
        ),
        (
            "password policy out of range",
            "minimum_length = 8",
            "minimum_length = 100",
            "password_policy_out_of_range",
        ),
        (
            "pool name breaks the AWS pattern",
            "name = \"MCPServerPool\"",
            "name = \"MCP/ServerPool\"",
            "pool_name_breaks_the_aws_pattern",
        ),
        (
            "role name too long",
            "name = \"agentcore-web-search-mcp-role\"",
            "name = \"agentcore-web-search-mcp-role-with-a-name-much-longer-than-iam-allows\"",
            "role_name_too_long",
        ),
        (
            "literal password",
            "password = { env = \"COGNITO_PASSWORD\" }",
            "password = \"Hunter2-Literal!\"",
            "literal_password",
        ),
        (
            "unknown placeholder",
            "\"${repository_arn}\"",
            "\"${repo_name}\"",
            "unknown_placeholder",
        ),
        (
            "unknown auth flow",
            "\"ALLOW_REFRESH_TOKEN_AUTH\"]",
            "\"ALLOW_REFRESH_TOKEN\"]",
            "unknown_auth_flow",
        ),
        (
            "a key as a literal runtime variable",
            "OPENAI_MODEL = \"o3\"",
            "OPENAI_MODEL = \"o3\"\nOPENAI_ORG_KEY = \"Hunter2-Literal!\"",
            "key_as_a_literal_runtime_variable",
        ),
        (
            "a variable from the environment in the runtime's plaintext configuration",
            "OPENAI_MODEL = \"o3\"",
            "OPENAI_MODEL = \"o3\"\nSEARCH_CONTEXT = { env = \"SEARCH_CONTEXT\" }",
            "environment_variable_in_plaintext_configuration",
        ),
        (
            "a literal secret value",
            "value = { env = \"OPENAI_API_KEY\" }",
            "value = \"Hunter2-Literal!\"",
            "literal_secret_value",
        ),
        (
            "a runtime secret that is not declared",
            "OPENAI_API_KEY = \"openai_api_key\"",
            "OPENAI_API_KEY = \"openai\"",
            "undeclared_runtime_secret",
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
            "password_not_env",
        ),
        (
            "a secret's value that is not { env = ... }",
            "value = { env = \"OPENAI_API_KEY\" }",
            "value = { env = \"OPENAI_API_KEY\", literal = \"Hunter2-Literal!\" }".to_owned(),
            "secret_value_not_env",
        ),
        (
            "a 512 KiB description (in a file under the 1 MiB a stack file may have)",
            "description = \"OpenAI web search over MCP\"",
            format!("description = \"{}\"", "d".repeat(512 * 1024)),
            "half_mb_description",
        ),
        (
            "inline policies over IAM's 10,240 characters for a role",
            "[ecr.repository]",
            format!(
                "[iam.role.policies.Logs]\ndocument = '''{}'''\n\n[ecr.repository]",
                big_policy(300)
            ),
            "inline_policies_over_iam_limit",
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
    for (case, from, to, snapshot) in bad_stacks() {
        let project = Project::from_repo(|s| {
            assert!(
                s.contains(from),
                "{case}: the repository's stack.toml no longer contains {from:?}"
            );
            s.replacen(from, &to, 1)
        });
        moto.start_recording();
        let plan = project.infra(&moto, &["plan"]).expect(1);
        assert_run_snapshot!(
            format!("bad_stack__{snapshot}"),
            plan,
            project.filters(),
            moto.filters()
        );
        // apply refuses the file with the same words.
        let apply = project.infra(&moto, &["apply", "--yes"]).expect(1);
        assert_eq!(
            (&apply.stdout, &apply.stderr),
            (&plan.stdout, &plan.stderr),
            "{case}: apply and plan differ"
        );
        for run in [&plan, &apply] {
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
    assert_run_snapshot!("refused_stack_file", run, project.filters(), moto.filters());
    assert_eq!(moto.operations(), Vec::<String>::new(), "AWS was called");

    let project = Project::from_repo(|s| s);
    let too_long = format!("Aa1!{}", "x".repeat(300));
    for (env, snapshot) in [
        (
            [("COGNITO_PASSWORD", ""), ("OPENAI_API_KEY", "")],
            "variables_set_but_empty",
        ),
        (
            [
                ("COGNITO_PASSWORD", too_long.as_str()),
                ("OPENAI_API_KEY", "sk-test"),
            ],
            "password_longer_than_cognito_takes",
        ),
    ] {
        moto.start_recording();
        let run = project.infra_env(&moto, &["plan"], &env).expect(1);
        assert_run_snapshot!(snapshot, run, project.filters(), moto.filters());
        // The too long password is not echoed.
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
    assert_run_snapshot!("missing_stack_file", run, project.filters(), moto.filters());
}

#[test]
fn help_lists_the_commands_and_global_options() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_infra"));
    cmd.arg("--help");
    let run = Run::of(cmd).expect(0);
    assert_run_snapshot!("help", run);
}

/// What the snapshot filters replace, one sample of each (`support::filters`), and what they
/// leave alone (the policy's `??????` wildcard, a configured `2s`).
#[test]
fn snapshot_filters_replace_what_changes_between_runs() {
    let temp = std::env::temp_dir().join(".tmpAbC123");
    let stdout = [
        "endpoints: http://127.0.0.1:54321/ localhost:8080".to_owned(),
        format!("a temporary directory: {}/stack.toml", temp.display()),
        format!("digests: {PREBUILT_DIGEST} {OTHER_DIGEST}"),
        format!("and any other: sha256:{}", "0123456789abcdef".repeat(4)),
        "RequestId: 7d8e9f0a1b2c3d4e; x-amzn-requestid=ABCDEF1234567890".to_owned(),
        "a UUID: 123e4567-e89b-12d3-a456-426614174000".to_owned(),
        "pool us-east-1_AbCdEfGhI, client 1a2b3c4d5e6f7g8h9i0jklmnop".to_owned(),
        "role AROA4MBSKJHU7EXAMPLE12".to_owned(),
        "the emulator's runtime a0123abcde-0123456789".to_owned(),
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/web_search_mcp-AbCdE12345"
            .to_owned(),
        "runtime%2Fweb_search_mcp-AbCdE12345/invocations".to_owned(),
        "/aws/bedrock-agentcore/runtimes/web_search_mcp-AbCdE12345-DEFAULT".to_owned(),
        "runtime_id = \"web_search_mcp-AbCdE12345\" [id=web_search_mcp-AbCdE12345]".to_owned(),
        "arn:aws:secretsmanager:us-west-2:123456789012:secret:web-search-mcp/openai_api_key-AbC123"
            .to_owned(),
        "arn:aws:secretsmanager:us-west-2:123456789012:secret:web-search-mcp/openai_api_key-??????"
            .to_owned(),
        "complete after 2.3s; → 200 in 12 ms; 850µs; after 2s (--call-timeout 2)".to_owned(),
        "   0.012345678s DEBUG infra::aws: STS GetCallerIdentity → 200 in 3 ms".to_owned(),
        "on a terminal: \r\x1b[2Kcleared\r\n".to_owned(),
    ]
    .join("\n");
    let run = Run {
        command: "(samples)".to_owned(),
        code: 0,
        stdout,
        stderr: String::new(),
    };
    assert_run_snapshot!("snapshot_filters", run);
}

#[tokio::test]
async fn snapshot_of_the_plan_from_empty_and_of_a_drift_plan() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);

    let create = project.infra(&moto, &["plan"]).expect(0);
    assert_run_snapshot!("plan_from_empty", create, project.filters(), moto.filters());

    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let pool_id = aws.pool_ids("MCPServerPool").await.remove(0);

    aws.iam
        .put_role_policy()
        .role_name("agentcore-web-search-mcp-role")
        .policy_name("AgentCoreRuntime")
        .policy_document(
            support::stacks::declared_policy().replace("\"logs:DescribeLogGroups\"", "\"logs:*\""),
        )
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
    assert_run_snapshot!("plan_drift", drift, project.filters(), moto.filters());
}

#[test]
fn on_a_terminal_apply_asks_first_and_only_yes_applies() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);

    moto.start_recording();
    let run = project
        .infra_on_terminal(&moto, "apply", "no\n", &[])
        .expect(1);
    // The question, the answer, and colour (escape codes show as ␛).
    assert_run_snapshot!(
        "apply_on_a_terminal_answered_no",
        run,
        project.filters(),
        moto.filters()
    );
    assert_eq!(moto.writes(), Vec::<String>::new());

    let run = project
        .infra_on_terminal(&moto, "apply", "yes\n", &[("NO_COLOR", "1")])
        .expect(0);
    // Cursor control for the progress line is fine; colour (SGR) is not.
    let run = Run {
        stdout: progress_in_order(&run.stdout),
        ..run
    };
    assert_run_snapshot!(
        "apply_on_a_terminal_answered_yes_with_no_color",
        run,
        project.filters(),
        moto.filters()
    );
}

/// A terminal apply's stdout in a stable order. Each progress line starts by clearing the
/// terminal's line (`\r` and `ESC[2K`); the resources of one level are created concurrently, so
/// their lines are sorted, and the spinner's statuses, which depend on timing, dropped. The
/// plan before and the summary after stay as printed.
fn progress_in_order(stdout: &str) -> String {
    const CLEAR: &str = "\r\x1b[2K";
    const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let start = stdout.find(CLEAR).expect("progress lines");
    let end = stdout.find("Apply complete!").expect("the summary");
    let mut lines: Vec<&str> = stdout[start..end]
        .split(CLEAR)
        .map(str::trim_end)
        .filter(|line| !line.is_empty() && !line.starts_with(SPINNER))
        .collect();
    lines.sort();
    let lines: Vec<String> = lines.iter().map(|line| format!("{CLEAR}{line}")).collect();
    format!(
        "{}{}\n\n{}",
        &stdout[..start],
        lines.join("\n"),
        &stdout[end..]
    )
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
    let named = vec![(literal(&endpoint), "http://[SILENT_ENDPOINT]".to_owned())];
    assert_run_snapshot!("endpoint_never_answers", run, named, project.filters());
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
    assert_run_snapshot!(
        "unknown_profile_with_keys_in_the_environment",
        run,
        project.filters(),
        moto.filters()
    );
    assert_eq!(moto.operations(), Vec::<String>::new());
}

/// An endpoint where nothing listens: every AWS call fails at once (connection refused).
const NOTHING_LISTENS: &str = "http://127.0.0.1:1";

#[test]
fn a_stack_file_that_is_not_one_is_refused_before_it_is_read() {
    let project = Project::with_stack("");
    let dir = project.dir.path();
    std::fs::create_dir(dir.join("a-directory")).unwrap();
    std::fs::write(dir.join("big.toml"), vec![b'#'; 2 * 1024 * 1024]).unwrap();
    std::fs::write(
        dir.join("latin1.toml"),
        b"[stack]\nname = \"web-search\"\n# caf\xe9\n".as_slice(),
    )
    .unwrap();
    std::os::unix::fs::symlink("loop-b.toml", dir.join("loop-a.toml")).unwrap();
    std::os::unix::fs::symlink("loop-a.toml", dir.join("loop-b.toml")).unwrap();
    std::os::unix::fs::symlink("gone.toml", dir.join("dangling.toml")).unwrap();
    for (stack, name) in [
        // Read whole, /dev/zero never ends: refused before a byte is read.
        ("/dev/zero", "dev_zero"),
        ("a-directory", "directory"),
        ("big.toml", "over_a_mebibyte"),
        ("latin1.toml", "not_utf8"),
        ("loop-a.toml", "symlink_loop"),
        ("dangling.toml", "dangling_symlink"),
    ] {
        let run = project
            .infra_at(NOTHING_LISTENS, &["--stack", stack, "plan"])
            .expect(1);
        assert_run_snapshot!(format!("stack_file__{name}"), run, project.filters());
    }
}

#[test]
fn numeric_options_out_of_range_are_refused_by_name_with_the_range() {
    let project = Project::from_repo(|s| s);
    for (args, name) in [
        (
            &["--call-timeout", "10000000000000000000", "plan"][..],
            "call_timeout_huge",
        ),
        (&["--call-timeout", "0", "plan"][..], "call_timeout_zero"),
        (
            &["--call-timeout", "1.5", "plan"][..],
            "call_timeout_fraction",
        ),
        (
            &["apply", "--timeout", "99999999999999999999999"][..],
            "apply_timeout_huge",
        ),
        (&["apply", "--timeout", "-1"][..], "apply_timeout_negative"),
    ] {
        let run = project.infra_at(NOTHING_LISTENS, args).expect(2);
        assert_run_snapshot!(format!("numeric_option__{name}"), run, project.filters());
    }
}

/// The subcommands `infra --help` (or `infra mcp --help`) lists, without `help`.
fn listed_subcommands(args: &[&str]) -> Vec<String> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_infra"));
    cmd.args(args).arg("--help");
    let help = Run::of(cmd).expect(0).stdout;
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_command_panics_with_or_without_a_stack_file() {
    // Every subcommand, with the options that change its path, once in a directory with the
    // repository's stack and once in an empty one; AWS and the MCP URL are a port where
    // nothing listens, so each run fails fast where it needs them. None may panic (exit 101).
    let url = format!("{NOTHING_LISTENS}/mcp");
    let runs: Vec<Vec<&str>> = vec![
        vec!["plan"],
        vec!["plan", "--json", "--detailed-exitcode"],
        vec!["apply", "--yes"],
        vec!["apply", "--yes", "--no-check"],
        vec!["output"],
        vec!["output", "--json"],
        vec!["token"],
        vec!["token", "--user", "nobody"],
        vec!["token", "--refresh-token-file", "refresh-token"],
        vec!["check"],
        vec!["mcp", "tools"],
        vec!["mcp", "call", "web_search", "query=x"],
        vec!["mcp", "config", "json"],
        vec!["mcp", "config", "claude", "--static-token"],
        vec!["mcp", "--url", &url, "tools"],
        vec!["mcp", "--url", &url, "--token", "T", "tools"],
        vec![
            "mcp",
            "--url",
            &url,
            "--header",
            "Authorization: Bearer T",
            "tools",
        ],
        vec![
            "mcp",
            "--url",
            &url,
            "--token",
            "T",
            "call",
            "web_search",
            "query=x",
            "--json",
        ],
        vec!["mcp", "--url", &url, "--token", "T", "config", "json"],
        vec![
            "mcp",
            "--url",
            &url,
            "--token",
            "T",
            "config",
            "claude",
            "--static-token",
        ],
        vec!["mcp", "--url", &url, "config", "claude"],
        vec!["mcp", "--url", "not a url", "--token", "T", "tools"],
        vec!["plan", "--skip-password-check", "--out", "saved-plan.json"],
        vec!["apply", "saved-plan.json"],
        vec!["apply", "stack.toml"],
        vec!["show", "saved-plan.json"],
        vec!["show", "stack.toml", "--json"],
        vec!["show", "/dev/zero"],
        vec!["init", "--name", "a"],
        vec!["init"],
        vec!["permissions", "plan", "--skip-password-check"],
        vec!["permissions", "apply", "--json"],
        vec!["permissions", "destroy", "--placeholders"],
        vec!["destroy"],
        vec!["destroy", "--yes", "--json", "--force-delete-images"],
        vec!["logs"],
        vec!["logs", "--since", "1h", "--json"],
        vec!["logs", "--follow"],
        vec!["check", "--deep"],
        vec!["apply", "--yes", "--check", "deep"],
        vec!["versions"],
        vec!["versions", "--json"],
    ];
    let exercised: std::collections::BTreeSet<(&str, &str)> = runs
        .iter()
        .map(|args| {
            let sub = args
                .iter()
                .skip(1)
                .find(|a| !a.starts_with('-') && !a.contains(':'));
            (
                args[0],
                if args[0] == "mcp" {
                    sub.copied().unwrap_or("")
                } else {
                    ""
                },
            )
        })
        .collect();
    for command in listed_subcommands(&[]) {
        assert!(
            exercised.iter().any(|(c, _)| *c == command),
            "`infra {command}` is not exercised here"
        );
    }
    for sub in listed_subcommands(&["mcp"]) {
        assert!(
            exercised.iter().any(|(c, s)| *c == "mcp" && *s == sub),
            "`infra mcp {sub}` is not exercised here"
        );
    }
    for with_stack in [true, false] {
        for args in &runs {
            let project = if with_stack {
                Project::from_repo(|s| s)
            } else {
                Project {
                    dir: tempfile::tempdir().unwrap(),
                }
            };
            let mut all = vec!["--call-timeout", "3"];
            all.extend(args);
            let run = project.infra_at(NOTHING_LISTENS, &all);
            assert!(
                matches!(run.code, 0..=2) && !run.stderr.contains("panicked"),
                "{} (stack file: {with_stack}) exited {}:\n{}{}",
                run.command,
                run.code,
                run.stdout,
                run.stderr
            );
        }
    }
}

/// A listener that accepts connections and never answers; its `http://` endpoint.
fn silent_endpoint() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(64).flatten() {
            open.push(stream);
        }
    });
    (endpoint, held)
}

#[test]
fn a_timeout_names_the_endpoint_that_stalled_for_one_service_and_for_the_registry() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let (silent, _held) = silent_endpoint();
    let named = vec![(literal(&silent), "http://[SILENT_ENDPOINT]".to_owned())];

    // Secrets Manager alone on its own endpoint, which stalls; every other service answers.
    let started = std::time::Instant::now();
    let run = project
        .infra_env(
            &moto,
            &["--call-timeout", "3", "plan"],
            &[
                ("AWS_ENDPOINT_URL_SECRETS_MANAGER", silent.as_str()),
                ("COGNITO_PASSWORD", support::PASSWORD),
                ("OPENAI_API_KEY", support::OPENAI_KEY),
            ],
        )
        .expect(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(40));
    assert_run_snapshot!(
        "stalled_secrets_manager",
        run,
        named.clone(),
        project.filters(),
        moto.filters()
    );

    // The registry, asked whether the pinned digest is in the stack's repository, stalls:
    // --call-timeout bounds it as it bounds AWS calls.
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    project.edit_stack(|s| {
        s.replace(
            &support::prebuilt_image(),
            &format!("${{repository_uri}}@{PREBUILT_DIGEST}"),
        )
    });
    let started = std::time::Instant::now();
    let run = project
        .infra_env(
            &moto,
            &["--call-timeout", "3", "plan"],
            &[
                ("INFRA_ECR_REGISTRY", silent.as_str()),
                ("COGNITO_PASSWORD", support::PASSWORD),
                ("OPENAI_API_KEY", support::OPENAI_KEY),
            ],
        )
        .expect(1);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    assert_run_snapshot!(
        "stalled_registry",
        run,
        named,
        project.filters(),
        moto.filters()
    );
}
