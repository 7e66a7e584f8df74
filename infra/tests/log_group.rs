//! The runtime's log group (`[runtime] log_retention_days`) against the emulator, through the
//! `infra` binary: created ahead with its retention, left alone once converged, repaired when
//! changed out of band, and taken over (not duplicated) when AgentCore made it first. And
//! `infra logs`: the events AgentCore wrote there (here put through the emulator's CloudWatch
//! Logs, in two streams), by time, `--since`, `--json` and `--follow`.

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

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Write `events` (milliseconds ago, line) to `stream` of the runtime's group, as AgentCore
/// writes a session's output; the group and stream are made when missing.
async fn put_events(aws: &Aws, group: &str, stream: &str, events: &[(i64, &str)]) {
    let _ = aws
        .logs
        .create_log_group()
        .log_group_name(group)
        .send()
        .await;
    let _ = aws
        .logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    let now = now_ms();
    let events = events.iter().map(|(ago, line)| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(now - ago)
            .message(*line)
            .build()
            .unwrap()
    });
    aws.logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events.collect()))
        .send()
        .await
        .unwrap();
}

const TOOL_CALL: &str = r#"{"timestamp":"2026-12-08T04:20:00.000000Z","level":"INFO","message":"tool call","tool":"web_search","duration_ms":812,"outcome":"ok","target":"server::tools"}"#;
const STARTUP: &str = r#"{"timestamp":"2026-12-08T04:19:00.000000Z","level":"INFO","message":"secret read at startup","secret":"arn:aws:secretsmanager:us-west-2:123456789012:secret:web-search-mcp/openai_api_key-AbCdEf","outcome":"ok","target":"server::secret"}"#;
const PLAIN: &str = "a line that is not JSON {";
const OLD: &str = r#"{"level":"WARN","message":"from two hours ago"}"#;

/// What follows the time on each line of `infra logs`.
fn after_times(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            let (time, rest) = l.split_once("  ").unwrap();
            assert!(time.ends_with('Z') && time.contains('T'), "{l}");
            rest.to_owned()
        })
        .collect()
}

#[tokio::test]
async fn logs_merge_the_streams_by_time_and_show_the_servers_lines_readably() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);

    // Never deployed: nothing to read.
    let run = project.infra(&moto, &["logs"]).expect(1);
    assert!(
        run.stderr.contains("never deployed") && run.stderr.contains("infra apply"),
        "{}",
        run.stderr
    );
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let group = expected_name(&aws).await;

    // Deployed, never invoked: no log group yet.
    let run = project.infra(&moto, &["logs"]).expect(0);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("has not logged yet") && run.stderr.contains(&group),
        "{}",
        run.stderr
    );

    // Two sessions' streams, written in interleaved times; one event from two hours ago.
    let a = "2026/12/08/[runtime-logs]aaaaaaaa-0000-0000-0000-000000000000";
    let b = "2026/12/08/[runtime-logs]bbbbbbbb-0000-0000-0000-000000000000";
    put_events(
        &aws,
        &group,
        a,
        &[(7_200_000, OLD), (60_000, STARTUP), (40_000, TOOL_CALL)],
    )
    .await;
    put_events(&aws, &group, b, &[(50_000, PLAIN)]).await;

    let run = project.infra(&moto, &["logs"]).expect(0);
    assert_eq!(
        after_times(&run.stdout),
        [
            "INFO   ok  secret read at startup  secret=arn:aws:secretsmanager:us-west-2:\
             123456789012:secret:web-search-mcp/openai_api_key-AbCdEf",
            PLAIN,
            "INFO   web_search  812ms  ok  tool call",
        ],
        "{}",
        run.stdout
    );
    assert_eq!(run.stderr, "");

    // --since reaches the older event; --json passes each line through as written.
    let run = project.infra(&moto, &["logs", "--since", "3h"]).expect(0);
    let lines = after_times(&run.stdout);
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[0], "WARN   from two hours ago");
    let run = project
        .infra(&moto, &["logs", "--since", "3h", "--json"])
        .expect(0);
    assert_eq!(run.stdout, [OLD, STARTUP, PLAIN, TOOL_CALL, ""].join("\n"));

    // Nothing in the window: a note, exit 0.
    let run = project.infra(&moto, &["logs", "--since", "10s"]).expect(0);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains(&format!("no events in {group} in the last 10s")),
        "{}",
        run.stderr
    );

    // A bad --since: what is allowed, exit 2, nothing read.
    moto.start_recording();
    for bad in ["10", "10x", "1.5h", "0m"] {
        let run = project.infra(&moto, &["logs", "--since", bad]).expect(2);
        assert!(
            run.stderr.contains("--since") && run.stderr.contains("30s, 10m, 2h, 1d"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(moto.operations(), Vec::<String>::new());
}

#[tokio::test]
async fn logs_follow_prints_each_new_event_once_until_ctrl_c() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let group = expected_name(&aws).await;
    let a = "2026/12/08/[runtime-logs]aaaaaaaa-0000-0000-0000-000000000000";
    let b = "2026/12/08/[runtime-logs]bbbbbbbb-0000-0000-0000-000000000000";
    put_events(&aws, &group, a, &[(5_000, "first line")]).await;

    let log = project.dir.path().join("follow.log");
    let mut follow = project.spawn_at(&moto.endpoint, &["logs", "--follow"], &log);
    let printed = || std::fs::read_to_string(&log).unwrap();
    let wait_for = |text: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !printed().contains(text) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(
            printed().contains(text),
            "{text} not printed:\n{}",
            printed()
        );
    };
    wait_for("first line");

    // Written after it started, in another stream: printed, once, over several polls.
    put_events(&aws, &group, b, &[(0, "second line")]).await;
    wait_for("second line");
    std::thread::sleep(std::time::Duration::from_secs(5));

    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &follow.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = follow.wait().unwrap();
    let out = printed();
    assert_eq!(status.code(), Some(0), "{out}");
    assert_eq!(out.matches("first line").count(), 1, "{out}");
    assert_eq!(out.matches("second line").count(), 1, "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}
