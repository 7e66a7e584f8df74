//! What a new user meets first, before any resource: credentials and region as the AWS CLI
//! takes them, and a log of every AWS call on request (`-v`, `RUST_LOG`). Each message is also
//! an insta snapshot in `snapshots/` (`first_contact__*.snap`), with what changes between runs
//! (the temporary directory, the emulator's port, timings) replaced by stable names.

mod support;

use support::{Moto, OPENAI_KEY, PASSWORD, Project};

/// `text` with what changes between runs replaced: the project's temporary directory, the
/// emulator's endpoint and port.
fn normalised(text: &str, project: &Project, moto: &Moto) -> String {
    let dir = project.dir.path().display().to_string();
    text.replace(&dir, "[project]")
        .replace(&moto.endpoint, "http://[emulator]")
        .replace(&format!(":{}", moto.port), ":[port]")
}

/// The first line of an error from AWS with the failing call replaced: reads run
/// concurrently, so whichever call AWS refuses first (STS's `InvalidClientTokenId`, ECR's
/// `UnrecognizedClientException`, ...) is the one reported.
fn any_failing_call(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if let Some((_, after)) = lines[0].split_once(" failed: ")
        && let Some((_, message)) = after.split_once(": ")
    {
        lines[0] = format!("error: [resource]: [operation] failed: [code]: {message}");
    }
    lines.join("\n")
}

/// A `-v` call line with its uptime and duration replaced:
/// `[uptime] DEBUG infra::aws: STS GetCallerIdentity → 200 in [n] ms`.
fn call_line_shape(line: &str) -> String {
    let at = line.find("DEBUG").expect("a DEBUG line");
    let line = format!("[uptime] {}", &line[at..]);
    match line.rsplit_once(" in ") {
        Some((call, took)) => {
            let rest = took.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{call} in [n]{rest}")
        }
        None => line,
    }
}

#[test]
fn without_a_stack_file_infra_says_so_and_init_writes_a_starter_it_never_overwrites() {
    let moto = Moto::start();
    let project = Project::with_stack("");
    std::fs::remove_file(project.dir.path().join("stack.toml")).unwrap();
    moto.start_recording();
    let missing = project.infra(&moto, &["plan"]).expect(1);
    assert!(
        missing
            .stderr
            .contains("no stack file: stack.toml does not exist"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("`infra init`"),
        "{}",
        missing.stderr
    );
    assert_eq!(moto.operations(), Vec::<String>::new());
    insta::assert_snapshot!(
        "no_stack_file",
        normalised(&missing.stderr, &project, &moto)
    );

    let init = project
        .infra(&moto, &["init", "--name", "Acme Search"])
        .expect(0);
    assert!(init.stdout.contains("\"acme-search\""), "{}", init.stdout);
    let written = std::fs::read_to_string(project.dir.path().join("stack.toml")).unwrap();
    assert!(
        written.contains("name = \"acme-search-users\""),
        "{written}"
    );
    assert!(written.contains("name = \"acme_search\""), "{written}");
    // The starter is a stack infra accepts as it is: `output` reads it (without building)
    // and says that nothing is deployed yet.
    let output = project.infra(&moto, &["output"]).expect(1);
    assert!(
        output.stdout.contains("user_pool_id = (not created)"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stderr
            .contains("the stack is not deployed: none of its"),
        "{}",
        output.stderr
    );

    let again = project.infra(&moto, &["init"]).expect(1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    insta::assert_snapshot!(
        "init_refuses_to_overwrite",
        normalised(&again.stderr, &project, &moto)
    );
    assert_eq!(
        std::fs::read_to_string(project.dir.path().join("stack.toml")).unwrap(),
        written
    );
}

#[test]
fn a_region_that_is_not_a_region_is_refused_before_any_call() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    moto.start_recording();
    let run = project
        .infra(&moto, &["--region", "mars-1", "plan"])
        .expect(1);
    assert!(
        run.stderr.contains("\"mars-1\" is not an AWS region"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("us-west-2"),
        "lists the regions: {}",
        run.stderr
    );
    assert_eq!(moto.operations(), Vec::<String>::new());
    // The SDK's list of regions grows with the SDK: the snapshot keeps the message around it.
    let message = normalised(&run.stderr, &project, &moto);
    let (message, regions) = message
        .split_once("the regions the SDK knows: ")
        .expect("the message lists the regions");
    assert!(regions.contains("us-west-2, "), "{regions}");
    insta::assert_snapshot!(
        "region_not_a_region",
        format!("{message}the regions the SDK knows: [the SDK's regions]")
    );
}

#[test]
fn without_credentials_anywhere_one_line_says_how_to_provide_them() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    moto.start_recording();
    let run = project
        .infra_env_without(
            &moto,
            &["plan"],
            &[
                ("COGNITO_PASSWORD", PASSWORD),
                ("OPENAI_API_KEY", OPENAI_KEY),
            ],
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        )
        .expect(1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no AWS credentials found"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--profile NAME"), "{}", run.stderr);
    assert!(run.stderr.contains("aws sso login"), "{}", run.stderr);
    assert!(run.stderr.contains("AWS_ACCESS_KEY_ID"), "{}", run.stderr);
    assert!(!run.stderr.contains("IMDS session token"), "{}", run.stderr);
    assert_eq!(moto.operations(), Vec::<String>::new());
    insta::assert_snapshot!("no_credentials", normalised(&run.stderr, &project, &moto));
}

#[test]
fn verbose_logs_each_aws_call_and_no_secret_even_at_trace_level() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);

    let verbose = project.infra(&moto, &["-v", "plan"]).expect(0);
    let calls: Vec<&str> = verbose
        .stderr
        .lines()
        .filter(|l| l.contains("DEBUG infra::aws:"))
        .collect();
    assert!(
        calls
            .iter()
            .any(|l| l.contains("STS GetCallerIdentity → 200 in ")),
        "{}",
        verbose.stderr
    );
    assert!(
        calls.iter().any(|l| l.contains("InitiateAuth → 200")),
        "the password check is logged, not its password: {}",
        verbose.stderr
    );
    assert!(calls.len() >= 15, "{}", verbose.stderr);
    // The shape of each line, every call of a no-op plan, in a stable order (reads run
    // concurrently).
    let mut shapes: Vec<String> = calls
        .iter()
        .map(|l| call_line_shape(&normalised(l, &project, &moto)))
        .collect();
    shapes.sort();
    insta::assert_snapshot!("verbose_call_log", shapes.join("\n"));
    // Without -v nothing is logged; RUST_LOG=trace logs a lot, and still no secret (every run
    // of the harness asserts the password and the key never appear).
    let quiet = project.infra(&moto, &["plan"]).expect(0);
    assert!(!quiet.stderr.contains("DEBUG"), "{}", quiet.stderr);
    let trace = project
        .infra_env(
            &moto,
            &["plan"],
            &[
                ("COGNITO_PASSWORD", PASSWORD),
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("RUST_LOG", "trace"),
            ],
        )
        .expect(0);
    assert!(trace.stderr.lines().count() > 50, "{}", trace.stderr);
}

#[test]
fn keys_aws_does_not_know_are_refused_with_awss_code_and_where_they_came_from() {
    // moto checks access keys when told to; "testing" is none it knows.
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let project = Project::from_repo(|s| s);
    let run = project.infra(&moto, &["plan"]).expect(1);
    assert!(
        run.stderr.contains("InvalidClientTokenId")
            || run.stderr.contains("UnrecognizedClientException"),
        "AWS's code: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("The security token included in the request is invalid"),
        "AWS's message: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "AWS refused the credentials from the environment (AWS_ACCESS_KEY_ID ending in ting)"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("unhandled error"), "{}", run.stderr);
    insta::assert_snapshot!(
        "keys_aws_does_not_know",
        any_failing_call(&normalised(&run.stderr, &project, &moto))
    );
}

/// A variable set but empty refuses the file for the commands that would use it, before any
/// call; `output`, which uses no write-only value, ignores it with a note, so a CI job whose
/// secret is not configured can still read the outputs.
#[test]
fn a_variable_set_but_empty_refuses_plan_and_is_ignored_by_output() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    moto.start_recording();
    let empty = [("COGNITO_PASSWORD", ""), ("OPENAI_API_KEY", OPENAI_KEY)];
    let plan = project.infra_env(&moto, &["plan"], &empty);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr.contains("$COGNITO_PASSWORD is set but empty"),
        "{}",
        plan.stderr
    );
    assert_eq!(
        moto.operations(),
        Vec::<String>::new(),
        "a refused file makes no call"
    );

    let output = project.infra_env(&moto, &["output"], &empty);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert_eq!(
        output.stderr.trim(),
        "note: $COGNITO_PASSWORD is set but empty; `output` does not use it"
    );
    insta::assert_snapshot!(
        "variable_set_but_empty",
        normalised(&plan.stderr, &project, &moto)
    );
    assert!(
        output.stdout.contains("user_pool_id = "),
        "{}",
        output.stdout
    );
}

/// An unknown `--profile`: named, with the files looked in, before any call.
#[test]
fn an_unknown_profile_is_named_with_the_files_looked_in() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let credentials = project.dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIADEFAULTPROFILE\naws_secret_access_key = d\n",
    )
    .unwrap();
    moto.start_recording();
    let run = project
        .infra_env(
            &moto,
            &["--profile", "prod", "plan"],
            &[("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap())],
        )
        .expect(1);
    assert_eq!(moto.operations(), Vec::<String>::new());
    insta::assert_snapshot!("unknown_profile", normalised(&run.stderr, &project, &moto));
}

/// `output` before anything is deployed: exit 1, and it says so.
#[test]
fn output_before_any_deploy_says_the_stack_is_not_deployed() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let run = project.infra(&moto, &["output"]).expect(1);
    insta::assert_snapshot!(
        "output_not_deployed",
        normalised(&run.stderr, &project, &moto)
    );
}
