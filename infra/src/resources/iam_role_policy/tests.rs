//! Plan tests for this kind, against in-memory live state (no AWS, no process).
//!
//! The declared policies are the role's whole set of inline policies.

use serde_json::json;

use super::*;
use crate::engine::Plan;
use crate::resources::testing::*;
use crate::stack::Stack;

const LOGS: &str = "iam_role_policy.Logs";

/// A role with one inline policy, for the snapshots.
const A_ROLE_WITH_A_POLICY: &str = r#"
[stack]
name = "demo"

[iam.role]
name = "role"

[iam.role.policies.Logs]
document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "arn:${partition}:logs:${region}:${account_id}:*"}]}'
"#;

/// The converged stack, with the role's live inline policies changed by `drift`.
fn drifted(stack: &Stack, drift: impl FnOnce(&mut BTreeMap<String, Value>)) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<RolePolicy>(drift)
        .build();
    plan_of(stack, &live)
}

fn empty_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": []})
}

#[test]
fn from_nothing_each_declared_policy_is_created_with_its_placeholders_filled_in() {
    let plan = plan_of(&stack(STACK), &LiveBuilder::new().build());
    let logs = resource(&plan, LOGS);
    assert_eq!(logs.action, Action::Create);
    assert_eq!(logs.id, None);
    assert_eq!(fields(logs), ["document"]);
    assert_eq!(change(logs, "document").before, Shown::Absent);
    let Shown::Document(document) = &change(logs, "document").after else {
        panic!("the policy is shown as a document");
    };
    assert_eq!(
        document["Statement"][0]["Resource"],
        json!("arn:aws:logs:us-west-2:111122223333:*")
    );
    assert_eq!(logs.depends_on, ["iam_role.role"]);
}

#[test]
fn a_converged_policy_plans_nothing_even_when_aws_formats_it_differently() {
    let stack = stack(STACK);
    // Keys in another order, and a bare string where the stack has a one-element list.
    let plan = drifted(&stack, |policies| {
        policies.insert(
            "Logs".into(),
            json!({"Statement": [{"Resource": "arn:aws:logs:us-west-2:111122223333:*", "Action": "logs:PutLogEvents", "Effect": "Allow"}], "Version": "2012-10-17"}),
        );
    });
    let logs = resource(&plan, LOGS);
    assert_eq!(logs.action, Action::NoOp);
    assert_eq!(logs.id.as_deref(), Some("Logs"));
    assert!(logs.changes.is_empty(), "{:?}", logs.changes);
    assert!(!plan.has_changes());
}

#[test]
fn a_drifted_policy_is_rewritten_in_place_and_shown_as_a_diff() {
    let plan = drifted(&stack(STACK), |policies| {
        policies.insert(
            "Logs".into(),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}),
        );
    });
    let logs = resource(&plan, LOGS);
    assert_eq!(logs.action, Action::Update);
    assert_eq!(logs.id.as_deref(), Some("Logs"));
    assert_eq!(fields(logs), ["document"]);
    let document = change(logs, "document");
    let (Shown::Document(before), Shown::Document(after)) = (&document.before, &document.after)
    else {
        panic!("documents: {document:?}");
    };
    assert_eq!(before["Statement"][0]["Action"], json!("logs:*"));
    assert_eq!(
        after["Statement"][0]["Action"],
        json!(["logs:PutLogEvents"])
    );
    let shown = text(&plan);
    assert!(shown.contains("-      \"Action\": \"logs:*\","), "{shown}");
}

#[test]
fn an_inline_policy_the_stack_does_not_declare_is_deleted() {
    let plan = drifted(&stack(STACK), |policies| {
        policies.insert("Extra".into(), empty_policy());
    });
    let extra = resource(&plan, "iam_role_policy.Extra");
    assert_eq!(extra.action, Action::Delete);
    assert_eq!(
        extra.reason,
        "an inline policy on the stack's role that the stack does not declare"
    );
    assert_eq!(extra.id.as_deref(), Some("Extra"));
    assert_eq!(
        change(extra, "document").before,
        Shown::Document(empty_policy())
    );
    assert_eq!(change(extra, "document").after, Shown::Absent);
    assert_eq!(plan.summary.delete, 1);
    assert_eq!(resource(&plan, LOGS).action, Action::NoOp);
}

#[test]
fn a_policy_declared_for_an_existing_role_is_added() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .with::<RolePolicy>(BTreeMap::new())
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(resource(&plan, LOGS).action, Action::Create);
    assert_eq!(resource(&plan, "iam_role.role").action, Action::NoOp);
}

#[test]
fn the_policies_of_a_foreign_role_are_neither_planned_nor_deleted() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<Role>(|role| {
            let role = found(role);
            role.owned = false;
            role.tags.clear();
        })
        .with::<RolePolicy>(BTreeMap::from([("Theirs".to_owned(), empty_policy())]))
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [("iam_role.role", None)]);
    assert!(
        plan.resources
            .iter()
            .all(|r| r.type_name != RolePolicy::TYPE)
    );
}

#[test]
fn adopting_a_role_takes_over_its_inline_policies_and_deletes_the_undeclared_ones() {
    let stack = stack(&STACK.replace("name = \"role\"", "name = \"role\"\nadopt = true"));
    let live = LiveBuilder::converged(&stack)
        .edit::<Role>(|role| {
            let role = found(role);
            role.owned = false;
            role.tags.clear();
        })
        .edit::<RolePolicy>(|policies| {
            policies.insert("Theirs".into(), empty_policy());
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(resource(&plan, "iam_role.role").action, Action::Update);
    assert_eq!(resource(&plan, LOGS).action, Action::NoOp);
    assert_eq!(
        resource(&plan, "iam_role_policy.Theirs").action,
        Action::Delete
    );
}

#[test]
fn snapshot_of_the_plan_that_creates_a_policy() {
    let plan = plan_of(&stack(A_ROLE_WITH_A_POLICY), &LiveBuilder::new().build());
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_drifted_policy_and_an_undeclared_one() {
    let plan = drifted(&stack(A_ROLE_WITH_A_POLICY), |policies| {
        policies.insert(
            "Logs".into(),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:us-west-2:111122223333:*"}]}),
        );
        policies.insert(
            "Extra".into(),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
        );
    });
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

/// Apply against mocked IAM: one call per policy, put or deleted.
mod apply {
    use aws_sdk_iam::Client as Iam;
    use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
    use aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput;

    use super::*;
    use crate::resources::mocked::*;

    /// `PutRolePolicy` of the declared `Logs` document, with its placeholders filled in.
    fn put_logs() -> Rule {
        let declared = policies(&stack(STACK))["Logs"].clone();
        assert_eq!(
            declared["Statement"][0]["Resource"],
            json!("arn:aws:logs:us-west-2:111122223333:*")
        );
        mock!(Iam::put_role_policy)
            .match_requests(move |req| {
                req.role_name() == Some("role")
                    && req.policy_name() == Some("Logs")
                    && req.policy_document().and_then(json_of) == Some(declared.clone())
            })
            .then_output(|| PutRolePolicyOutput::builder().build())
    }

    #[tokio::test]
    async fn a_create_puts_the_rendered_document_on_the_stacks_role() {
        let put = put_logs();
        let applied =
            apply_mocked::<RolePolicy>(&stack(STACK), &LiveBuilder::new().build(), LOGS, &[&put])
                .await;
        assert_eq!(applied.id(), "Logs");
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_drifted_document_is_put_again_and_nothing_else() {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<RolePolicy>(|policies| {
                policies.insert("Logs".into(), empty_policy());
            })
            .build();
        let put = put_logs();
        let applied = apply_mocked::<RolePolicy>(&stack, &live, LOGS, &[&put]).await;
        assert_eq!(applied.id(), "Logs");
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_undeclared_policy_on_the_role_is_deleted() {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<RolePolicy>(|policies| {
                policies.insert("Old".into(), empty_policy());
            })
            .build();
        let delete = mock!(Iam::delete_role_policy)
            .match_requests(|req| {
                req.role_name() == Some("role") && req.policy_name() == Some("Old")
            })
            .then_output(|| DeleteRolePolicyOutput::builder().build());
        let applied =
            apply_mocked::<RolePolicy>(&stack, &live, "iam_role_policy.Old", &[&delete]).await;
        assert_eq!(applied.id(), "Old");
        assert_eq!(delete.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_document_names_the_policy_the_operation_and_aws_message() {
        let put = mock!(Iam::put_role_policy)
            .then_error(|| aws_error("MalformedPolicyDocument", "Syntax errors in policy."));
        let applied =
            apply_mocked::<RolePolicy>(&stack(STACK), &LiveBuilder::new().build(), LOGS, &[&put])
                .await;
        let message = "Syntax errors in policy.";
        assert_failed(
            &applied,
            LOGS,
            "PutRolePolicy",
            "MalformedPolicyDocument",
            message,
        );
    }
}
