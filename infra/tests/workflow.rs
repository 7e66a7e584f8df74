//! The ready GitOps workflow in `examples/github-actions/`: valid for GitHub (its workflow
//! schema, through check-jsonschema, installed by scripts/test-tools.sh), and its environments
//! plan as the workflow's pull-request job runs them: `--env`, no secret, a saved plan.

mod support;

use std::process::Command;

use support::{Moto, Project, workspace_root};

fn example(name: &str) -> std::path::PathBuf {
    workspace_root().join("examples/github-actions").join(name)
}

#[test]
fn the_workflow_passes_githubs_workflow_schema() {
    let checker = workspace_root().join(".tools/check-jsonschema/bin/check-jsonschema");
    assert!(
        checker.is_file(),
        "{} is missing: run scripts/test-tools.sh",
        checker.display()
    );
    let run = |file: &std::path::Path| {
        Command::new(&checker)
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(file)
            .output()
            .expect("run check-jsonschema")
    };
    let out = run(&example("infra.yml"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The check can fail: a job without `runs-on` is not a workflow GitHub runs.
    let broken = tempfile::tempdir().unwrap();
    let file = broken.path().join("broken.yml");
    let text = std::fs::read_to_string(example("infra.yml")).unwrap();
    std::fs::write(
        &file,
        text.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"),
    )
    .unwrap();
    assert!(!run(&file).status.success());
}

#[test]
fn the_example_environments_plan_as_the_pull_request_job_does() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    for overlay in ["stack.dev.toml", "stack.prod.toml"] {
        std::fs::copy(example(overlay), project.dir.path().join(overlay)).unwrap();
    }
    for env in ["dev", "prod"] {
        let out = format!("plan-{env}.json");
        let plan = project
            .infra_env_without(
                &moto,
                &[
                    "--env",
                    env,
                    "plan",
                    "--skip-password-check",
                    "--out",
                    &out,
                    "--format",
                    "markdown",
                ],
                &[],
                &["COGNITO_PASSWORD", "OPENAI_API_KEY"],
            )
            .expect(0);
        assert!(
            plan.stdout.contains(&format!(
                "**infra plan** for stack `web-search-mcp-{env}` (account"
            )) && plan.stdout.contains("**Plan:** 9 to create"),
            "{}",
            plan.stdout
        );
    }
    // On merge, with the secrets: dev's reviewed plan applies, prod's still does after it.
    project
        .infra(&moto, &["--env", "dev", "apply", "plan-dev.json"])
        .expect(0);
    project
        .infra(&moto, &["--env", "prod", "apply", "plan-prod.json"])
        .expect(0);
    for env in ["dev", "prod"] {
        project
            .infra(&moto, &["--env", env, "plan", "--detailed-exitcode"])
            .expect(0);
    }
}
