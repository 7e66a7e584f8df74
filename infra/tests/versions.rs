//! The runtime's history and a runtime that failed to create, against the emulator through the
//! `infra` binary: `infra versions` after several applies, a plan that names the earlier version
//! that ran its image, the recovery of a CREATE_FAILED runtime (AWS refusing or accepting the
//! update), and a DEFAULT endpoint that appears some seconds after its runtime.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{
    LocalRegistry, Moto, PREBUILT_DIGEST, PREBUILT_REPOSITORY, Project, assert_run_snapshot,
    literal, prebuilt_image, workspace_root,
};

const RUNTIME: &str = "agentcore_runtime.web_search_mcp";
const DIGEST_B: &str = "sha256:b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const DIGEST_C: &str = "sha256:c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

/// The stack running the prebuilt repository's image `digest`.
fn run_digest(project: &Project, digest: &str) {
    project.edit_stack(|s| {
        let start = s.find(PREBUILT_REPOSITORY).expect("the prebuilt image");
        let end = start + s[start..].find('"').unwrap();
        format!("{}{PREBUILT_REPOSITORY}@{digest}{}", &s[..start], &s[end..])
    });
}

/// Digests and dates by name, before the generic filters.
fn filters() -> Vec<(String, String)> {
    vec![
        (literal(DIGEST_B), "sha256:[B]".into()),
        (literal(DIGEST_C), "sha256:[C]".into()),
        (
            r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".into(),
            "YYYY-MM-DDTHH:MM:SSZ".into(),
        ),
    ]
}

fn json_of(run: &support::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// (version, digest, endpoints, stack) of each version listed.
fn listed(doc: &Value) -> Vec<(String, String, Vec<String>, Value)> {
    doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().to_owned(),
                v["digest"].as_str().unwrap_or_default().to_owned(),
                serde_json::from_value(v["endpoints"].clone()).unwrap(),
                v["stack"].clone(),
            )
        })
        .collect()
}

fn count(moto: &Moto, operation: &str) -> usize {
    moto.operations().iter().filter(|o| *o == operation).count()
}

#[tokio::test]
async fn versions_lists_every_apply_newest_first_and_a_reverted_image_is_named_in_the_plan() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);

    // Never deployed: said so, exit 1, in text and JSON.
    let never = project.infra(&moto, &["versions"]).expect(1);
    assert_run_snapshot!("never_deployed", never, project.filters(), moto.filters());
    let never = project.infra(&moto, &["versions", "--json"]).expect(1);
    assert!(never.stdout.is_empty(), "{}", never.stdout);
    assert!(never.stderr.contains("never deployed"), "{}", never.stderr);

    // Three applies, three images.
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    run_digest(&project, DIGEST_B);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    run_digest(&project, DIGEST_C);
    project.infra(&moto, &["apply", "--yes"]).expect(0);

    let text = project.infra(&moto, &["versions"]).expect(0);
    assert_run_snapshot!(
        "three_versions",
        text,
        filters(),
        project.filters(),
        moto.filters()
    );
    let doc = json_of(&project.infra(&moto, &["versions", "--json"]).expect(0));
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["runtime"], "web_search_mcp");
    assert_eq!(doc["plan_changes_runtime"], false);
    assert_eq!(
        doc["stack_image"].as_str(),
        Some(format!("{PREBUILT_REPOSITORY}@{DIGEST_C}").as_str())
    );
    assert_eq!(
        listed(&doc),
        [
            (
                "3".into(),
                DIGEST_C.into(),
                vec!["DEFAULT".into()],
                "deploys".into()
            ),
            ("2".into(), DIGEST_B.into(), vec![], Value::Null),
            ("1".into(), PREBUILT_DIGEST.into(), vec![], Value::Null),
        ]
    );
    for v in doc["versions"].as_array().unwrap() {
        assert_eq!(v["status"], "READY", "{v}");
        assert!(
            v["created_at"].as_str().is_some_and(|d| d.ends_with('Z')),
            "{v}"
        );
    }

    // A converged plan does not read the versions; one that changes the image does, and names
    // the version that ran it.
    moto.start_recording();
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
    assert_eq!(count(&moto, "ListAgentRuntimeVersions"), 0);
    run_digest(&project, PREBUILT_DIGEST);
    moto.start_recording();
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert_eq!(count(&moto, "ListAgentRuntimeVersions"), 1);
    assert!(
        plan.stdout.contains(&format!(
            "# note: same image as version 1 ({PREBUILT_DIGEST}), which this runtime ran before"
        )),
        "{}",
        plan.stdout
    );
    let doc = json_of(&project.infra(&moto, &["versions", "--json"]).expect(0));
    assert_eq!(doc["plan_changes_runtime"], true);
    let marks: Vec<Value> = listed(&doc).into_iter().map(|v| v.3).collect();
    assert_eq!(marks, [Value::Null, Value::Null, "same_image".into()]);

    // Applying the revert makes version 4, running version 1's image.
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let doc = json_of(&project.infra(&moto, &["versions", "--json"]).expect(0));
    let rows: Vec<(String, Value)> = listed(&doc).into_iter().map(|v| (v.0, v.3)).collect();
    assert_eq!(
        rows,
        [
            ("4".into(), "deploys".into()),
            ("3".into(), Value::Null),
            ("2".into(), Value::Null),
            ("1".into(), "same_image".into()),
        ]
    );
    let text = project.infra(&moto, &["versions"]).expect(0);
    assert!(text.stdout.contains(&prebuilt_image()), "{}", text.stdout);
}

/// Push the emulator tests' small image (a Python HTTP server that echoes each request as JSON,
/// run by the data plane with the host's interpreter) to `registry`; its digest.
fn push_echo_image(registry: &str) -> String {
    let script = "import json, sys; sys.path.insert(0, sys.argv[1]); import test_emulator as t; \
                  print(json.dumps(t.push_images(sys.argv[2])))";
    let out = Command::new(workspace_root().join(".venv/bin/python"))
        .args([
            "-c",
            script,
            &workspace_root().join("scripts").display().to_string(),
            registry,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pushed: Value = serde_json::from_slice(&out.stdout).unwrap();
    pushed["docker_digest"].as_str().unwrap().to_owned()
}

/// The stack, running the echo image, against an emulator that pulls from a local registry.
fn echo_project(moto: &Moto, registry: &LocalRegistry) -> Project {
    let digest = push_echo_image(&registry.url);
    moto.emulator_settings(&format!(r#"{{"ecr_registry": "{}"}}"#, registry.url));
    let image = format!("123456789012.dkr.ecr.us-west-2.amazonaws.com/fake-mcp@{digest}");
    Project::from_repo(|s| s.replace(&prebuilt_image(), &image))
}

/// The runtime serves: a fresh token from `infra token`, then a POST to the MCP URL `infra
/// output` prints reaches the runtime's server through the JWT authorizer.
async fn serves(project: &Project, moto: &Moto) {
    let output = json_of(&project.infra(moto, &["output", "--json"]).expect(0));
    let url = output["mcp_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no mcp_url in {output}"))
        .to_owned();
    let token = project.infra(moto, &["token"]).expect(0).stdout;
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token.trim())
        .header("Content-Type", "application/json")
        .body(r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}"#)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let echoed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echoed["path"], "/mcp", "{body}");
}

/// The runtime's writes since recording started, in order.
fn runtime_writes(moto: &Moto) -> Vec<String> {
    moto.writes()
        .into_iter()
        .filter(|op| op.ends_with("AgentRuntime"))
        .collect()
}

#[tokio::test]
async fn a_runtime_aws_refuses_to_update_after_a_failed_create_is_deleted_and_created_again() {
    let registry = LocalRegistry::start();
    let moto = Moto::start();
    let project = echo_project(&moto, &registry);
    moto.emulator_settings(r#"{"update_failed_runtime": "refuse"}"#);
    moto.fail_next_runtime("Image not found (manifest unknown)");
    project.infra(&moto, &["apply", "--yes"]).expect(1);

    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    for expected in [
        &format!(
            "# {RUNTIME} will be updated in place: recovering a runtime that failed to create: \
             if AWS refuses to update it, it is deleted and created again (it never served a \
             request)"
        ),
        "# note: CREATE_FAILED: Image not found (manifest unknown)",
        "# note: created again, the runtime gets a new id, ARN and MCP URL",
    ] {
        assert!(
            plan.stdout.contains(expected),
            "{expected}\n{}",
            plan.stdout
        );
    }
    let failed_id =
        json_of(&project.infra(&moto, &["output", "--json"]).expect(1))["runtime_id"].clone();

    moto.start_recording();
    let apply = project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(
        apply.stdout.contains(&format!(
            "{RUNTIME}: AWS refused to update the runtime that failed to create (ConflictException: "
        )) && apply
            .stdout
            .contains("deleting it (it never served a request) and creating it again"),
        "{}",
        apply.stdout
    );
    assert_eq!(
        runtime_writes(&moto),
        [
            "UpdateAgentRuntime",
            "DeleteAgentRuntime",
            "CreateAgentRuntime"
        ]
    );
    let output = json_of(&project.infra(&moto, &["output", "--json"]).expect(0));
    assert!(failed_id.is_string(), "{failed_id}");
    assert_ne!(
        output["runtime_id"], failed_id,
        "a new runtime, with a new id"
    );
    serves(&project, &moto).await;
    // Converged: nothing more to do.
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(moto.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_runtime_aws_accepts_to_update_after_a_failed_create_is_updated_and_not_deleted() {
    let registry = LocalRegistry::start();
    let moto = Moto::start();
    let project = echo_project(&moto, &registry);
    moto.emulator_settings(r#"{"update_failed_runtime": "allow"}"#);
    moto.fail_next_runtime("Image not found (manifest unknown)");
    project.infra(&moto, &["apply", "--yes"]).expect(1);

    moto.start_recording();
    let apply = project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(!apply.stdout.contains("AWS refused"), "{}", apply.stdout);
    assert_eq!(runtime_writes(&moto), ["UpdateAgentRuntime"]);
    let output = project.infra(&moto, &["output"]).expect(0);
    assert!(
        output.stdout.contains("runtime_version = 2"),
        "{}",
        output.stdout
    );
    serves(&project, &moto).await;
}

#[tokio::test]
async fn a_default_endpoint_made_after_its_runtime_is_waited_for_and_the_runtime_created_once() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    moto.emulator_settings(r#"{"default_endpoint_delay_s": 2}"#);
    moto.start_recording();
    let apply = project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(
        apply
            .stdout
            .contains("Verified: live AWS matches the stack."),
        "{}",
        apply.stdout
    );
    assert_eq!(
        count(&moto, "CreateAgentRuntime"),
        1,
        "{:?}",
        moto.operations()
    );
    assert_eq!(count(&moto, "DeleteAgentRuntime"), 0);
    project.infra(&moto, &["output"]).expect(0);
}
