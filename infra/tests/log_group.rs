//! The runtime's log group (`[runtime] log_retention_days`) against the emulator, through the
//! `infra` binary: created ahead with its retention, left alone once converged, repaired when
//! changed out of band, and taken over (not duplicated) when AgentCore made it first.

mod support;

use support::{Aws, Moto, Project, STACK_NAME};

const WITH_RETENTION: &str = "[runtime]\nlog_retention_days = 30\n";

/// The log groups whose names start with AgentCore's prefix for runtime logs: (name, retention).
async fn groups(aws: &Aws) -> Vec<(String, Option<i32>)> {
    aws.logs
        .describe_log_groups()
        .log_group_name_prefix("/aws/bedrock-agentcore/runtimes/")
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .map(|g| {
            (
                g.log_group_name().unwrap_or_default().to_owned(),
                g.retention_in_days(),
            )
        })
        .collect()
}

/// The log group's `infra:stack` tag.
async fn stack_tag(aws: &Aws, name: &str) -> Option<String> {
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .unwrap();
    let arn = groups.log_groups()[0].log_group_arn().unwrap().to_owned();
    aws.logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()?
        .get("infra:stack")
        .cloned()
}

/// The name AgentCore gives the log group of the stack's runtime.
async fn expected_name(aws: &Aws) -> String {
    let runtimes = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let id = runtimes.agent_runtimes()[0].agent_runtime_id();
    format!("/aws/bedrock-agentcore/runtimes/{id}-DEFAULT")
}

#[tokio::test]
async fn a_declared_retention_creates_the_group_ahead_and_repairs_it_in_place() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s.replacen("[runtime]\n", WITH_RETENTION, 1));

    let plan = project.infra(&moto, &["plan"]).expect(0);
    assert!(
        plan.stdout.contains("+ cloudwatch_log_group.runtime")
            && plan.stdout.contains("+ name = (known after apply)")
            && plan.stdout.contains("+ retention_in_days = 30"),
        "{}",
        plan.stdout
    );
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let name = expected_name(&aws).await;
    assert_eq!(groups(&aws).await, [(name.clone(), Some(30))]);
    assert_eq!(stack_tag(&aws, &name).await.as_deref(), Some(STACK_NAME));
    let output = project.infra(&moto, &["output", "--json"]).expect(0);
    assert!(output.stdout.contains(&name), "{}", output.stdout);

    // Converged: a second apply writes nothing.
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(moto.writes().is_empty(), "wrote: {:?}", moto.writes());

    // Changed out of band: planned as one field, repaired in place.
    aws.logs
        .put_retention_policy()
        .log_group_name(&name)
        .retention_in_days(1)
        .send()
        .await
        .unwrap();
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout.contains("~ retention_in_days: 1 -> 30"),
        "{}",
        plan.stdout
    );
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(moto.writes(), ["PutRetentionPolicy"]);
    assert_eq!(groups(&aws).await, [(name, Some(30))]);
}

#[tokio::test]
async fn a_group_agentcore_made_first_is_taken_over_without_a_second_group() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    // Without the key the group is AgentCore's: nothing reads or plans it.
    assert!(groups(&aws).await.is_empty());

    // The first invocation: AgentCore makes the group, untagged, never expiring.
    let name = expected_name(&aws).await;
    aws.logs
        .create_log_group()
        .log_group_name(&name)
        .send()
        .await
        .unwrap();

    project.edit_stack(|s| s.replacen("[runtime]\n", WITH_RETENTION, 1));
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout
            .contains("AgentCore made it for the stack's runtime")
            && plan
                .stdout
                .contains("~ retention_in_days: \"never expire\" -> 30"),
        "{}",
        plan.stdout
    );
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let mut writes = moto.writes();
    writes.sort();
    assert_eq!(writes, ["PutRetentionPolicy", "TagResource"]);
    assert_eq!(groups(&aws).await, [(name.clone(), Some(30))]);
    assert_eq!(stack_tag(&aws, &name).await.as_deref(), Some(STACK_NAME));
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}
