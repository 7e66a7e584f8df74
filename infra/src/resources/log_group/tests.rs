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
