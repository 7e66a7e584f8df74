//! Plan tests for this kind, against in-memory live state (no AWS, no process).
//!
//! Reading a user verifies the declared password by signing in with it; what that found is a
//! [`PasswordCheck`], and the plan follows from it. The password itself is never shown.

use serde_json::json;

use super::*;
use crate::engine::Plan;
use crate::resources::testing::*;

const ALICE: &str = "cognito_user.alice";

/// A pool, its client and a user, for the snapshots.
const A_POOL_WITH_A_USER: &str = r#"
[stack]
name = "demo"

[cognito.user_pool]
name = "Pool"

[cognito.client]
name = "Client"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[cognito.users]]
username = "alice"
password = { env = "ALICE_PASSWORD" }
"#;

/// The converged stack, with what reading alice found.
fn alice_found(stack: &Stack, user: Option<LiveUser>) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<User>(|users| {
            users.insert("alice".into(), user);
        })
        .build();
    plan_of(stack, &live)
}

fn confirmed(password: PasswordCheck) -> Option<LiveUser> {
    Some(LiveUser {
        status: "CONFIRMED".into(),
        enabled: true,
        password,
    })
}

#[test]
fn from_nothing_the_user_is_created_with_its_password_shown_only_as_sensitive() {
    let plan = plan_of(&stack(STACK), &LiveBuilder::new().build());
    let alice = resource(&plan, ALICE);
    assert_eq!(alice.action, Action::Create);
    assert_eq!(alice.reason, "does not exist");
    assert_eq!(alice.id, None);
    assert_eq!(fields(alice), ["username", "password"]);
    assert_eq!(
        change(alice, "username").after,
        Shown::Value(json!("alice"))
    );
    assert_eq!(change(alice, "password").before, Shown::Absent);
    assert_eq!(change(alice, "password").after, Shown::Sensitive);
    assert_eq!(
        alice.depends_on,
        ["cognito_user_pool.Pool", "cognito_user_pool_client.Client"]
    );
    assert!(text(&plan).contains("+ password = (sensitive)"));
}

#[test]
fn a_user_whose_declared_password_signs_in_plans_nothing() {
    let plan = alice_found(&stack(STACK), confirmed(PasswordCheck::Matches));
    let alice = resource(&plan, ALICE);
    assert_eq!(alice.action, Action::NoOp);
    assert_eq!(alice.reason, "the declared password authenticates");
    assert_eq!(alice.id.as_deref(), Some("alice"));
    assert!(alice.changes.is_empty());
    assert!(!plan.has_changes());
}

#[test]
fn a_password_that_must_be_set_is_an_update_that_says_why_and_never_shows_a_value() {
    let plan = alice_found(
        &stack(STACK),
        confirmed(PasswordCheck::MustSet(
            "the declared password does not authenticate".into(),
        )),
    );
    let alice = resource(&plan, ALICE);
    assert_eq!(alice.action, Action::Update);
    assert_eq!(alice.reason, "the declared password does not authenticate");
    assert_eq!(alice.id.as_deref(), Some("alice"));
    assert_eq!(fields(alice), ["password"]);
    assert_eq!(change(alice, "password").before, Shown::Sensitive);
    assert_eq!(change(alice, "password").after, Shown::Sensitive);
    assert!(
        text(&plan).contains("~ password: (sensitive) -> (sensitive)"),
        "{}",
        text(&plan)
    );
    // `text` and `json` also check that the password appears nowhere.
    assert!(json(&plan).contains("\"after\": \"(sensitive)\""));
}

#[test]
fn a_user_that_cognito_forces_to_change_its_password_gets_the_declared_one() {
    let plan = alice_found(
        &stack(STACK),
        Some(LiveUser {
            status: "FORCE_CHANGE_PASSWORD".into(),
            enabled: true,
            password: PasswordCheck::MustSet("the user's status is FORCE_CHANGE_PASSWORD".into()),
        }),
    );
    let alice = resource(&plan, ALICE);
    assert_eq!(alice.action, Action::Update);
    assert_eq!(alice.reason, "the user's status is FORCE_CHANGE_PASSWORD");
}

#[test]
fn a_password_that_cannot_be_verified_is_left_alone_with_a_note_saying_why() {
    let why = "the user is disabled, so the password cannot be verified; it is not changed";
    let plan = alice_found(
        &stack(STACK),
        confirmed(PasswordCheck::Unmanaged(why.into())),
    );
    let alice = resource(&plan, ALICE);
    assert_eq!(alice.action, Action::NoOp);
    assert!(alice.changes.is_empty());
    assert_eq!(alice.notes, [format!("password: {why}")]);
    assert!(!plan.has_changes());
    // A no-op with a note is still shown, so the user learns the password was not checked.
    assert!(text(&plan).contains(&format!("      # note: password: {why}")));
}

#[test]
fn an_existing_user_whose_password_variable_is_unset_is_not_changed() {
    let stack = stack_without(STACK, &["ALICE_PASSWORD"]);
    assert!(stack.all::<User>().next().unwrap().password.is_none());
    let why = "$ALICE_PASSWORD is unset, so the password is not checked or changed";
    let plan = alice_found(&stack, confirmed(PasswordCheck::Unmanaged(why.into())));
    let alice = resource(&plan, ALICE);
    assert_eq!(alice.action, Action::NoOp);
    assert_eq!(alice.notes, [format!("password: {why}")]);
    assert!(plan.blockers.is_empty());
}

#[test]
fn a_missing_user_whose_password_variable_is_unset_cannot_be_created() {
    let plan = plan_of(
        &stack_without(STACK, &["ALICE_PASSWORD"]),
        &LiveBuilder::new().build(),
    );
    assert_eq!(blockers(&plan), [(ALICE, Some("password"))]);
    assert_eq!(
        plan.blockers[0].message,
        "the user does not exist and $ALICE_PASSWORD is unset; creating a user needs its password"
    );
    assert!(plan.resource(ALICE).is_none());
    // The rest of the stack is planned as usual.
    assert_eq!(
        resource(&plan, "cognito_user_pool.Pool").action,
        Action::Create
    );
}

#[test]
fn users_of_a_foreign_pool_are_not_planned() {
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
    assert!(plan.resource(ALICE).is_none());
}

#[test]
fn every_declared_user_is_planned_on_its_own() {
    let two_users = STACK.replace(
        "[iam.role]",
        "[[cognito.users]]\nusername = \"bob\"\npassword = { env = \"BOB_PASSWORD\" }\n\n[iam.role]",
    );
    let stack = stack(&two_users);
    let live = LiveBuilder::converged(&stack)
        .edit::<User>(|users| {
            users.insert("bob".into(), None);
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(resource(&plan, ALICE).action, Action::NoOp);
    assert_eq!(resource(&plan, "cognito_user.bob").action, Action::Create);
}

/// What the client tells the users' kind: whether the declared client allows password sign-in.
fn desired_client_verifies(stack: &crate::stack::Stack) -> bool {
    Client::reference(stack, &crate::engine::Lookup::Missing)
        .is_some_and(|c| c.declared_password_flow)
}

#[test]
fn passwords_are_verifiable_once_the_declared_client_allows_password_sign_in() {
    assert!(desired_client_verifies(&stack(STACK)));
    let srp_only = STACK.replace("\"ALLOW_USER_PASSWORD_AUTH\"", "\"ALLOW_USER_SRP_AUTH\"");
    assert!(!desired_client_verifies(&stack(&srp_only)));
    let admin = STACK.replace(
        "\"ALLOW_USER_PASSWORD_AUTH\"",
        "\"ALLOW_ADMIN_USER_PASSWORD_AUTH\"",
    );
    assert!(desired_client_verifies(&stack(&admin)));
}

#[test]
fn snapshot_of_the_plan_that_creates_a_user() {
    let plan = plan_of(&stack(A_POOL_WITH_A_USER), &LiveBuilder::new().build());
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_password_that_no_longer_signs_in() {
    let plan = alice_found(
        &stack(A_POOL_WITH_A_USER),
        confirmed(PasswordCheck::MustSet(
            "the declared password does not authenticate".into(),
        )),
    );
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

#[test]
fn a_disabled_user_is_drift_enabled_with_its_declared_password() {
    let disabled = Some(LiveUser {
        status: "CONFIRMED".into(),
        enabled: false,
        password: PasswordCheck::Unmanaged("the user is disabled".into()),
    });
    let plan = alice_found(&stack(STACK), disabled.clone());
    let alice = resource(&plan, ALICE);
    assert_eq!(alice.action, Action::Update);
    assert_eq!(fields(alice), ["enabled", "password"]);
    assert_eq!(change(alice, "enabled").before, Shown::Value(json!(false)));
    assert_eq!(change(alice, "enabled").after, Shown::Value(json!(true)));

    // Declared disabled: a disabled user is as declared, an enabled one is disabled.
    let declared_off = stack(&STACK.replace(
        "password = { env = \"ALICE_PASSWORD\" }",
        "password = { env = \"ALICE_PASSWORD\" }\nenabled = false",
    ));
    assert!(!declared_off.all::<User>().next().unwrap().enabled);
    let plan = alice_found(&declared_off, disabled);
    assert_eq!(resource(&plan, ALICE).action, Action::NoOp);
    let plan = alice_found(&declared_off, confirmed(PasswordCheck::Matches));
    let alice = resource(&plan, ALICE);
    assert_eq!(fields(alice), ["enabled"]);
    assert_eq!(change(alice, "enabled").after, Shown::Value(json!(false)));
}

/// Apply against mocked Cognito: the user is created without an invitation, then its declared
/// password set as permanent.
mod apply {
    use aws_sdk_cognitoidentityprovider::Client as Cognito;
    use aws_sdk_cognitoidentityprovider::operation::admin_create_user::{
        AdminCreateUserError, AdminCreateUserInput, AdminCreateUserOutput,
    };
    use aws_sdk_cognitoidentityprovider::operation::admin_set_user_password::AdminSetUserPasswordOutput;

    use super::*;
    use crate::resources::mocked::*;

    /// `AdminSetUserPassword` of alice's declared password, permanent.
    fn set_password() -> Rule {
        mock!(Cognito::admin_set_user_password)
            .match_requests(|req| {
                req.user_pool_id() == Some(POOL_ID)
                    && req.username() == Some("alice")
                    && req.password() == Some(PASSWORD)
                    && req.permanent() == Some(true)
            })
            .then_output(|| AdminSetUserPasswordOutput::builder().build())
    }

    /// Apply alice with what reading her found, the pool and the client existing.
    async fn apply_alice(user: Option<LiveUser>, rules: &[&Rule]) -> Applied {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<User>(|users| {
                users.insert("alice".into(), user);
            })
            .build();
        apply_mocked::<User>(&stack, &live, ALICE, rules).await
    }

    /// `AdminCreateUser` of alice in the stack's pool, without an invitation message.
    fn create_user()
    -> RuleBuilder<AdminCreateUserInput, AdminCreateUserOutput, AdminCreateUserError> {
        mock!(Cognito::admin_create_user).match_requests(|req| {
            req.user_pool_id() == Some(POOL_ID)
                && req.username() == Some("alice")
                && req.message_action().map(|a| a.as_str()) == Some("SUPPRESS")
        })
    }

    #[tokio::test]
    async fn a_create_makes_the_user_in_the_stacks_pool_without_a_message_then_sets_its_password() {
        let create = create_user().then_output(|| AdminCreateUserOutput::builder().build());
        let password = set_password();
        let applied = apply_alice(None, &[&create, &password]).await;
        assert_eq!(applied.id(), "alice");
        assert_eq!((create.num_calls(), password.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_password_that_no_longer_signs_in_is_set_again_with_one_call() {
        let must_set = PasswordCheck::MustSet("the declared password does not authenticate".into());
        let password = set_password();
        let applied = apply_alice(confirmed(must_set), &[&password]).await;
        assert_eq!(applied.id(), "alice");
        assert_eq!(password.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_user_created_meanwhile_gets_the_declared_password() {
        let create = create_user()
            .then_error(|| aws_error("UsernameExistsException", "User account already exists"));
        let password = set_password();
        let applied = apply_alice(None, &[&create, &password]).await;
        assert_eq!(applied.id(), "alice");
        assert!(
            applied.said("cognito_user.alice: already exists, though the plan did not find it")
        );
        assert_eq!(password.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_password_names_the_user_the_operation_and_aws_message() {
        let message = "Password did not conform with policy: Password must have symbol characters";
        let password = mock!(Cognito::admin_set_user_password)
            .then_error(move || aws_error("InvalidPasswordException", message));
        let must_set = PasswordCheck::MustSet("the user's status is FORCE_CHANGE_PASSWORD".into());
        let applied = apply_alice(confirmed(must_set), &[&password]).await;
        assert_failed(
            &applied,
            ALICE,
            "AdminSetUserPassword",
            "InvalidPasswordException",
            message,
        );
    }
}
