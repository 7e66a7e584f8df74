//! Plan tests for this kind, against in-memory live state (no AWS, no process).

use serde_json::{Value, json};

use super::*;
use crate::engine::{Action, Plan, Shown};
use crate::resources::testing::*;

const POOL: &str = "cognito_user_pool.Pool";

/// A pool alone, for the snapshots.
const ONLY_A_POOL: &str = r#"
[stack]
name = "demo"

[cognito.user_pool]
name = "Pool"
password_policy = { minimum_length = 10, require_symbols = true }
"#;

fn adopting() -> Stack {
    stack(&STACK.replace("name = \"Pool\"", "name = \"Pool\"\nadopt = true"))
}

/// The converged stack, with the live pool changed by `drift`.
fn drifted(stack: &Stack, drift: impl FnOnce(&mut LivePool)) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<UserPool>(|pool| drift(found(pool)))
        .build();
    plan_of(stack, &live)
}

#[test]
fn from_nothing_the_pool_is_created_with_its_password_policy_and_the_stack_tags() {
    let plan = plan_of(&stack(STACK), &LiveBuilder::new().build());
    let pool = resource(&plan, POOL);
    assert_eq!(pool.action, Action::Create);
    assert_eq!(pool.reason, "no user pool named \"Pool\" exists");
    assert_eq!(pool.id, None);
    assert_eq!(
        fields(pool),
        [
            "password_policy.minimum_length",
            "password_policy.require_uppercase",
            "password_policy.require_lowercase",
            "password_policy.require_numbers",
            "password_policy.require_symbols",
            "password_policy.temporary_password_validity_days",
            "deletion_protection",
            "tags",
        ]
    );
    assert_eq!(
        change(pool, "password_policy.minimum_length").after,
        Shown::Value(json!(10))
    );
    assert_eq!(
        change(pool, "tags").after,
        Shown::Value(json!({"infra:managed-by": "infra", "infra:stack": "demo"}))
    );
    assert!(pool.depends_on.is_empty());
}

#[test]
fn a_pool_that_signs_in_by_email_is_created_with_its_username_attributes() {
    let text = STACK.replace(
        "password_policy = { minimum_length = 10 }",
        "password_policy = { minimum_length = 10 }\nusername_attributes = [\"email\"]",
    );
    let plan = plan_of(&stack(&text), &LiveBuilder::new().build());
    assert_eq!(
        change(resource(&plan, POOL), "username_attributes").after,
        Shown::Value(json!(["email"]))
    );
}

#[test]
fn a_converged_pool_plans_nothing_and_keeps_its_id() {
    let stack = stack(STACK);
    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    let pool = resource(&plan, POOL);
    assert_eq!(pool.action, Action::NoOp);
    assert_eq!(pool.reason, "matches the stack");
    assert_eq!(pool.id.as_deref(), Some(POOL_ID));
    assert!(pool.changes.is_empty(), "{:?}", pool.changes);
    assert!(!plan.has_changes());
    assert!(plan.blockers.is_empty());
}

#[test]
fn each_drifted_password_policy_setting_is_updated_in_place_naming_only_that_setting() {
    let stack = stack(STACK);
    type Drift = fn(&mut LivePool);
    let cases: [(&str, Drift, Value, Value); 6] = [
        (
            "minimum_length",
            |p| p.password_policy.minimum_length = 6,
            json!(6),
            json!(10),
        ),
        (
            "require_uppercase",
            |p| p.password_policy.require_uppercase = true,
            json!(true),
            json!(false),
        ),
        (
            "require_lowercase",
            |p| p.password_policy.require_lowercase = true,
            json!(true),
            json!(false),
        ),
        (
            "require_numbers",
            |p| p.password_policy.require_numbers = true,
            json!(true),
            json!(false),
        ),
        (
            "require_symbols",
            |p| p.password_policy.require_symbols = true,
            json!(true),
            json!(false),
        ),
        (
            "temporary_password_validity_days",
            |p| p.password_policy.temporary_password_validity_days = 30,
            json!(30),
            json!(7),
        ),
    ];
    for (setting, drift, before, after) in cases {
        let plan = drifted(&stack, drift);
        let pool = resource(&plan, POOL);
        let field = format!("password_policy.{setting}");
        assert_eq!(pool.action, Action::Update, "{setting}");
        assert_eq!(pool.reason, "live settings differ from the stack");
        assert_eq!(pool.id.as_deref(), Some(POOL_ID), "{setting}");
        assert_eq!(fields(pool), [field.as_str()]);
        assert_eq!(
            change(pool, &field).before,
            Shown::Value(before),
            "{setting}"
        );
        assert_eq!(change(pool, &field).after, Shown::Value(after), "{setting}");
        assert_eq!(plan.changed().count(), 1, "only the pool changes");
    }
}

#[test]
fn deletion_protection_turned_on_in_aws_is_turned_off_in_place() {
    let plan = drifted(&stack(STACK), |p| p.deletion_protection = true);
    let pool = resource(&plan, POOL);
    assert_eq!(pool.action, Action::Update);
    assert_eq!(fields(pool), ["deletion_protection"]);
    assert_eq!(
        change(pool, "deletion_protection").before,
        Shown::Value(json!(true))
    );
    assert_eq!(
        change(pool, "deletion_protection").after,
        Shown::Value(json!(false))
    );
}

#[test]
fn a_missing_stack_tag_is_restored_and_other_tags_are_not_the_stacks_business() {
    let plan = drifted(&stack(STACK), |p| {
        p.tags.remove("infra:managed-by");
        p.tags.insert("team".into(), "search".into());
    });
    let pool = resource(&plan, POOL);
    assert_eq!(pool.action, Action::Update);
    assert_eq!(fields(pool), ["tags"]);
    assert_eq!(change(pool, "tags").before, Shown::Value(json!({})));
    assert_eq!(
        change(pool, "tags").after,
        Shown::Value(json!({"infra:managed-by": "infra"}))
    );
}

#[test]
fn sign_in_attributes_cannot_change_after_creation_so_a_difference_is_a_blocker() {
    let plan = drifted(&stack(STACK), |p| {
        p.username_attributes = vec!["email".into()]
    });
    assert_eq!(blockers(&plan), [(POOL, Some("username_attributes"))]);
    let message = &plan.blockers[0].message;
    assert!(
        message.starts_with("is [\"email\"] in AWS and [] in the stack; Cognito cannot change"),
        "{message}"
    );
    // Blocked on a field only: the pool and what depends on it are still planned.
    assert_eq!(resource(&plan, POOL).action, Action::NoOp);
    resource(&plan, "cognito_user_pool_client.Client");
}

#[test]
fn a_same_named_pool_without_the_stack_tag_blocks_it_and_everything_that_needs_it() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<UserPool>(|pool| {
            let pool = found(pool);
            pool.owned = false;
            pool.tags.clear();
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(POOL, None)]);
    let message = &plan.blockers[0].message;
    assert!(
        message.contains(&format!(
            "a user pool with this name already exists ({POOL_ID})"
        )),
        "{message}"
    );
    assert!(
        message.contains("not tagged infra:stack=demo") && message.contains("`adopt = true`"),
        "{message}"
    );
    for dependent in [
        POOL,
        "cognito_user_pool_client.Client",
        "cognito_user.alice",
        "agentcore_runtime.demo_mcp",
    ] {
        assert!(plan.resource(dependent).is_none(), "{dependent} is planned");
    }
    // What does not need the pool is planned as usual.
    assert_eq!(resource(&plan, "iam_role.role").action, Action::NoOp);
    assert_eq!(resource(&plan, "ecr_repository.demo").action, Action::NoOp);
}

#[test]
fn adopting_a_foreign_pool_only_adds_the_stack_tags() {
    let stack = adopting();
    let live = LiveBuilder::converged(&stack)
        .edit::<UserPool>(|pool| {
            let pool = found(pool);
            pool.owned = false;
            pool.tags = BTreeMap::from([("team".to_owned(), "search".to_owned())]);
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let pool = resource(&plan, POOL);
    assert_eq!(pool.action, Action::Update);
    assert_eq!(pool.reason, "adopting: tags it for this stack");
    assert_eq!(pool.id.as_deref(), Some(POOL_ID));
    assert_eq!(fields(pool), ["tags"]);
    assert_eq!(change(pool, "tags").before, Shown::Value(json!({})));
    assert_eq!(
        change(pool, "tags").after,
        Shown::Value(json!({"infra:managed-by": "infra", "infra:stack": "demo"}))
    );
    assert_eq!(plan.changed().count(), 1, "only the pool changes");
}

#[test]
fn adopting_a_foreign_pool_also_brings_its_settings_to_the_stack() {
    let stack = adopting();
    let live = LiveBuilder::converged(&stack)
        .edit::<UserPool>(|pool| {
            let pool = found(pool);
            pool.owned = false;
            pool.tags.clear();
            pool.password_policy.minimum_length = 6;
        })
        .build();
    let plan = plan_of(&stack, &live);
    let pool = resource(&plan, POOL);
    assert_eq!(pool.action, Action::Update);
    // The reason names the adoption; the fields show everything apply changes.
    assert_eq!(pool.reason, "adopting: tags it for this stack");
    assert_eq!(fields(pool), ["password_policy.minimum_length", "tags"]);
}

#[test]
fn adopting_a_pool_that_is_already_the_stacks_changes_nothing() {
    let stack = adopting();
    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    assert_eq!(resource(&plan, POOL).action, Action::NoOp);
    assert_eq!(resource(&plan, POOL).reason, "matches the stack");
}

/// The stack's pool created at `secs`, with id `id`.
fn ours_at(stack: &Stack, id: &str, secs: i64) -> LivePool {
    LivePool {
        id: id.into(),
        created: Some(DateTime::from_secs(secs)),
        ..pool(stack).unwrap()
    }
}

#[test]
fn of_several_pools_tagged_for_this_stack_the_runtimes_is_kept_else_the_oldest() {
    let stack = stack(STACK);
    let pools = || {
        vec![
            ours_at(&stack, "us-west-2_new", 2_000),
            ours_at(&stack, "us-west-2_old", 1_000),
            // The same date: the id decides.
            ours_at(&stack, "us-west-2_b", 2_000),
        ]
    };
    let kept = choose(pools(), Vec::new(), &[]);
    let kept = kept.found().unwrap();
    assert_eq!(kept.id, "us-west-2_old");
    let others: Vec<&str> = kept.duplicates.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(others, ["us-west-2_b", "us-west-2_new"]);
    let url = super::discovery_url(REGION, "us-west-2_new");
    let kept = choose(pools(), Vec::new(), &[url]);
    let kept = kept.found().unwrap();
    assert_eq!(kept.id, "us-west-2_new");
    let others: Vec<&str> = kept.duplicates.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(others, ["us-west-2_old", "us-west-2_b"]);
}

/// A duplicate of the stack's pool holding the stack's client and users.
fn duplicate(id: &str) -> Duplicate {
    Duplicate {
        id: id.into(),
        created: Some(DateTime::from_secs(1_800_000_000)),
        deletion_protection: false,
        clients: vec!["Client".into()],
        users: Some(vec!["alice".into()]),
        estimated_users: 1,
    }
}

#[test]
fn a_duplicate_pool_holding_only_what_the_stack_declares_is_deleted() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<UserPool>(|pool| found(pool).duplicates = vec![duplicate("us-west-2_Extra")])
        .build();
    let plan = plan_of(&stack, &live);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(resource(&plan, POOL).action, Action::NoOp);
    let extra = resource(&plan, "cognito_user_pool.Pool[us-west-2_Extra]");
    assert_eq!(extra.action, Action::Delete);
    assert_eq!(extra.id.as_deref(), Some("us-west-2_Extra"));
    assert!(
        extra.reason.contains(&format!("the stack keeps {POOL_ID}")),
        "{}",
        extra.reason
    );
    assert_eq!(
        change(extra, "created").before,
        Shown::Value(json!("2027-01-15T08:00:00Z"))
    );
    // Nothing else changes: the client, the user and the runtime stay with the kept pool.
    assert_eq!(plan.changed().count(), 1);
}

#[test]
fn a_duplicate_pool_with_more_than_the_stack_declares_is_explained_not_deleted() {
    let stack = stack(STACK);
    let mut bob = duplicate("us-west-2_Bob");
    bob.users = Some(vec!["alice".into(), "bob".into()]);
    bob.estimated_users = 2;
    let mut protected = duplicate("us-west-2_Kept");
    protected.deletion_protection = true;
    let live = LiveBuilder::converged(&stack)
        .edit::<UserPool>(|pool| {
            let pool = found(pool);
            pool.created = Some(DateTime::from_secs(1_700_000_000));
            pool.duplicates = vec![bob, protected];
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(POOL, None)]);
    let message = &plan.blockers[0].message;
    for expected in [
        "3 user pools named \"Pool\" are tagged for this stack",
        &format!(
            "infra keeps {POOL_ID} (created 2023-11-14T22:13:20Z; the runtime's authorizer uses it)"
        ),
        "us-west-2_Bob (created 2027-01-15T08:00:00Z; app clients: 1, users: 2): it has users the stack does not declare: bob",
        "us-west-2_Kept (created 2027-01-15T08:00:00Z; app clients: 1, users: 1): deletion protection is on",
        "aws cognito-idp delete-user-pool --user-pool-id us-west-2_Bob",
        "aws cognito-idp update-user-pool --user-pool-id us-west-2_Kept --deletion-protection INACTIVE && aws cognito-idp delete-user-pool --user-pool-id us-west-2_Kept",
    ] {
        assert!(message.contains(expected), "{expected}\nnot in\n{message}");
    }
    // Nothing that depends on the pool is planned while it is ambiguous.
    assert!(plan.resource("cognito_user_pool_client.Client").is_none());
}

#[test]
fn two_pools_tagged_for_this_stack_are_never_guessed_between() {
    let live = LiveBuilder::new()
        .with::<UserPool>(Lookup::Many {
            ids: vec!["us-west-2_p1".into(), "us-west-2_p2".into()],
            owned: true,
        })
        .build();
    let plan = plan_of(&stack(STACK), &live);
    assert_eq!(blockers(&plan), [(POOL, None)]);
    assert_eq!(
        plan.blockers[0].message,
        "2 user pools named \"Pool\" are tagged for this stack: us-west-2_p1, us-west-2_p2. \
         Keep one and delete the others; infra never guesses"
    );
    assert!(plan.resource("cognito_user_pool_client.Client").is_none());
}

#[test]
fn several_foreign_pools_with_the_name_are_left_alone_and_another_name_is_asked_for() {
    let live = LiveBuilder::new()
        .with::<UserPool>(Lookup::Many {
            ids: vec!["us-west-2_p1".into(), "us-west-2_p2".into()],
            owned: false,
        })
        .build();
    let plan = plan_of(&stack(STACK), &live);
    assert_eq!(blockers(&plan), [(POOL, None)]);
    assert!(
        plan.blockers[0]
            .message
            .contains("none tagged for this stack: us-west-2_p1, us-west-2_p2"),
        "{}",
        plan.blockers[0].message
    );
}

#[test]
fn the_pool_tagged_for_this_stack_is_chosen_over_foreign_ones_with_the_same_name() {
    let stack = stack(STACK);
    let ours = pool(&stack).unwrap();
    let foreign = LivePool {
        id: "us-west-2_Foreign".into(),
        owned: false,
        ..ours.clone()
    };
    let chosen = choose(vec![ours], vec![foreign.clone()], &[]);
    assert_eq!(chosen.found().map(|p| p.id.as_str()), Some(POOL_ID));
    // A lone foreign pool is found (and then blocks, unless adopted).
    let lone = choose(Vec::new(), vec![foreign], &[]);
    assert_eq!(
        lone.found().map(|p| p.id.as_str()),
        Some("us-west-2_Foreign")
    );
    assert!(matches!(
        choose(Vec::new(), Vec::new(), &[]),
        Lookup::Missing
    ));
}

#[test]
fn the_discovery_url_is_the_pools_openid_configuration() {
    assert_eq!(
        super::discovery_url("us-west-2", POOL_ID),
        "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_AbC123/.well-known/openid-configuration"
    );
}

#[test]
fn snapshot_of_the_plan_that_creates_a_pool() {
    let plan = plan_of(&stack(ONLY_A_POOL), &LiveBuilder::new().build());
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_drifted_pool() {
    let stack = stack(ONLY_A_POOL);
    let plan = drifted(&stack, |p| {
        p.password_policy.minimum_length = 8;
        p.password_policy.require_symbols = false;
        p.deletion_protection = true;
        p.tags.remove("infra:managed-by");
    });
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

/// Apply against mocked Cognito: a create settles a race with another apply; an update sends
/// the whole pool back.
mod apply {
    use aws_sdk_cognitoidentityprovider::Client as Cognito;
    use aws_sdk_cognitoidentityprovider::operation::create_user_pool::CreateUserPoolOutput;
    use aws_sdk_cognitoidentityprovider::operation::delete_user_pool::DeleteUserPoolOutput;
    use aws_sdk_cognitoidentityprovider::operation::describe_user_pool::DescribeUserPoolOutput;
    use aws_sdk_cognitoidentityprovider::operation::list_user_pools::ListUserPoolsOutput;
    use aws_sdk_cognitoidentityprovider::operation::update_user_pool::UpdateUserPoolOutput;
    use aws_sdk_cognitoidentityprovider::primitives::DateTime;
    use aws_sdk_cognitoidentityprovider::types::{
        UserPoolDescriptionType, UserPoolMfaType, UserPoolType,
    };

    use super::*;
    use crate::resources::mocked::*;

    const NEW: &str = "us-west-2_New";
    const OLDER: &str = "us-west-2_Older";

    /// The pool `id` named "Pool" and tagged for the stack, created at `secs`.
    fn described(id: &str, secs: i64) -> UserPoolType {
        UserPoolType::builder()
            .id(id)
            .name("Pool")
            .creation_date(DateTime::from_secs(secs))
            .user_pool_tags("infra:stack", "demo")
            .user_pool_tags("infra:managed-by", "infra")
            .build()
    }

    /// `ListUserPools` answering with these pools named "Pool".
    fn listed(ids: &'static [&'static str]) -> Rule {
        mock!(Cognito::list_user_pools).then_output(move || {
            let each = ids.iter().map(|id| {
                UserPoolDescriptionType::builder()
                    .id(*id)
                    .name("Pool")
                    .build()
            });
            ListUserPoolsOutput::builder()
                .set_user_pools(Some(each.collect()))
                .build()
        })
    }

    fn create() -> Rule {
        mock!(Cognito::create_user_pool)
            .match_requests(|req| {
                let policy = req.policies().and_then(|p| p.password_policy());
                req.pool_name() == Some("Pool")
                    && policy.and_then(|p| p.minimum_length()) == Some(10)
                    && req.deletion_protection().map(|d| d.as_str()) == Some("INACTIVE")
                    && stack_tags(
                        req.user_pool_tags()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (k.as_str(), v.as_str())),
                    )
            })
            .then_output(|| {
                CreateUserPoolOutput::builder()
                    .user_pool(described(NEW, 1_700_000_100))
                    .build()
            })
    }

    /// Apply the pool from nothing, against `rules`.
    async fn apply_from_nothing(rules: &[&Rule]) -> Applied {
        apply_mocked::<UserPool>(&stack(STACK), &LiveBuilder::new().build(), POOL, rules).await
    }

    #[tokio::test]
    async fn a_create_sends_the_name_the_password_policy_and_the_stack_tags() {
        let (create, list) = (create(), listed(&[NEW]));
        let applied = apply_from_nothing(&[&create, &list]).await;
        assert_eq!(applied.id(), NEW);
        // Alone with its name: nothing is described or deleted.
        assert_eq!((create.num_calls(), list.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_pool_another_apply_created_first_is_kept_and_this_applys_own_deleted() {
        let describe = mock!(Cognito::describe_user_pool).then_compute_output(|req| {
            let id = req.user_pool_id().unwrap();
            let created = if id == OLDER {
                1_700_000_000
            } else {
                1_700_000_100
            };
            DescribeUserPoolOutput::builder()
                .user_pool(described(id, created))
                .build()
        });
        let delete = mock!(Cognito::delete_user_pool)
            .match_requests(|req| req.user_pool_id() == Some(NEW))
            .then_output(|| DeleteUserPoolOutput::builder().build());
        let (create, list) = (create(), listed(&[OLDER, NEW]));
        let applied = apply_from_nothing(&[&create, &list, &describe, &delete]).await;
        assert_eq!(applied.id(), OLDER);
        assert!(applied.said(
            "cognito_user_pool.Pool: another apply created the same pool at the same time; keeping \
             the older one (us-west-2_Older) and deleting the one this apply created (us-west-2_New)"
        ));
        assert_eq!(delete.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_changed_password_policy_is_one_update_that_keeps_what_the_stack_does_not_manage() {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<UserPool>(|pool| {
                let pool = found(pool);
                pool.password_policy.minimum_length = 8;
                pool.raw = UserPoolType::builder()
                    .mfa_configuration(UserPoolMfaType::Optional)
                    .build();
            })
            .build();
        let update = mock!(Cognito::update_user_pool)
            .match_requests(|req| {
                let policy = req.policies().and_then(|p| p.password_policy());
                req.user_pool_id() == Some(POOL_ID)
                    && policy.and_then(|p| p.minimum_length()) == Some(10)
                    && req.mfa_configuration() == Some(&UserPoolMfaType::Optional)
            })
            .then_output(|| UpdateUserPoolOutput::builder().build());
        let applied = apply_mocked::<UserPool>(&stack, &live, POOL, &[&update]).await;
        assert_eq!(applied.id(), POOL_ID);
        assert_eq!(update.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_create_names_the_pool_the_operation_and_aws_message() {
        let message = "The user pool limit for this account has been reached.";
        let create = mock!(Cognito::create_user_pool)
            .then_error(move || aws_error("LimitExceededException", message));
        let applied = apply_from_nothing(&[&create]).await;
        assert_failed(
            &applied,
            POOL,
            "CreateUserPool",
            "LimitExceededException",
            message,
        );
    }
}
