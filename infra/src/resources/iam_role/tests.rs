//! Plan tests for this kind, against in-memory live state (no AWS, no process).

use serde_json::json;

use super::*;
use crate::engine::{Action, Plan, Shown};
use crate::resources::testing::*;

const ROLE: &str = "iam_role.role";

/// A role with one inline policy, for the snapshots.
const A_ROLE: &str = r#"
[stack]
name = "demo"

[iam.role]
name = "role"
description = "Runs the demo"

[iam.role.policies.Logs]
document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}'
"#;

/// The converged stack, with the live role changed by `drift`.
fn drifted(stack: &Stack, drift: impl FnOnce(&mut LiveRole)) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<Role>(|role| drift(found(role)))
        .build();
    plan_of(stack, &live)
}

/// The default trust policy as IAM hands it back: keys in another order, one-element lists
/// where the stack has a string.
fn trust_policy_as_aws_formats_it() -> Value {
    json!({
        "Statement": [{
            "Condition": {
                "ArnLike": {"aws:SourceArn": ["arn:aws:bedrock-agentcore:us-west-2:111122223333:*"]},
                "StringEquals": {"aws:SourceAccount": "111122223333"}
            },
            "Principal": {"Service": ["bedrock-agentcore.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
            "Effect": "Allow",
            "Sid": "AssumeRolePolicy"
        }],
        "Version": "2012-10-17"
    })
}

#[test]
fn from_nothing_the_role_is_created_trusting_agentcore_in_this_account_only() {
    let plan = plan_of(&stack(STACK), &LiveBuilder::new().build());
    let role = resource(&plan, ROLE);
    assert_eq!(role.action, Action::Create);
    assert_eq!(role.reason, "does not exist");
    assert_eq!(
        fields(role),
        [
            "path",
            "trust_policy",
            "description",
            "max_session_duration",
            "tags"
        ]
    );
    assert_eq!(change(role, "path").after, Shown::Value(json!("/")));
    let Shown::Document(trust) = &change(role, "trust_policy").after else {
        panic!("the trust policy is shown as a document");
    };
    let condition = &trust["Statement"][0]["Condition"];
    assert_eq!(
        condition["StringEquals"]["aws:SourceAccount"],
        json!("111122223333")
    );
    assert_eq!(
        condition["ArnLike"]["aws:SourceArn"],
        json!("arn:aws:bedrock-agentcore:us-west-2:111122223333:*")
    );
    assert_eq!(
        change(role, "max_session_duration").after,
        Shown::Value(json!(3600))
    );
    assert!(role.depends_on.is_empty());
}

#[test]
fn a_converged_role_plans_nothing_even_when_aws_formats_its_trust_policy_differently() {
    let stack = stack(STACK);
    let plan = drifted(&stack, |r| {
        r.trust_policy = trust_policy_as_aws_formats_it()
    });
    let role = resource(&plan, ROLE);
    assert_eq!(role.action, Action::NoOp);
    assert_eq!(role.id.as_deref(), Some(ROLE_ID));
    assert!(role.changes.is_empty(), "{:?}", role.changes);
    assert!(!plan.has_changes());
}

#[test]
fn a_drifted_trust_policy_is_updated_in_place_and_shown_as_documents() {
    let plan = drifted(&stack(STACK), |r| {
        r.trust_policy["Statement"][0]["Principal"]["Service"] = json!("lambda.amazonaws.com");
    });
    let role = resource(&plan, ROLE);
    assert_eq!(role.action, Action::Update);
    assert_eq!(role.id.as_deref(), Some(ROLE_ID));
    assert_eq!(fields(role), ["trust_policy"]);
    let trust = change(role, "trust_policy");
    let (Shown::Document(before), Shown::Document(after)) = (&trust.before, &trust.after) else {
        panic!("documents: {trust:?}");
    };
    assert_eq!(
        before["Statement"][0]["Principal"]["Service"],
        json!("lambda.amazonaws.com")
    );
    assert_eq!(
        after["Statement"][0]["Principal"]["Service"],
        json!("bedrock-agentcore.amazonaws.com")
    );
    let shown = text(&plan);
    for line in [
        "--- live",
        "+++ stack",
        "-        \"Service\": \"lambda.amazonaws.com\"",
        "+        \"Service\": \"bedrock-agentcore.amazonaws.com\"",
    ] {
        assert!(shown.contains(line), "{line:?} is not in\n{shown}");
    }
}

#[test]
fn a_drifted_description_is_updated_in_place() {
    let described = stack(&STACK.replace(
        "name = \"role\"",
        "name = \"role\"\ndescription = \"Runs the demo\"",
    ));
    let plan = drifted(&described, |r| r.description = Some("Old words".into()));
    let role = resource(&plan, ROLE);
    assert_eq!(role.action, Action::Update);
    assert_eq!(fields(role), ["description"]);
    assert_eq!(
        change(role, "description").before,
        Shown::Value(json!("Old words"))
    );
    assert_eq!(
        change(role, "description").after,
        Shown::Value(json!("Runs the demo"))
    );

    // A description set in AWS but not in the stack is removed.
    let plan = drifted(&stack(STACK), |r| r.description = Some("Old words".into()));
    let description = change(resource(&plan, ROLE), "description");
    assert_eq!(description.after, Shown::Value(json!(null)));
}

#[test]
fn a_drifted_max_session_duration_is_updated_in_place() {
    let plan = drifted(&stack(STACK), |r| r.max_session_duration = 7200);
    let role = resource(&plan, ROLE);
    assert_eq!(role.action, Action::Update);
    assert_eq!(fields(role), ["max_session_duration"]);
    assert_eq!(
        change(role, "max_session_duration").before,
        Shown::Value(json!(7200))
    );
    assert_eq!(
        change(role, "max_session_duration").after,
        Shown::Value(json!(3600))
    );
}

#[test]
fn a_missing_stack_tag_is_restored() {
    let plan = drifted(&stack(STACK), |r| {
        r.tags.remove("infra:managed-by");
    });
    let role = resource(&plan, ROLE);
    assert_eq!(role.action, Action::Update);
    assert_eq!(fields(role), ["tags"]);
    assert_eq!(change(role, "tags").before, Shown::Value(json!({})));
    assert_eq!(
        change(role, "tags").after,
        Shown::Value(json!({"infra:managed-by": "infra"}))
    );
}

#[test]
fn iam_cannot_move_a_role_to_another_path_so_a_difference_is_a_blocker() {
    let plan = drifted(&stack(STACK), |r| r.path = "/service/".into());
    assert_eq!(blockers(&plan), [(ROLE, Some("path"))]);
    assert!(
        plan.blockers[0]
            .message
            .starts_with("is \"/service/\" in AWS and \"/\" in the stack; IAM cannot move a role"),
        "{}",
        plan.blockers[0].message
    );
    // A field blocker: the role's policies are still planned.
    resource(&plan, "iam_role_policy.Logs");
}

#[test]
fn a_same_named_role_without_the_stack_tag_blocks_it_its_policies_and_the_runtime() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<Role>(|role| {
            let role = found(role);
            role.owned = false;
            role.tags.clear();
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(ROLE, None)]);
    let message = &plan.blockers[0].message;
    assert!(
        message.starts_with(
            "an IAM role with this name already exists (arn:aws:iam::111122223333:role/role) \
             but is not tagged infra:stack=demo"
        ),
        "{message}"
    );
    for dependent in [ROLE, "iam_role_policy.Logs", "agentcore_runtime.demo_mcp"] {
        assert!(plan.resource(dependent).is_none(), "{dependent} is planned");
    }
    assert_eq!(
        resource(&plan, "cognito_user_pool.Pool").action,
        Action::NoOp
    );
}

#[test]
fn adopting_a_foreign_role_only_adds_the_stack_tags() {
    let stack = stack(&STACK.replace("name = \"role\"", "name = \"role\"\nadopt = true"));
    let live = LiveBuilder::converged(&stack)
        .edit::<Role>(|role| {
            let role = found(role);
            role.owned = false;
            role.tags = BTreeMap::from([("team".to_owned(), "search".to_owned())]);
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let role = resource(&plan, ROLE);
    assert_eq!(role.action, Action::Update);
    assert_eq!(role.reason, "adopting: tags it for this stack");
    assert_eq!(role.id.as_deref(), Some(ROLE_ID));
    assert_eq!(fields(role), ["tags"]);
    assert_eq!(
        change(role, "tags").after,
        Shown::Value(json!({"infra:managed-by": "infra", "infra:stack": "demo"}))
    );
    assert_eq!(plan.changed().count(), 1, "only the role changes");
}

#[test]
fn the_role_is_managed_only_when_the_stack_owns_or_adopts_it() {
    let owning = stack(STACK);
    let adopting = stack(&STACK.replace("name = \"role\"", "name = \"role\"\nadopt = true"));
    let mut foreign = role(&owning).unwrap();
    foreign.owned = false;
    assert!(managed(&owning, &Lookup::Found(foreign.clone())).is_none());
    assert!(managed(&adopting, &Lookup::Found(foreign)).is_some());
    assert!(managed(&owning, &Lookup::Found(role(&owning).unwrap())).is_some());
}

#[test]
fn snapshot_of_the_plan_that_creates_a_role() {
    let plan = plan_of(&stack(A_ROLE), &LiveBuilder::new().build());
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_drifted_role() {
    let plan = drifted(&stack(A_ROLE), |r| {
        r.max_session_duration = 43200;
        r.description = None;
        r.trust_policy["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] =
            json!("999999999999");
    });
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

/// Apply against mocked IAM: the calls each plan makes, and what AWS's answers lead to.
mod apply {
    use aws_sdk_iam::Client as Iam;
    use aws_sdk_iam::operation::create_role::CreateRoleOutput;
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::operation::update_role::UpdateRoleOutput;
    use aws_sdk_iam::primitives::DateTime;
    use aws_sdk_iam::types::{Role as IamRole, Tag as IamTag};

    use super::*;
    use crate::resources::mocked::*;

    /// The role `id` as IAM describes it: `description`, tagged with `tags`, trusting what the
    /// stack declares.
    fn described(id: &str, description: Option<&str>, tags: &[(&str, &str)]) -> IamRole {
        let stack = stack(A_ROLE);
        let declared = role(&stack).unwrap();
        let tags = tags
            .iter()
            .map(|(k, v)| IamTag::builder().key(*k).value(*v).build());
        IamRole::builder()
            .role_name("role")
            .path("/")
            .role_id(id)
            .arn(declared.arn)
            .create_date(DateTime::from_secs(1_700_000_000))
            .assume_role_policy_document(declared.trust_policy.to_string())
            .set_description(description.map(str::to_owned))
            .max_session_duration(3600)
            .set_tags(Some(tags.collect::<Result<_, _>>().unwrap()))
            .build()
            .unwrap()
    }

    fn create_fails(code: &'static str, message: &'static str) -> Rule {
        mock!(Iam::create_role).then_error(move || aws_error(code, message))
    }

    #[tokio::test]
    async fn a_create_sends_the_name_the_trust_policy_for_this_account_and_the_stack_tags() {
        let stack = stack(STACK);
        let trust = role(&stack).unwrap().trust_policy;
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            json!(ACCOUNT)
        );
        let create = mock!(Iam::create_role)
            .match_requests(move |req| {
                req.role_name() == Some("role")
                    && req.path() == Some("/")
                    && req.max_session_duration() == Some(3600)
                    && req.description().is_none()
                    && req.assume_role_policy_document().and_then(json_of) == Some(trust.clone())
                    && stack_tags(req.tags().iter().map(|t| (t.key(), t.value())))
            })
            .then_output(|| {
                let created = described("AROANEW", None, &[]);
                CreateRoleOutput::builder().role(created).build()
            });
        let applied =
            apply_mocked::<Role>(&stack, &LiveBuilder::new().build(), ROLE, &[&create]).await;
        assert_eq!(applied.id(), "AROANEW");
        assert_eq!(create.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_changed_session_duration_is_one_update_role_that_keeps_the_description() {
        let stack = stack(A_ROLE);
        let live = LiveBuilder::converged(&stack)
            .edit::<Role>(|role| found(role).max_session_duration = 43200)
            .build();
        let update = mock!(Iam::update_role)
            .match_requests(|req| {
                req.role_name() == Some("role")
                    && req.max_session_duration() == Some(3600)
                    && req.description() == Some("Runs the demo")
            })
            .then_output(|| UpdateRoleOutput::builder().build());
        let applied = apply_mocked::<Role>(&stack, &live, ROLE, &[&update]).await;
        assert_eq!(applied.id(), ROLE_ID);
        assert_eq!(update.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_role_created_meanwhile_by_another_apply_is_read_and_updated_to_the_stack() {
        let stack = stack(A_ROLE);
        let get = mock!(Iam::get_role)
            .match_requests(|req| req.role_name() == Some("role"))
            .then_output(|| {
                let tags = [("infra:stack", "demo"), ("infra:managed-by", "infra")];
                let other = described("AROAOTHERAPPLY", Some("made elsewhere"), &tags);
                GetRoleOutput::builder().role(other).build()
            });
        // Only the description differs: no trust policy or tag call.
        let update = mock!(Iam::update_role)
            .match_requests(|req| req.description() == Some("Runs the demo"))
            .then_output(|| UpdateRoleOutput::builder().build());
        let create = create_fails("EntityAlreadyExists", "Role with name role already exists.");
        let live = LiveBuilder::new().build();
        let applied = apply_mocked::<Role>(&stack, &live, ROLE, &[&create, &get, &update]).await;
        assert_eq!(applied.id(), "AROAOTHERAPPLY");
        assert!(applied.said("iam_role.role: already exists, though the plan did not find it"));
        assert_eq!(update.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_role_created_meanwhile_without_the_stack_tag_is_refused_and_left_unchanged() {
        let stack = stack(A_ROLE);
        let get = mock!(Iam::get_role).then_output(|| {
            let foreign = described("AROAFOREIGN", Some("someone else's"), &[]);
            GetRoleOutput::builder().role(foreign).build()
        });
        let create = create_fails("EntityAlreadyExists", "Role with name role already exists.");
        let live = LiveBuilder::new().build();
        let applied = apply_mocked::<Role>(&stack, &live, ROLE, &[&create, &get]).await;
        let error = applied.error();
        assert_eq!(
            (error.resource.as_str(), error.operation),
            (ROLE, "CreateRole")
        );
        assert!(
            error.message.contains("an IAM role with this name already exists (arn:aws:iam::111122223333:role/role) but is not tagged infra:stack=demo; it is left untouched"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_refused_create_names_the_role_the_operation_and_aws_message() {
        let message =
            "User: arn:aws:iam::111122223333:user/ci is not authorized to perform: iam:CreateRole";
        let create = create_fails("AccessDenied", message);
        let applied =
            apply_mocked::<Role>(&stack(STACK), &LiveBuilder::new().build(), ROLE, &[&create])
                .await;
        assert_failed(&applied, ROLE, "CreateRole", "AccessDenied", message);
    }
}
