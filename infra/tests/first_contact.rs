//! What a new user meets first, before any resource: credentials and region as the AWS CLI
//! takes them, and a log of every AWS call on request (`-v`, `RUST_LOG`). Each run is an insta
//! snapshot in `snapshots/` (`first_contact__*.snap`: exit code, stdout and stderr, through
//! `support::assert_run_snapshot!`), with what changes between runs (the temporary directory,
//! the emulator's port, ids, timings) replaced by stable names.

mod support;

use support::{Moto, OPENAI_KEY, PASSWORD, Project, Run, assert_run_snapshot};

/// Reads run concurrently, so whichever call AWS refuses first (STS's `InvalidClientTokenId`,
/// ECR's `UnrecognizedClientException`) is the one reported: a filter for the failing call.
fn any_failing_call() -> Vec<(String, String)> {
    vec![(
        r"(?m)^error: .+ failed: (InvalidClientTokenId|UnrecognizedClientException): ".to_owned(),
        "error: [resource]: [operation] failed: [InvalidClientTokenId or UnrecognizedClientException]: "
            .to_owned(),
    )]
}

#[test]
fn without_a_stack_file_infra_says_so_and_init_writes_a_starter_it_never_overwrites() {
    let moto = Moto::start();
    let project = Project::with_stack("");
    std::fs::remove_file(project.dir.path().join("stack.toml")).unwrap();
    moto.start_recording();
    let missing = project.infra(&moto, &["plan"]).expect(1);
    assert_eq!(moto.operations(), Vec::<String>::new());
    assert_run_snapshot!("no_stack_file", missing, project.filters(), moto.filters());

    let init = project
        .infra(&moto, &["init", "--name", "Acme Search"])
        .expect(0);
    assert_run_snapshot!("init", init, project.filters(), moto.filters());
    let written = std::fs::read_to_string(project.dir.path().join("stack.toml")).unwrap();
    assert!(
        written.contains("name = \"acme-search-users\""),
        "{written}"
    );
    assert!(written.contains("name = \"acme_search\""), "{written}");
    // The starter is a stack infra accepts as it is: `output` reads it (without building)
    // and says that nothing is deployed yet.
    let output = project.infra(&moto, &["output"]).expect(1);
    assert_run_snapshot!(
        "output_of_the_starter",
        output,
        project.filters(),
        moto.filters()
    );

    let again = project.infra(&moto, &["init"]).expect(1);
    assert_run_snapshot!(
        "init_refuses_to_overwrite",
        again,
        project.filters(),
        moto.filters()
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
    assert_eq!(moto.operations(), Vec::<String>::new());
    // The SDK's list of regions grows with the SDK: the snapshot keeps the message around it,
    // and the filter matches only a list with us-west-2 in it.
    let regions = vec![(
        r"(the regions the SDK knows: )[^\n]*\bus-west-2, [^\n]*".to_owned(),
        "${1}[the SDK's regions, us-west-2 among them]".to_owned(),
    )];
    assert_run_snapshot!(
        "region_not_a_region",
        run,
        regions,
        project.filters(),
        moto.filters()
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
    assert_eq!(moto.operations(), Vec::<String>::new());
    assert_run_snapshot!("no_credentials", run, project.filters(), moto.filters());
}

#[test]
fn verbose_logs_each_aws_call_and_no_secret_even_at_trace_level() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);

    let verbose = project.infra(&moto, &["-v", "plan"]).expect(0);
    // Every call of a no-op plan, the password check among them (logged, not its password).
    // Reads run concurrently: the lines in a stable order, by what follows the uptime.
    let mut lines: Vec<&str> = verbose.stderr.lines().collect();
    lines.sort_by(|a, b| after_uptime(a).cmp(after_uptime(b)));
    let sorted = Run {
        stderr: lines.join("\n"),
        ..verbose
    };
    assert_run_snapshot!(
        "verbose_call_log",
        sorted,
        project.filters(),
        moto.filters()
    );
    // Without -v nothing is logged; RUST_LOG=trace logs a lot, and still no secret (every run
    // of the harness asserts the password and the key never appear).
    let quiet = project.infra(&moto, &["plan"]).expect(0);
    assert_run_snapshot!("no_op_plan", quiet, project.filters(), moto.filters());
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

/// A log line from its level on (`DEBUG infra::aws: ...`).
fn after_uptime(line: &str) -> &str {
    line.find("DEBUG").map_or(line, |at| &line[at..])
}

#[test]
fn keys_aws_does_not_know_are_refused_with_awss_code_and_where_they_came_from() {
    // moto checks access keys when told to; "testing" is none it knows.
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let project = Project::from_repo(|s| s);
    let run = project.infra(&moto, &["plan"]).expect(1);
    assert_run_snapshot!(
        "keys_aws_does_not_know",
        run,
        any_failing_call(),
        project.filters(),
        moto.filters()
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
    let plan = project.infra_env(&moto, &["plan"], &empty).expect(1);
    assert_run_snapshot!(
        "variable_set_but_empty",
        plan,
        project.filters(),
        moto.filters()
    );
    assert_eq!(
        moto.operations(),
        Vec::<String>::new(),
        "a refused file makes no call"
    );

    let output = project.infra_env(&moto, &["output"], &empty).expect(0);
    assert_run_snapshot!(
        "output_with_a_variable_set_but_empty",
        output,
        project.filters(),
        moto.filters()
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
    assert_run_snapshot!("unknown_profile", run, project.filters(), moto.filters());
}

/// `output` before anything is deployed: exit 1, and it says so.
#[test]
fn output_before_any_deploy_says_the_stack_is_not_deployed() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let run = project.infra(&moto, &["output"]).expect(1);
    assert_run_snapshot!(
        "output_not_deployed",
        run,
        project.filters(),
        moto.filters()
    );
}
