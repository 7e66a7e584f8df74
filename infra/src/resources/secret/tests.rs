//! Plan tests for this kind, against in-memory live state (no AWS, no process).

use super::*;
use crate::engine::{Action, Lookup, Plan};
use crate::resources::testing::*;
use crate::stack::Stack;

const SECRET: &str = "secret.openai";

/// A runtime that reads one kept secret.
const WITH_SECRET: &str = r#"
[stack]
name = "demo"
[iam.role]
name = "role"
[image]
uri = "123456789012.dkr.ecr.us-west-2.amazonaws.com/repo@sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
[runtime]
name = "svc"
[runtime.secrets]
OPENAI_API_KEY = "openai"
[secrets.openai]
value = { env = "OPENAI_API_KEY" }
description = "the key"
"#;

const ARN: &str = "arn:aws:secretsmanager:us-west-2:111122223333:secret:demo/openai-AbCdEf";

fn kept(stack: &Stack, value_matches: Option<bool>) -> LiveSecrets {
    LiveSecrets {
        kept: BTreeMap::from([(
            "openai".to_owned(),
            Lookup::Found(LiveSecret {
                arn: ARN.into(),
                owned: true,
                tags: stack.tags(),
                description: Some("the key".into()),
                kms_key: None,
                deleted: false,
                value_matches,
            }),
        )]),
        existing: BTreeMap::new(),
    }
}

fn with_secret(state: LiveSecrets) -> (Stack, Plan) {
    let stack = stack(WITH_SECRET);
    let plan = plan_of(&stack, &LiveBuilder::new().with::<Secret>(state).build());
    (stack, plan)
}

#[test]
fn from_nothing_the_secret_is_created_its_value_never_shown_and_the_runtime_gets_its_arn_later() {
    let stack = stack(WITH_SECRET);
    let plan = plan_of(&stack, &LiveBuilder::new().build());
    let secret = resource(&plan, SECRET);
    assert_eq!(secret.action, Action::Create);
    assert_eq!(fields(secret), ["name", "value", "description", "tags"]);
    assert_eq!(change(secret, "value").after, Shown::Sensitive);
    assert_eq!(
        change(secret, "name").after,
        Shown::Value(serde_json::json!("demo/openai"))
    );
    let runtime = resource(&plan, "agentcore_runtime.svc");
    assert!(runtime.depends_on.contains(&SECRET.to_owned()));
    assert_eq!(
        change(runtime, "environment.OPENAI_API_KEY_SECRET_ARN").after,
        Shown::KnownAfterApply
    );
    assert!(!fields(runtime).contains(&"environment.OPENAI_API_KEY"));
    // The role may read exactly this secret.
    let policy = resource(&plan, "iam_role_policy.infra-secrets");
    let Shown::Document(document) = &change(policy, "document").after else {
        panic!("a document");
    };
    assert_eq!(
        document["Statement"][0]["Resource"],
        serde_json::json!([
            "arn:aws:secretsmanager:us-west-2:111122223333:secret:demo/openai-??????"
        ])
    );
    assert!(!text(&plan).contains(OPENAI_KEY));
}

#[test]
fn a_stored_value_that_matches_is_left_alone_and_the_runtime_gets_the_known_arn() {
    let (_, plan) = with_secret(kept(&stack(WITH_SECRET), Some(true)));
    assert_eq!(resource(&plan, SECRET).action, Action::NoOp);
    let runtime = resource(&plan, "agentcore_runtime.svc");
    assert_eq!(
        change(runtime, "environment.OPENAI_API_KEY_SECRET_ARN").after,
        Shown::Value(serde_json::json!(ARN))
    );
}

#[test]
fn a_different_stored_value_is_one_sensitive_change() {
    let (_, plan) = with_secret(kept(&stack(WITH_SECRET), Some(false)));
    let secret = resource(&plan, SECRET);
    assert_eq!(secret.action, Action::Update);
    assert_eq!(fields(secret), ["value"]);
    assert_eq!(change(secret, "value").before, Shown::Sensitive);
    assert_eq!(change(secret, "value").after, Shown::Sensitive);
}

#[test]
fn an_unset_variable_keeps_the_stored_value_or_blocks_a_create() {
    let stack = stack_without(WITH_SECRET, &["OPENAI_API_KEY"]);
    let live = LiveBuilder::new()
        .with::<Secret>(kept(&stack, None))
        .build();
    let plan = plan_of(&stack, &live);
    let secret = resource(&plan, SECRET);
    assert_eq!(secret.action, Action::NoOp);
    assert_eq!(
        secret.notes,
        ["value: $OPENAI_API_KEY is unset, so the stored value is kept"]
    );
    let plan = plan_of(&stack, &LiveBuilder::new().build());
    assert_eq!(blockers(&plan), [(SECRET, Some("value"))]);
}

#[test]
fn a_same_named_secret_of_no_stack_is_refused_unless_adopted() {
    let stack = stack(WITH_SECRET);
    let mut state = kept(&stack, Some(true));
    if let Some(Lookup::Found(s)) = state.kept.get_mut("openai") {
        s.owned = false;
        s.tags.clear();
    }
    let plan = plan_of(
        &stack,
        &LiveBuilder::new().with::<Secret>(state.clone()).build(),
    );
    assert_eq!(blockers(&plan), [(SECRET, None)]);
    assert!(plan.resource("agentcore_runtime.svc").is_none());

    let adopting = super::super::testing::stack(&WITH_SECRET.replace(
        "description = \"the key\"",
        "description = \"the key\"\nadopt = true",
    ));
    let plan = plan_of(&adopting, &LiveBuilder::new().with::<Secret>(state).build());
    let secret = resource(&plan, SECRET);
    assert_eq!(secret.action, Action::Update);
    assert_eq!(secret.reason, "adopting: tags it for this stack");
    assert_eq!(fields(secret), ["tags"]);
}

#[test]
fn a_secret_scheduled_for_deletion_blocks() {
    let stack = stack(WITH_SECRET);
    let mut state = kept(&stack, None);
    if let Some(Lookup::Found(s)) = state.kept.get_mut("openai") {
        s.deleted = true;
    }
    let plan = plan_of(&stack, &LiveBuilder::new().with::<Secret>(state).build());
    assert_eq!(blockers(&plan), [(SECRET, None)]);
    assert!(plan.blockers[0].message.contains("restore-secret"));
}

#[test]
fn an_existing_secret_by_arn_is_not_planned_and_must_exist() {
    let existing = "arn:aws:secretsmanager:us-west-2:111122223333:secret:shared/openai-XyZ123";
    let text = WITH_SECRET.replace(
        "value = { env = \"OPENAI_API_KEY\" }\ndescription = \"the key\"",
        &format!("arn = \"{existing}\""),
    );
    let stack = stack(&text);
    let found = LiveSecrets {
        kept: BTreeMap::new(),
        existing: BTreeMap::from([("openai".to_owned(), true)]),
    };
    let plan = plan_of(&stack, &LiveBuilder::new().with::<Secret>(found).build());
    assert!(plan.resource(SECRET).is_none());
    let runtime = resource(&plan, "agentcore_runtime.svc");
    assert_eq!(
        change(runtime, "environment.OPENAI_API_KEY_SECRET_ARN").after,
        Shown::Value(serde_json::json!(existing))
    );
    let policy = resource(&plan, "iam_role_policy.infra-secrets");
    let Shown::Document(document) = &change(policy, "document").after else {
        panic!("a document");
    };
    assert_eq!(
        document["Statement"][0]["Resource"],
        serde_json::json!([existing])
    );

    let missing = LiveSecrets {
        kept: BTreeMap::new(),
        existing: BTreeMap::from([("openai".to_owned(), false)]),
    };
    let plan = plan_of(&stack, &LiveBuilder::new().with::<Secret>(missing).build());
    assert_eq!(blockers(&plan), [(SECRET, Some("arn"))]);
}
