//! Plan tests for this kind, against in-memory live state (no AWS, no process).

use serde_json::json;

use super::*;
use crate::engine::{Action, Plan};
use crate::resources::testing::*;
use crate::stack::Stack;

const CLIENT: &str = "cognito_user_pool_client.Client";

/// A pool and its client, for the snapshots.
const A_POOL_AND_ITS_CLIENT: &str = r#"
[stack]
name = "demo"

[cognito.user_pool]
name = "Pool"

[cognito.client]
name = "Client"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
"#;

/// The converged stack, with the live client changed by `drift`.
fn drifted(stack: &Stack, drift: impl FnOnce(&mut LiveClient)) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<Client>(|client| drift(found(client)))
        .build();
    plan_of(stack, &live)
}

#[test]
fn from_nothing_the_client_is_created_in_the_pool_created_before_it() {
    let plan = plan_of(&stack(STACK), &LiveBuilder::new().build());
    let client = resource(&plan, CLIENT);
    assert_eq!(client.action, Action::Create);
    assert_eq!(client.reason, "does not exist");
    assert_eq!(
        fields(client),
        ["explicit_auth_flows", "generate_secret", "user_pool_id"]
    );
    assert_eq!(
        change(client, "explicit_auth_flows").after,
        Shown::Value(json!([
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_PASSWORD_AUTH"
        ]))
    );
    assert_eq!(
        change(client, "generate_secret").after,
        Shown::Value(json!(false))
    );
    assert_eq!(change(client, "user_pool_id").after, Shown::KnownAfterApply);
    assert_eq!(client.depends_on, ["cognito_user_pool.Pool"]);
}

#[test]
fn a_client_added_to_an_existing_pool_names_the_pools_id() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .with::<Client>(Lookup::Missing)
        .build();
    let plan = plan_of(&stack, &live);
    let client = resource(&plan, CLIENT);
    assert_eq!(client.action, Action::Create);
    assert_eq!(
        change(client, "user_pool_id").after,
        Shown::Value(json!(POOL_ID))
    );
}

#[test]
fn a_converged_client_plans_nothing_whatever_order_its_flows_are_declared_in() {
    // The stack lists ALLOW_USER_PASSWORD_AUTH first; Cognito's set is read back sorted.
    let stack = stack(STACK);
    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    let client = resource(&plan, CLIENT);
    assert_eq!(client.action, Action::NoOp);
    assert_eq!(client.id.as_deref(), Some(CLIENT_ID));
    assert!(client.changes.is_empty(), "{:?}", client.changes);
}

#[test]
fn a_drifted_set_of_auth_flows_is_updated_in_place() {
    let plan = drifted(&stack(STACK), |c| {
        c.explicit_auth_flows = vec![
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
            "ALLOW_USER_SRP_AUTH".into(),
        ];
    });
    let client = resource(&plan, CLIENT);
    assert_eq!(client.action, Action::Update);
    assert_eq!(client.reason, "live settings differ from the stack");
    assert_eq!(client.id.as_deref(), Some(CLIENT_ID));
    assert_eq!(fields(client), ["explicit_auth_flows"]);
    assert_eq!(
        change(client, "explicit_auth_flows").before,
        Shown::Value(json!(["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]))
    );
    assert_eq!(
        change(client, "explicit_auth_flows").after,
        Shown::Value(json!([
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_PASSWORD_AUTH"
        ]))
    );
    assert_eq!(plan.changed().count(), 1, "only the client changes");
}

#[test]
fn a_client_secret_cannot_be_added_or_removed_in_place_so_a_difference_is_a_blocker() {
    let plan = drifted(&stack(STACK), |c| c.has_secret = true);
    assert_eq!(blockers(&plan), [(CLIENT, Some("generate_secret"))]);
    let message = &plan.blockers[0].message;
    assert!(
        message.starts_with("is true in AWS and false in the stack; Cognito cannot add or remove"),
        "{message}"
    );

    let wants_a_secret = stack(&STACK.replace(
        "explicit_auth_flows = [",
        "generate_secret = true\nexplicit_auth_flows = [",
    ));
    let live = LiveBuilder::converged(&stack(STACK)).build();
    let plan = plan_of(&wants_a_secret, &live);
    assert_eq!(blockers(&plan), [(CLIENT, Some("generate_secret"))]);
    assert!(
        plan.blockers[0]
            .message
            .starts_with("is false in AWS and true")
    );
}

#[test]
fn a_client_in_a_foreign_pool_is_not_planned_the_pools_blocker_says_it_all() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<UserPool>(|pool| {
            let pool = found(pool);
            pool.owned = false;
            pool.tags.clear();
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [("cognito_user_pool.Pool", None)]);
    assert!(plan.resource(CLIENT).is_none());
}

#[test]
fn two_same_named_clients_in_the_pool_are_never_guessed_between() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .with::<Client>(Lookup::Many {
            ids: vec!["c1".into(), "c2".into()],
            owned: true,
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(CLIENT, None)]);
    assert_eq!(
        plan.blockers[0].message,
        "2 app clients named \"Client\" exist in the pool: c1, c2. \
         Keep one and delete the others; infra never guesses"
    );
    // Users sign in through the client, and the runtime trusts it: neither is planned.
    assert!(plan.resource("cognito_user.alice").is_none());
    assert!(plan.resource("agentcore_runtime.demo_mcp").is_none());
}

fn duplicate(id: &str, allowed_by_runtime: bool) -> DuplicateClient {
    DuplicateClient {
        id: id.into(),
        created: None,
        allowed_by_runtime,
    }
}

#[test]
fn a_duplicate_client_the_runtime_does_not_allow_is_deleted() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<Client>(|c| found(c).duplicates = vec![duplicate("c2", false)])
        .build();
    let plan = plan_of(&stack, &live);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(resource(&plan, CLIENT).action, Action::NoOp);
    let extra = resource(&plan, "cognito_user_pool_client.Client[c2]");
    assert_eq!(extra.action, Action::Delete);
    assert!(
        extra
            .reason
            .contains(&format!("the stack keeps {CLIENT_ID}")),
        "{}",
        extra.reason
    );
    assert_eq!(plan.changed().count(), 1);
}

#[test]
fn a_duplicate_client_the_runtime_allows_too_is_explained_not_deleted() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<Client>(|c| found(c).duplicates = vec![duplicate("c2", true)])
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(CLIENT, None)]);
    let message = &plan.blockers[0].message;
    assert!(
        message.contains(&format!("allows 2 of them: {CLIENT_ID}, c2"))
            && message.contains("aws cognito-idp delete-user-pool-client"),
        "{message}"
    );
}

#[test]
fn of_several_same_named_clients_the_runtimes_is_kept_else_the_oldest() {
    let stack = stack(STACK);
    let at = |id: &str, secs: i64| LiveClient {
        id: id.into(),
        created: Some(DateTime::from_secs(secs)),
        ..client(&stack).unwrap()
    };
    let clients = || vec![at("new", 2), at("old", 1), at("same-date", 2)];
    let kept = choose(clients(), &[]);
    let kept = kept.found().unwrap();
    assert_eq!(kept.id, "old");
    let others: Vec<(&str, bool)> = kept
        .duplicates
        .iter()
        .map(|d| (d.id.as_str(), d.allowed_by_runtime))
        .collect();
    assert_eq!(others, [("new", false), ("same-date", false)]);
    let kept = choose(clients(), &["same-date".to_owned()]);
    assert_eq!(kept.found().unwrap().id, "same-date");
}

#[test]
fn snapshot_of_the_plan_that_creates_a_client() {
    let plan = plan_of(&stack(A_POOL_AND_ITS_CLIENT), &LiveBuilder::new().build());
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_drifted_client() {
    let plan = drifted(&stack(A_POOL_AND_ITS_CLIENT), |c| {
        c.explicit_auth_flows = vec![
            "ALLOW_CUSTOM_AUTH".into(),
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
        ];
    });
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

/// Apply against mocked Cognito: a create settles a race with another apply; an update sends
/// the whole client back.
mod apply {
    use aws_sdk_cognitoidentityprovider::Client as Cognito;
    use aws_sdk_cognitoidentityprovider::operation::create_user_pool_client::CreateUserPoolClientOutput;
    use aws_sdk_cognitoidentityprovider::operation::delete_user_pool_client::DeleteUserPoolClientOutput;
    use aws_sdk_cognitoidentityprovider::operation::describe_user_pool_client::DescribeUserPoolClientOutput;
    use aws_sdk_cognitoidentityprovider::operation::list_user_pool_clients::ListUserPoolClientsOutput;
    use aws_sdk_cognitoidentityprovider::operation::update_user_pool_client::UpdateUserPoolClientOutput;
    use aws_sdk_cognitoidentityprovider::primitives::DateTime;
    use aws_sdk_cognitoidentityprovider::types::{
        ExplicitAuthFlowsType, UserPoolClientDescription, UserPoolClientType,
    };

    use super::*;
    use crate::engine::Lookup;
    use crate::resources::mocked::*;

    const NEW: &str = "clientnew0123456";
    const OLDER: &str = "clientolder01234";

    /// The declared flows, in the stack's order.
    fn declared_flows() -> Vec<ExplicitAuthFlowsType> {
        vec![
            ExplicitAuthFlowsType::AllowUserPasswordAuth,
            ExplicitAuthFlowsType::AllowRefreshTokenAuth,
        ]
    }

    /// The client `id` named "Client" in the stack's pool, created at `secs`.
    fn described(id: &str, secs: i64) -> UserPoolClientType {
        UserPoolClientType::builder()
            .user_pool_id(POOL_ID)
            .client_id(id)
            .client_name("Client")
            .creation_date(DateTime::from_secs(secs))
            .set_explicit_auth_flows(Some(declared_flows()))
            .build()
    }

    /// `ListUserPoolClients` of the stack's pool answering with these clients named "Client".
    fn listed(ids: &'static [&'static str]) -> Rule {
        mock!(Cognito::list_user_pool_clients)
            .match_requests(|req| req.user_pool_id() == Some(POOL_ID))
            .then_output(move || {
                let each = ids.iter().map(|id| {
                    let client = UserPoolClientDescription::builder().user_pool_id(POOL_ID);
                    client.client_id(*id).client_name("Client").build()
                });
                ListUserPoolClientsOutput::builder()
                    .set_user_pool_clients(Some(each.collect()))
                    .build()
            })
    }

    fn create() -> Rule {
        mock!(Cognito::create_user_pool_client)
            .match_requests(|req| {
                req.user_pool_id() == Some(POOL_ID)
                    && req.client_name() == Some("Client")
                    && req.explicit_auth_flows() == declared_flows()
                    && req.generate_secret() == Some(false)
            })
            .then_output(|| {
                CreateUserPoolClientOutput::builder()
                    .user_pool_client(described(NEW, 1_700_000_100))
                    .build()
            })
    }

    /// Apply the client into the existing pool, against `rules`.
    async fn apply_into_the_pool(rules: &[&Rule]) -> Applied {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .with::<Client>(Lookup::Missing)
            .build();
        apply_mocked::<Client>(&stack, &live, CLIENT, rules).await
    }

    #[tokio::test]
    async fn a_create_makes_the_client_in_the_stacks_pool_with_the_declared_flows() {
        let (create, list) = (create(), listed(&[NEW]));
        let applied = apply_into_the_pool(&[&create, &list]).await;
        assert_eq!(applied.id(), NEW);
        assert_eq!((create.num_calls(), list.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_client_another_apply_created_first_is_kept_and_this_applys_own_deleted() {
        let describe = mock!(Cognito::describe_user_pool_client).then_compute_output(|req| {
            let id = req.client_id().unwrap();
            let created = if id == OLDER {
                1_700_000_000
            } else {
                1_700_000_100
            };
            DescribeUserPoolClientOutput::builder()
                .user_pool_client(described(id, created))
                .build()
        });
        let delete = mock!(Cognito::delete_user_pool_client)
            .match_requests(|req| {
                req.user_pool_id() == Some(POOL_ID) && req.client_id() == Some(NEW)
            })
            .then_output(|| DeleteUserPoolClientOutput::builder().build());
        let (create, list) = (create(), listed(&[OLDER, NEW]));
        let applied = apply_into_the_pool(&[&create, &list, &describe, &delete]).await;
        assert_eq!(applied.id(), OLDER);
        assert!(applied.said(&format!(
            "{CLIENT}: another apply created the same client at the same time; keeping the older \
             one ({OLDER}) and deleting the one this apply created ({NEW})"
        )));
        assert_eq!(delete.num_calls(), 1);
    }

    #[tokio::test]
    async fn changed_flows_are_one_update_that_keeps_what_the_stack_does_not_manage() {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<Client>(|client| {
                let client = found(client);
                client.explicit_auth_flows = vec!["ALLOW_REFRESH_TOKEN_AUTH".into()];
                client.raw = UserPoolClientType::builder()
                    .refresh_token_validity(7)
                    .build();
            })
            .build();
        let update = mock!(Cognito::update_user_pool_client)
            .match_requests(|req| {
                req.user_pool_id() == Some(POOL_ID)
                    && req.client_id() == Some(CLIENT_ID)
                    && req.client_name() == Some("Client")
                    && req.explicit_auth_flows() == declared_flows()
                    && req.refresh_token_validity() == Some(7)
            })
            .then_output(|| UpdateUserPoolClientOutput::builder().build());
        let applied = apply_mocked::<Client>(&stack, &live, CLIENT, &[&update]).await;
        assert_eq!(applied.id(), CLIENT_ID);
        assert_eq!(update.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_create_names_the_client_the_operation_and_aws_message() {
        let message =
            "1 validation error detected: Value at 'clientName' failed to satisfy constraint";
        let create = mock!(Cognito::create_user_pool_client)
            .then_error(move || aws_error("InvalidParameterException", message));
        let applied = apply_into_the_pool(&[&create]).await;
        assert_failed(
            &applied,
            CLIENT,
            "CreateUserPoolClient",
            "InvalidParameterException",
            message,
        );
    }
}
