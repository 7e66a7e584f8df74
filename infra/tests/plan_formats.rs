//! Machine- and review-friendly output, against the emulator through the `infra` binary:
//! `plan --json` validated against docs/plan.schema.json (with check-jsonschema, installed by
//! scripts/test-tools.sh) for a create, an update, a no-op and a refused plan; `plan --format
//! markdown` as a pull-request comment (snapshots); `apply --json` as one event per line,
//! validated against docs/apply-events.schema.json.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use aws_sdk_cognitoidentityprovider::types::{PasswordPolicyType, UserPoolPolicyType};
use serde_json::{Value, json};
use support::{
    Aws, Moto, OPENAI_KEY, PASSWORD, Project, Run, STACK_NAME, assert_run_snapshot, workspace_root,
};

const ROLE: &str = "agentcore-web-search-mcp-role";
const RUNTIME: &str = "agentcore_runtime.web_search_mcp";
/// What an out-of-band change writes into the stack's secret; never shown either.
const OTHER_KEY: &str = "sk-out-of-band-9876543210";

fn checker() -> PathBuf {
    let checker = workspace_root().join(".tools/check-jsonschema/bin/check-jsonschema");
    assert!(
        checker.is_file(),
        "{} is missing: run scripts/test-tools.sh",
        checker.display()
    );
    checker
}

/// Run check-jsonschema with `schema` (under docs/) over `documents`, each written to its own
/// `.json` file; its output, whatever the verdict.
fn check(schema: &str, documents: &[String]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = documents
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let file = dir.path().join(format!("document-{i}.json"));
            std::fs::write(&file, text).unwrap();
            file
        })
        .collect();
    Command::new(checker())
        .arg("--schemafile")
        .arg(workspace_root().join("docs").join(schema))
        .args(&files)
        .output()
        .expect("run check-jsonschema")
}

#[track_caller]
fn assert_valid(schema: &str, documents: &[String]) {
    let out = check(schema, documents);
    assert!(
        out.status.success(),
        "not valid against docs/{schema}:\n{}{}\n--- documents\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        documents.join("\n")
    );
}

/// `plan --json`: valid against the schema; the plan, parsed.
#[track_caller]
fn valid_plan(run: &Run) -> Value {
    assert_valid("plan.schema.json", std::slice::from_ref(&run.stdout));
    serde_json::from_str(&run.stdout).expect("plan --json prints one JSON document")
}

fn actions(plan: &Value) -> BTreeMap<String, String> {
    plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A plan from empty, the plan after apply (nothing to do), and after changes made outside the
/// stack (a policy, a password policy, the secret's value): each `plan --json` is valid against
/// the schema, and `--format markdown` renders each for a pull request.
#[tokio::test]
async fn plans_from_empty_converged_and_drifted_match_the_schema_and_render_as_markdown() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);

    // Create.
    let create = valid_plan(&project.infra(&moto, &["plan", "--json"]).expect(0));
    assert_eq!(
        create["summary"],
        json!({"create": 9, "update": 0, "delete": 0})
    );
    assert!(actions(&create).values().all(|a| a == "create"));
    let changes = |plan: &Value, address: &str| -> Vec<Value> {
        let resource = plan["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == address)
            .unwrap_or_else(|| panic!("{address} is not in the plan"));
        resource["changes"].as_array().unwrap().clone()
    };
    assert!(
        changes(&create, "cognito_user.testuser")
            .contains(&json!({"field": "password", "before": null, "after": "(sensitive)"}))
    );
    assert!(
        changes(&create, "cognito_user_pool_client.MCPServerPoolClient").contains(
            &json!({"field": "user_pool_id", "before": null, "after": "(known after apply)"})
        )
    );
    // `--json` is short for `--format json`.
    let long = project
        .infra(&moto, &["plan", "--format", "json"])
        .expect(0);
    assert_eq!(serde_json::from_str::<Value>(&long.stdout).unwrap(), create);
    let markdown = project
        .infra(&moto, &["plan", "--format", "markdown"])
        .expect(0);
    assert_run_snapshot!(
        "markdown_create",
        markdown,
        project.filters(),
        moto.filters()
    );

    project.infra(&moto, &["apply", "--yes"]).expect(0);

    // No-op.
    let converged = valid_plan(&project.infra(&moto, &["plan", "--json"]).expect(0));
    assert_eq!(
        converged["summary"],
        json!({"create": 0, "update": 0, "delete": 0})
    );
    assert!(actions(&converged).values().all(|a| a == "no-op"));
    assert_eq!(converged["blockers"], json!([]));
    let markdown = project
        .infra(
            &moto,
            &["plan", "--format", "markdown", "--detailed-exitcode"],
        )
        .expect(0);
    assert_run_snapshot!(
        "markdown_no_change",
        markdown,
        project.filters(),
        moto.filters()
    );

    // Update: changes made outside the stack.
    aws.iam
        .put_role_policy()
        .role_name(ROLE)
        .policy_name("AgentCoreRuntime")
        .policy_document(
            support::stacks::declared_policy().replace("\"logs:DescribeLogGroups\"", "\"logs:*\""),
        )
        .send()
        .await
        .unwrap();
    let pool_id = aws.pool_ids("MCPServerPool").await.remove(0);
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
    aws.secrets
        .put_secret_value()
        .secret_id(format!("{STACK_NAME}/openai_api_key"))
        .secret_string(OTHER_KEY)
        .send()
        .await
        .unwrap();

    let update = valid_plan(&project.infra(&moto, &["plan", "--json"]).expect(0));
    assert_eq!(
        update["summary"],
        json!({"create": 0, "update": 3, "delete": 0})
    );
    let updated: Vec<String> = actions(&update)
        .into_iter()
        .filter(|(_, action)| action == "update")
        .map(|(address, _)| address)
        .collect();
    assert_eq!(
        updated,
        [
            "cognito_user_pool.MCPServerPool",
            "iam_role_policy.AgentCoreRuntime",
            "secret.openai_api_key"
        ]
    );
    assert_eq!(
        changes(&update, "secret.openai_api_key"),
        [json!({"field": "value", "before": "(sensitive)", "after": "(sensitive)"})]
    );
    let markdown = project
        .infra(&moto, &["plan", "--format", "markdown"])
        .expect(0);
    assert!(!markdown.stdout.contains(OTHER_KEY), "{}", markdown.stdout);
    assert_run_snapshot!(
        "markdown_update",
        markdown,
        project.filters(),
        moto.filters()
    );

    // A saved plan shows as `plan --json` printed it: valid too.
    project
        .infra(&moto, &["plan", "--out", "saved.json"])
        .expect(0);
    let shown = project
        .infra(&moto, &["show", "saved.json", "--json"])
        .expect(0);
    assert_eq!(valid_plan(&shown), update);

    // A live value written to break out of the comment: it stays inside the diff's fence (one
    // longer than its backticks), and outside the fence there is no tag but the renderer's.
    let hostile = "```\n</details><img src=x onerror=alert(1)>\n````";
    aws.iam
        .update_role()
        .role_name(ROLE)
        .description(hostile)
        .send()
        .await
        .unwrap();
    let markdown = project
        .infra(&moto, &["plan", "--format", "markdown"])
        .expect(0)
        .stdout;
    let role = markdown
        .split("<details>")
        .find(|block| block.contains(&format!("iam_role.{ROLE}</code>")))
        .unwrap_or_else(|| panic!("no block for the role:\n{markdown}"));
    let fences: Vec<&str> = role.lines().filter(|l| l.starts_with("```")).collect();
    assert_eq!(fences, ["`````diff", "`````"], "{role}");
    let outside: String = markdown
        .split("`````diff\n")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once("\n`````\n").unwrap().1
            }
        })
        .collect();
    assert!(!outside.contains("<img"), "{markdown}");
    assert_eq!(
        outside.matches("</details>").count(),
        outside.matches("<details>").count(),
        "{markdown}"
    );
}

/// A same-named role that is not the stack's: the plan is refused (exit 1), its JSON lists the
/// blocker and is valid, and the Markdown has its own section for it.
#[tokio::test]
async fn a_refused_plan_matches_the_schema_and_renders_its_blocker() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.iam
        .create_role()
        .role_name(ROLE)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let project = Project::from_repo(|s| s);

    let run = project.infra(&moto, &["plan", "--json"]).expect(1);
    let refused = valid_plan(&run);
    let blockers = refused["blockers"].as_array().unwrap();
    assert_eq!(blockers.len(), 1, "{blockers:?}");
    assert_eq!(blockers[0]["address"], format!("iam_role.{ROLE}"));
    assert!(
        blockers[0]["message"]
            .as_str()
            .unwrap()
            .contains("an IAM role with this name already exists"),
        "{blockers:?}"
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);

    let markdown = project
        .infra(&moto, &["plan", "--format", "markdown"])
        .expect(1);
    assert_run_snapshot!(
        "markdown_refused",
        markdown,
        project.filters(),
        moto.filters()
    );
}

/// One way of breaking a valid plan.
type Breaks = fn(&mut Value);

/// A plan that is not what the schema says is refused by the check, so a valid verdict above
/// means something: a small valid plan passes, and each way of breaking it fails.
#[test]
fn the_schema_check_fails_a_plan_that_breaks_the_format() {
    let valid = json!({
        "format_version": 1,
        "stack": "demo",
        "region": "us-west-2",
        "account_id": "111122223333",
        "resources": [{
            "address": "cognito_user.alice",
            "type": "cognito_user",
            "name": "alice",
            "action": "update",
            "id": "alice",
            "reason": "the declared password does not authenticate",
            "changes": [{"field": "password", "before": "(sensitive)", "after": "(sensitive)"}],
            "notes": ["a note"],
            "depends_on": ["cognito_user_pool.Pool"]
        }],
        "blockers": [{"address": "iam_role.role", "field": "trust_policy", "message": "no"}],
        "summary": {"create": 0, "update": 1, "delete": 0}
    });
    assert_valid("plan.schema.json", &[valid.to_string()]);
    let broken: Vec<(&str, Breaks)> = vec![
        ("an unknown field", |p| p["extra"] = json!(1)),
        ("another version", |p| p["format_version"] = json!(2)),
        ("no summary", |p| {
            p.as_object_mut().unwrap().remove("summary");
        }),
        ("an unknown action", |p| {
            p["resources"][0]["action"] = json!("replace")
        }),
        ("an unknown resource type", |p| {
            p["resources"][0]["type"] = json!("s3_bucket")
        }),
        ("a change without its value after", |p| {
            p["resources"][0]["changes"][0]
                .as_object_mut()
                .unwrap()
                .remove("after");
        }),
        ("an unknown field in a change", |p| {
            p["resources"][0]["changes"][0]["sensitive"] = json!(true)
        }),
        ("empty notes (left out when empty)", |p| {
            p["resources"][0]["notes"] = json!([])
        }),
        ("a blocker without its message", |p| {
            p["blockers"][0].as_object_mut().unwrap().remove("message");
        }),
        ("a negative count", |p| p["summary"]["create"] = json!(-1)),
    ];
    for (what, breaks) in broken {
        let mut plan = valid.clone();
        breaks(&mut plan);
        let out = check("plan.schema.json", &[plan.to_string()]);
        assert!(
            !out.status.success(),
            "a plan with {what} passed the schema:\n{plan:#}"
        );
    }
    // The events' schema fails a broken event too.
    let done = json!({"event": "resource_done", "address": RUNTIME, "action": "create", "id": "x", "duration_ms": 5});
    assert_valid("apply-events.schema.json", &[done.to_string()]);
    let mut without_duration = done.clone();
    without_duration
        .as_object_mut()
        .unwrap()
        .remove("duration_ms");
    for broken in [
        without_duration,
        json!({"event": "finished"}),
        json!({"event": "summary", "created": 1, "updated": 0, "deleted": 0}),
    ] {
        assert!(
            !check("apply-events.schema.json", &[broken.to_string()])
                .status
                .success(),
            "{broken} passed the events' schema"
        );
    }
}

/// Each line of `apply --json`'s stdout: parsed (nothing else is on stdout) and valid against
/// docs/apply-events.schema.json.
#[track_caller]
fn events_of(run: &Run) -> Vec<Value> {
    assert!(
        run.stdout.ends_with('\n') || run.stdout.is_empty(),
        "{}",
        run.stdout
    );
    let lines: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    let events: Vec<Value> = lines
        .iter()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}\n{}", run.stdout))
        })
        .collect();
    assert!(
        events.iter().all(Value::is_object),
        "every line is one object:\n{}",
        run.stdout
    );
    assert_valid("apply-events.schema.json", &lines);
    events
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// `apply --json --yes` from empty: one JSON event per line and nothing else on stdout;
/// `started` first, `summary` last; each resource started is done later, with its duration;
/// the runtime's wait for READY reported as `waiting`; the verification and the (disabled)
/// check as events.
#[test]
fn apply_json_from_empty_prints_one_event_per_line_in_order() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let run = project
        .infra(&moto, &["apply", "--json", "--yes"])
        .expect(0);
    let events = events_of(&run);
    assert!(!run.stdout.contains("Plan:"), "{}", run.stdout);

    assert_eq!(
        events[0],
        json!({
            "event": "started",
            "format_version": 1,
            "stack": STACK_NAME,
            "account_id": "123456789012",
            "region": "us-west-2",
            "summary": {"create": 9, "update": 0, "delete": 0}
        })
    );
    assert_eq!(
        events.last().unwrap(),
        &json!({"event": "summary", "created": 9, "updated": 0, "deleted": 0, "ok": true})
    );
    assert_eq!(named(&events, "started").len(), 1);
    assert_eq!(named(&events, "summary").len(), 1);

    // Each resource: started once, done once after it, with the action and a duration.
    let started = named(&events, "resource_started");
    assert_eq!(started.len(), 9, "{}", run.stdout);
    for start in &started {
        let at = |e: &Value| events.iter().position(|x| x == e).unwrap();
        let done: Vec<&Value> = named(&events, "resource_done")
            .into_iter()
            .filter(|d| d["address"] == start["address"])
            .collect();
        assert_eq!(done.len(), 1, "{start}: {done:?}");
        let done = done[0];
        assert!(at(start) < at(done), "{start} is done before it started");
        assert_eq!(done["action"], "create");
        assert_eq!(start["action"], "create");
        assert!(done["duration_ms"].is_u64(), "{done}");
        assert!(!done["id"].as_str().unwrap().is_empty(), "{done}");
    }
    assert_eq!(named(&events, "resource_done").len(), 9);
    assert!(named(&events, "resource_failed").is_empty());
    assert!(named(&events, "error").is_empty(), "{}", run.stdout);

    // The runtime waits for its DEFAULT endpoint (the emulator lags two polls): reported
    // while the runtime is in progress.
    let at = |name: &str| {
        events
            .iter()
            .position(|e| e["event"] == name && e["address"] == RUNTIME)
            .unwrap_or_else(|| panic!("no {name} of {RUNTIME}:\n{}", run.stdout))
    };
    let waits = named(&events, "waiting");
    assert!(!waits.is_empty(), "{}", run.stdout);
    for wait in &waits {
        assert_eq!(wait["address"], RUNTIME, "{wait}");
        assert!(wait["waited_s"].is_u64(), "{wait}");
    }
    assert!(at("resource_started") < at("waiting") && at("waiting") < at("resource_done"));

    // Then: verified, the check (turned off by the test harness), the summary.
    let tail: Vec<&str> = events[events.len() - 3..]
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(tail, ["verified", "check", "summary"]);
    assert_eq!(
        named(&events, "check"),
        [&json!({"event": "check", "status": "skipped", "reason": "INFRA_CHECK turns it off"})]
    );
    for secret in [PASSWORD, OPENAI_KEY] {
        assert!(!run.stdout.contains(secret));
    }

    // Applied again: nothing to do, still only events.
    let again = project
        .infra(&moto, &["apply", "--json", "--yes"])
        .expect(0);
    let events = events_of(&again);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["started", "summary"]);
    assert_eq!(
        events[1],
        json!({"event": "summary", "created": 0, "updated": 0, "deleted": 0, "ok": true})
    );
}

/// A failure while applying, a refused plan, and a refusal before anything is read: events
/// too, the summary last with `ok: false`.
#[tokio::test]
async fn apply_json_reports_failures_and_refusals_as_events() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);

    // Without --yes: refused before any AWS call, whether or not stdin is a terminal.
    moto.start_recording();
    let run = project.infra(&moto, &["apply", "--json"]).expect(1);
    let events = events_of(&run);
    assert_eq!(events.len(), 2, "{}", run.stdout);
    assert_eq!(events[0]["event"], "error");
    assert!(
        events[0]["message"].as_str().unwrap().contains("--yes"),
        "{}",
        events[0]
    );
    assert_eq!(
        events[1],
        json!({"event": "summary", "created": 0, "updated": 0, "deleted": 0, "ok": false})
    );
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(moto.operations(), Vec::<String>::new());
    let on_terminal = project
        .infra_on_terminal(&moto, "apply --json", "yes\n", &[])
        .expect(1);
    assert!(
        on_terminal.stdout.contains("shows no plan to confirm"),
        "{}",
        on_terminal.stdout
    );
    assert_eq!(moto.operations(), Vec::<String>::new());

    // A stack file that is not valid: refused before anything, as events too.
    let invalid = Project::with_stack("[stack]\nname = \"Not A Name\"\n");
    let run = invalid
        .infra(&moto, &["apply", "--json", "--yes"])
        .expect(1);
    let events = events_of(&run);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["error", "summary"], "{}", run.stdout);
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .contains("stack.toml is not valid"),
        "{}",
        events[0]
    );
    assert!(run.stderr.contains("stack.name"), "{}", run.stderr);
    assert_eq!(moto.operations(), Vec::<String>::new());

    // The runtime's create fails: the others are done, the runtime failed, an error follows.
    moto.fail_next_runtime("the container exited with code 1");
    let run = project
        .infra(&moto, &["apply", "--json", "--yes"])
        .expect(1);
    let events = events_of(&run);
    let failed = named(&events, "resource_failed");
    assert_eq!(failed.len(), 1, "{}", run.stdout);
    assert_eq!(failed[0]["address"], RUNTIME);
    assert_eq!(failed[0]["action"], "create");
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains("the container exited with code 1"),
        "{}",
        failed[0]
    );
    let errors = named(&events, "error");
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert_eq!(errors[0]["resource"], RUNTIME);
    assert_eq!(
        events.last().unwrap(),
        &json!({"event": "summary", "created": 8, "updated": 0, "deleted": 0, "ok": false})
    );
    assert!(named(&events, "verified").is_empty());

    // A blocked plan: its blocker is an error event; nothing is applied.
    let aws = Aws::new(&moto).await;
    let foreign = Project::from_repo(|s| s.replace(ROLE, "foreign-role"));
    aws.iam
        .create_role()
        .role_name("foreign-role")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    moto.start_recording();
    let run = foreign
        .infra(&moto, &["apply", "--json", "--yes"])
        .expect(1);
    let events = events_of(&run);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"started"), "{}", run.stdout);
    assert_eq!(names.last(), Some(&"summary"), "{}", run.stdout);
    assert!(
        named(&events, "error")
            .iter()
            .any(|e| e["resource"] == "iam_role.foreign-role"),
        "{}",
        run.stdout
    );
    assert!(named(&events, "resource_started").is_empty());
    assert!(
        moto.writes().is_empty(),
        "a refused apply wrote: {:?}",
        moto.writes()
    );
}

/// The check after apply, when it runs (a token for the stack's user, then the MCP URL; here
/// it fails, as the emulator cannot run the stack's placeholder image): a `check` event with
/// why, exit 1, `ok: false`.
#[test]
fn apply_json_reports_the_check_after_apply() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let run = project.infra_env(
        &moto,
        &["apply", "--json", "--yes"],
        &[
            ("COGNITO_PASSWORD", PASSWORD),
            ("OPENAI_API_KEY", OPENAI_KEY),
            ("INFRA_CHECK", "1"),
        ],
    );
    let events = events_of(&run);
    let checks = named(&events, "check");
    assert_eq!(checks.len(), 1, "{}", run.stdout);
    let check = checks[0];
    assert_eq!(check["status"], "failed", "{check}");
    assert!(
        check["url"]
            .as_str()
            .unwrap()
            .contains("/invocations?qualifier=DEFAULT"),
        "{check}"
    );
    // The emulator's data plane cannot pull a placeholder image: AgentCore's 424.
    assert!(
        check["reason"].as_str().unwrap().contains("HTTP 424"),
        "{check}"
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        events.last().unwrap(),
        &json!({"event": "summary", "created": 9, "updated": 0, "deleted": 0, "ok": false})
    );
}

/// `--json` and `--format` are one choice: given both, clap refuses (exit 2) before anything.
#[test]
fn json_and_format_together_are_refused() {
    let project = Project::with_stack("");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_infra"));
    cmd.current_dir(project.dir.path())
        .args(["plan", "--json", "--format", "markdown"]);
    let run = Run::of(cmd).expect(2);
    assert!(
        run.stderr
            .contains("'--json' cannot be used with '--format <FORMAT>'"),
        "{}",
        run.stderr
    );
}
