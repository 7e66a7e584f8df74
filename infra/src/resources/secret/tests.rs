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

/// Apply against mocked Secrets Manager: the value is written only where it differs.
mod apply {
    use aws_sdk_secretsmanager::Client as SecretsManager;
    use aws_sdk_secretsmanager::operation::create_secret::CreateSecretOutput;
    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
    use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueOutput;
    use aws_sdk_secretsmanager::types::Tag as SecretTag;

    use super::*;
    use crate::resources::mocked::*;

    /// `PutSecretValue` of the declared value into the secret at [`ARN`].
    fn put_value() -> Rule {
        mock!(SecretsManager::put_secret_value)
            .match_requests(|req| {
                req.secret_id() == Some(ARN) && req.secret_string() == Some(OPENAI_KEY)
            })
            .then_output(|| PutSecretValueOutput::builder().arn(ARN).build())
    }

    fn create_fails(code: &'static str, message: &'static str) -> Rule {
        mock!(SecretsManager::create_secret).then_error(move || aws_error(code, message))
    }

    /// Apply the secret from nothing, against `rules`.
    async fn apply_create(rules: &[&Rule]) -> Applied {
        apply_mocked::<Secret>(
            &stack(WITH_SECRET),
            &LiveBuilder::new().build(),
            SECRET,
            rules,
        )
        .await
    }

    #[tokio::test]
    async fn a_create_sends_the_name_the_value_the_description_and_the_stack_tags() {
        let create = mock!(SecretsManager::create_secret)
            .match_requests(|req| {
                req.name() == Some("demo/openai")
                    && req.secret_string() == Some(OPENAI_KEY)
                    && req.description() == Some("the key")
                    && req.kms_key_id().is_none()
                    && stack_tags(
                        req.tags()
                            .iter()
                            .map(|t| (t.key().unwrap(), t.value().unwrap())),
                    )
            })
            .then_output(|| {
                CreateSecretOutput::builder()
                    .arn(ARN)
                    .name("demo/openai")
                    .build()
            });
        let applied = apply_create(&[&create]).await;
        assert_eq!(applied.id(), ARN);
        assert_eq!(create.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_different_stored_value_is_written_with_one_call() {
        let stack = stack(WITH_SECRET);
        let live = LiveBuilder::new()
            .with::<Secret>(kept(&stack, Some(false)))
            .build();
        let put = put_value();
        let applied = apply_mocked::<Secret>(&stack, &live, SECRET, &[&put]).await;
        assert_eq!(applied.id(), ARN);
        assert_eq!(put.num_calls(), 1);
    }

    /// A create that finds the secret made meanwhile, tagged for the stack, storing `stored`.
    fn made_meanwhile(stored: &'static str) -> [Rule; 3] {
        let create = create_fails(
            "ResourceExistsException",
            "The operation failed because the secret demo/openai already exists.",
        );
        let describe = mock!(SecretsManager::describe_secret)
            .match_requests(|req| req.secret_id() == Some("demo/openai"))
            .then_output(|| {
                let tag = |k: &str, v: &str| SecretTag::builder().key(k).value(v).build();
                DescribeSecretOutput::builder()
                    .arn(ARN)
                    .name("demo/openai")
                    .description("the key")
                    .tags(tag("infra:stack", "demo"))
                    .tags(tag("infra:managed-by", "infra"))
                    .build()
            });
        let stored = mock!(SecretsManager::get_secret_value)
            .match_requests(|req| req.secret_id() == Some(ARN))
            .then_output(move || {
                GetSecretValueOutput::builder()
                    .arn(ARN)
                    .secret_string(stored)
                    .build()
            });
        [create, describe, stored]
    }

    #[tokio::test]
    async fn a_secret_created_meanwhile_gets_the_declared_value_when_it_stores_another() {
        let [create, describe, stored] = made_meanwhile("sk-someone-elses");
        let put = put_value();
        let applied = apply_create(&[&create, &describe, &stored, &put]).await;
        assert_eq!(applied.id(), ARN);
        assert!(applied.said("secret.openai: already exists, though the plan did not find it"));
        assert_eq!((stored.num_calls(), put.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_secret_created_meanwhile_with_the_declared_value_is_not_written_again() {
        let [create, describe, stored] = made_meanwhile(OPENAI_KEY);
        let applied = apply_create(&[&create, &describe, &stored]).await;
        assert_eq!(applied.id(), ARN);
        assert_eq!(stored.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_create_names_the_secret_the_operation_and_aws_message() {
        let message = "User: arn:aws:iam::111122223333:user/ci is not authorized to perform: secretsmanager:CreateSecret";
        let applied = apply_create(&[&create_fails("AccessDeniedException", message)]).await;
        assert_failed(
            &applied,
            SECRET,
            "CreateSecret",
            "AccessDeniedException",
            message,
        );
    }
}
