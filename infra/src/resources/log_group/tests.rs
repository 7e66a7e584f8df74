//! Plan tests for this kind, against in-memory live state (no AWS, no process).

use super::*;
use crate::engine::{Action, Plan};
use crate::resources::testing::*;
use crate::stack::Stack;

const GROUP: &str = "cloudwatch_log_group.runtime";

fn with_retention(days: &str) -> Stack {
    stack(&STACK.replace(
        "[runtime]\n",
        &format!("[runtime]\nlog_retention_days = {days}\n"),
    ))
}

fn group(
    stack: &Stack,
    retention_days: Option<i32>,
    tags: BTreeMap<String, String>,
) -> LiveLogGroup {
    let id = runtime(stack).unwrap().id;
    LiveLogGroup {
        name: group_name(&id),
        retention_days,
        tags,
    }
}

fn plan_with(stack: &Stack, live: Option<LiveLogGroup>) -> Plan {
    plan_of(
        stack,
        &LiveBuilder::converged(stack).with::<LogGroup>(live).build(),
    )
}

#[test]
fn without_the_key_and_without_a_group_nothing_is_planned() {
    let stack = stack(STACK);
    let plan = plan_with(&stack, None);
    assert!(plan.resource(GROUP).is_none());
    assert!(!plan.has_changes());
}

#[test]
fn declared_and_missing_the_group_is_created_ahead_with_its_retention_and_tags() {
    let stack = with_retention("30");
    let plan = plan_with(&stack, None);
    let group = resource(&plan, GROUP);
    assert_eq!(group.action, Action::Create);
    assert_eq!(fields(group), ["name", "retention_in_days", "tags"]);
    let id = runtime(&stack).unwrap().id;
    assert_eq!(
        change(group, "name").after,
        Shown::Value(format!("/aws/bedrock-agentcore/runtimes/{id}-DEFAULT").into())
    );
    assert_eq!(
        change(group, "retention_in_days").after,
        Shown::Value(30.into())
    );
    assert_eq!(group.depends_on, ["agentcore_runtime.demo_mcp"]);
}

#[test]
fn with_the_runtime_still_to_create_the_name_is_known_after_apply() {
    let stack = with_retention("7");
    let plan = plan_of(&stack, &LiveBuilder::new().build());
    let group = resource(&plan, GROUP);
    assert_eq!(group.action, Action::Create);
    assert_eq!(change(group, "name").after, Shown::KnownAfterApply);
    insta::assert_snapshot!(text(&plan));
}

#[test]
fn a_converged_group_is_left_alone() {
    let stack = with_retention("30");
    let plan = plan_with(&stack, Some(group(&stack, Some(30), stack.tags())));
    assert_eq!(resource(&plan, GROUP).action, Action::NoOp);
    assert!(!plan.has_changes());
    // What the kind says a converged stack looks like, for every kind's tests.
    let converged = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    assert_eq!(resource(&converged, GROUP).action, Action::NoOp);
    assert!(!converged.has_changes());
}

#[test]
fn a_retention_changed_out_of_band_is_set_back_in_place() {
    let stack = with_retention("30");
    let plan = plan_with(&stack, Some(group(&stack, Some(1), stack.tags())));
    let group = resource(&plan, GROUP);
    assert_eq!(group.action, Action::Update);
    assert_eq!(fields(group), ["retention_in_days"]);
    assert_eq!(
        change(group, "retention_in_days").before,
        Shown::Value(1.into())
    );
}

#[test]
fn the_group_agentcore_made_is_taken_over_without_adopt() {
    let stack = with_retention("90");
    let plan = plan_with(&stack, Some(group(&stack, None, BTreeMap::new())));
    let group = resource(&plan, GROUP);
    assert_eq!(group.action, Action::Update);
    assert_eq!(fields(group), ["retention_in_days", "tags"]);
    assert!(
        group.reason.contains("AgentCore made it"),
        "{}",
        group.reason
    );
    assert!(plan.blockers.is_empty());
    insta::assert_snapshot!(text(&plan));
}

#[test]
fn a_group_tagged_for_another_stack_blocks() {
    let stack = with_retention("90");
    let other = BTreeMap::from([(TAG_STACK.to_owned(), "other".to_owned())]);
    let plan = plan_with(&stack, Some(group(&stack, None, other)));
    assert_eq!(blockers(&plan), [(GROUP, None)]);
}

#[test]
fn a_retention_cloudwatch_does_not_offer_is_refused_before_any_call() {
    let text = STACK.replace("[runtime]\n", "[runtime]\nlog_retention_days = 10\n");
    let err = crate::registry::parse_stack(std::path::Path::new("stack.toml"), &text, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("runtime.log_retention_days: 10 is not allowed; allowed: a number of days CloudWatch Logs allows: 1, 3, 5, 7, 14, 30,"),
        "{err}"
    );
    let typed = STACK.replace("[runtime]\n", "[runtime]\nlog_retention_days = \"30\"\n");
    let err = crate::registry::parse_stack(std::path::Path::new("stack.toml"), &typed, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected a number of days CloudWatch Logs allows"),
        "{err}"
    );
}

/// Apply against mocked CloudWatch Logs: create ahead or take over, and the retention.
mod apply {
    use std::collections::HashMap;

    use aws_sdk_cloudwatchlogs::Client as Logs;
    use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupOutput;
    use aws_sdk_cloudwatchlogs::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
    use aws_sdk_cloudwatchlogs::operation::tag_resource::TagResourceOutput;

    use super::*;
    use crate::resources::mocked::*;

    const NAME: &str = "/aws/bedrock-agentcore/runtimes/demo_mcp-AbC123-DEFAULT";

    fn tagged(tags: Option<&HashMap<String, String>>) -> bool {
        stack_tags(
            tags.into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    /// `PutRetentionPolicy` of `days` on the runtime's group.
    fn retention(days: i32) -> Rule {
        mock!(Logs::put_retention_policy)
            .match_requests(move |req| {
                req.log_group_name() == Some(NAME) && req.retention_in_days() == Some(days)
            })
            .then_output(|| PutRetentionPolicyOutput::builder().build())
    }

    fn create_fails(code: &'static str, message: &'static str) -> Rule {
        mock!(Logs::create_log_group).then_error(move || aws_error(code, message))
    }

    /// Apply the group with a retention of 30 days, the runtime existing, the group not.
    async fn apply_create(rules: &[&Rule]) -> Applied {
        let stack = with_retention("30");
        let live = LiveBuilder::converged(&stack)
            .with::<LogGroup>(None)
            .build();
        apply_mocked::<LogGroup>(&stack, &live, GROUP, rules).await
    }

    #[tokio::test]
    async fn a_create_names_the_group_after_the_runtime_tags_it_and_sets_the_retention() {
        let create = mock!(Logs::create_log_group)
            .match_requests(|req| req.log_group_name() == Some(NAME) && tagged(req.tags()))
            .then_output(|| CreateLogGroupOutput::builder().build());
        let retention = retention(30);
        let applied = apply_create(&[&create, &retention]).await;
        assert_eq!(applied.id(), NAME);
        assert_eq!((create.num_calls(), retention.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_changed_retention_is_one_put_retention_policy() {
        let stack = with_retention("30");
        let live = LiveBuilder::converged(&stack)
            .with::<LogGroup>(Some(group(&stack, Some(1), stack.tags())))
            .build();
        let retention = retention(30);
        let applied = apply_mocked::<LogGroup>(&stack, &live, GROUP, &[&retention]).await;
        assert_eq!(applied.id(), NAME);
        assert_eq!(retention.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_group_agentcore_made_meanwhile_is_tagged_and_gets_the_retention() {
        let create = create_fails(
            "ResourceAlreadyExistsException",
            "The specified log group already exists",
        );
        let untagged = mock!(Logs::list_tags_for_resource)
            .then_output(|| ListTagsForResourceOutput::builder().build());
        let tag = mock!(Logs::tag_resource)
            .match_requests(|req| {
                req.resource_arn()
                    == Some(&format!(
                        "arn:aws:logs:us-west-2:111122223333:log-group:{NAME}"
                    ))
                    && tagged(req.tags())
            })
            .then_output(|| TagResourceOutput::builder().build());
        let retention = retention(30);
        let applied = apply_create(&[&create, &untagged, &tag, &retention]).await;
        assert_eq!(applied.id(), NAME);
        assert!(
            applied.said(
                "cloudwatch_log_group.runtime: already exists, though the plan did not find it"
            )
        );
        assert_eq!((tag.num_calls(), retention.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_group_made_meanwhile_for_another_stack_is_refused_and_left_untouched() {
        let create = create_fails(
            "ResourceAlreadyExistsException",
            "The specified log group already exists",
        );
        let other = mock!(Logs::list_tags_for_resource).then_output(|| {
            ListTagsForResourceOutput::builder()
                .tags("infra:stack", "other")
                .build()
        });
        let applied = apply_create(&[&create, &other]).await;
        let e = applied.error();
        assert_eq!(
            (e.resource.as_str(), e.operation),
            (GROUP, "CreateLogGroup")
        );
        assert_eq!(
            e.message,
            format!(
                "the log group {NAME} was made meanwhile, tagged infra:stack=other, not demo; it \
                 is left untouched"
            )
        );
    }

    #[tokio::test]
    async fn a_refused_create_names_the_group_the_operation_and_aws_message() {
        let message = "User is not authorized to perform: logs:CreateLogGroup";
        let applied = apply_create(&[&create_fails("AccessDeniedException", message)]).await;
        assert_failed(
            &applied,
            GROUP,
            "CreateLogGroup",
            "AccessDeniedException",
            message,
        );
    }
}
