//! `cognito_user`: found with `AdminGetUser`. The password is write-only: it is verified by
//! authenticating with it, and set only when that fails.

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType, MessageActionType};

use super::cognito_client::{self, LiveClient};
use super::cognito_pool::{self, default_reason};
use crate::apply::ApplyContext;
use crate::aws::{Aws, AwsError, not_found_as_none};
use crate::plan::{Action, Changes, Kind, PlanContext, Planner, ResourcePlan, Shown};
use crate::stack::UserSpec;

#[derive(Debug, Clone)]
pub struct LiveUser {
    pub status: String,
    pub password: PasswordCheck,
}

/// What authenticating with the declared password told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordCheck {
    Matches,
    /// It must be set: the reason says why (never the value).
    MustSet(String),
    /// Not managed this run; the reason says why. Nothing is changed.
    Unmanaged(String),
}

pub fn address(spec: &UserSpec) -> String {
    format!("cognito_user.{}", spec.username)
}

/// The user's status and whether it is enabled; `None` when there is no such user.
pub async fn read(
    aws: &Aws,
    pool_id: &str,
    spec: &UserSpec,
) -> Result<Option<(String, bool)>, AwsError> {
    let result = aws
        .cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(&spec.username)
        .send()
        .await
        .map_err(|e| AwsError::new(&address(spec), "AdminGetUser", e));
    Ok(
        not_found_as_none(result, "UserNotFoundException")?.map(|u| {
            let status = u.user_status().map(|s| s.as_str().to_owned());
            (status.unwrap_or_default(), u.enabled())
        }),
    )
}

/// Verify the declared password by authenticating with it through the stack's client.
/// `desired_client_verifies`: the declared client allows a password flow (so once it is
/// applied, a later run can verify).
pub async fn check_password(
    aws: &Aws,
    pool_id: &str,
    client: Option<&LiveClient>,
    desired_client_verifies: bool,
    spec: &UserSpec,
    (status, enabled): &(String, bool),
) -> Result<PasswordCheck, AwsError> {
    let Some(password) = &spec.password else {
        return Ok(PasswordCheck::Unmanaged(format!(
            "${} is unset, so the password is not checked or changed",
            spec.password_env
        )));
    };
    if !enabled {
        return Ok(unverifiable("the user is disabled"));
    }
    if status == "FORCE_CHANGE_PASSWORD" || status == "RESET_REQUIRED" {
        return Ok(PasswordCheck::MustSet(format!(
            "the user's status is {status}"
        )));
    }
    let client = match client {
        Some(client) if client.has_secret => {
            return Ok(unverifiable("the app client has a secret"));
        }
        Some(client)
            if client.allows("ALLOW_USER_PASSWORD_AUTH")
                || client.allows("ALLOW_ADMIN_USER_PASSWORD_AUTH") =>
        {
            client
        }
        // The declared client will allow a password flow once applied; until then the
        // password cannot be verified, so set it: the next run verifies it and changes nothing.
        _ if desired_client_verifies => {
            return Ok(PasswordCheck::MustSet(
                "it cannot be verified until the app client allows password sign-in".into(),
            ));
        }
        _ => {
            return Ok(unverifiable(
                "no app client allows ALLOW_USER_PASSWORD_AUTH or ALLOW_ADMIN_USER_PASSWORD_AUTH",
            ));
        }
    };
    let addr = address(spec);
    let result = if client.allows("ALLOW_USER_PASSWORD_AUTH") {
        aws.cognito
            .initiate_auth()
            .client_id(&client.id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &spec.username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map(|out| out.challenge_name().cloned())
            .map_err(|e| AwsError::new(&addr, "InitiateAuth", e))
    } else {
        aws.cognito
            .admin_initiate_auth()
            .user_pool_id(pool_id)
            .client_id(&client.id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", &spec.username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map(|out| out.challenge_name().cloned())
            .map_err(|e| AwsError::new(&addr, "AdminInitiateAuth", e))
    };
    match result {
        Ok(Some(ChallengeNameType::NewPasswordRequired)) => Ok(PasswordCheck::MustSet(
            "Cognito requires a new password".into(),
        )),
        // Tokens, or a further challenge (MFA): either way the password itself was accepted.
        Ok(_) => Ok(PasswordCheck::Matches),
        Err(e)
            if e.code_is("NotAuthorizedException")
                && e.message.contains("Incorrect username or password") =>
        {
            Ok(PasswordCheck::MustSet(
                "the declared password does not authenticate".into(),
            ))
        }
        // Locked out after failed attempts, and the like: setting the password would not help.
        Err(e) if e.code_is("NotAuthorizedException") => Ok(unverifiable(&format!(
            "Cognito refused the sign-in: {}",
            e.message
        ))),
        Err(e)
            if e.code_is("PasswordResetRequiredException")
                || e.code_is("UserNotConfirmedException") =>
        {
            Ok(PasswordCheck::MustSet(format!(
                "Cognito requires it to be set ({})",
                e.message
            )))
        }
        Err(e) => Err(e),
    }
}

fn unverifiable(why: &str) -> PasswordCheck {
    PasswordCheck::Unmanaged(format!(
        "{why}, so the password cannot be verified; it is not changed"
    ))
}

pub fn plan(cx: &PlanContext, planner: &mut Planner) {
    let Some(pool_spec) = &cx.stack.user_pool else {
        return;
    };
    let pool_addr = cognito_pool::address(pool_spec);
    if planner.is_blocked(&pool_addr) {
        return;
    }
    let mut depends_on = vec![pool_addr];
    if let Some(client) = &cx.stack.client {
        depends_on.push(cognito_client::address(client));
    }
    for spec in &cx.stack.users {
        let addr = address(spec);
        let live = cx.live.users.get(&spec.username).and_then(Option::as_ref);
        let mut changes = Changes::default();
        let mut notes = Vec::new();
        let (action, reason) = match live {
            None => {
                if spec.password.is_none() {
                    planner.block(
                        &addr,
                        Some("password"),
                        format!(
                            "the user does not exist and ${} is unset; creating a user needs its password",
                            spec.password_env
                        ),
                    );
                    continue;
                }
                changes.value("username", None, &spec.username);
                changes.push("password", Shown::Absent, Shown::Sensitive);
                (Action::Create, default_reason(Action::Create))
            }
            Some(user) => match &user.password {
                PasswordCheck::Matches => {
                    (Action::NoOp, "the declared password authenticates".into())
                }
                PasswordCheck::MustSet(why) => {
                    changes.push("password", Shown::Sensitive, Shown::Sensitive);
                    (Action::Update, why.clone())
                }
                PasswordCheck::Unmanaged(why) => {
                    notes.push(format!("password: {why}"));
                    (Action::NoOp, default_reason(Action::NoOp))
                }
            },
        };
        planner.resources.push(ResourcePlan {
            address: addr,
            name: spec.username.clone(),
            kind: Kind::User(spec.username.clone()),
            action,
            id: live.map(|_| spec.username.clone()),
            reason,
            changes: changes.into_vec(),
            notes,
            depends_on: depends_on.clone(),
        });
    }
}

pub async fn apply(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    username: &str,
) -> Result<String, AwsError> {
    let spec = cx
        .stack
        .users
        .iter()
        .find(|u| u.username == username)
        .expect("planned users are declared");
    let pool_addr = cognito_pool::address(cx.stack.user_pool.as_ref().expect("users need a pool"));
    let pool_id = cx.id_of(&pool_addr);
    let password = spec
        .password
        .as_ref()
        .expect("plan refuses to touch a user without its password");
    if r.action == Action::Create {
        cx.aws
            .cognito
            .admin_create_user()
            .user_pool_id(&pool_id)
            .username(&spec.username)
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .map_err(|e| AwsError::new(&r.address, "AdminCreateUser", e))?;
    }
    cx.aws
        .cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username(&spec.username)
        .password(password.expose())
        .permanent(true)
        .send()
        .await
        .map_err(|e| AwsError::new(&r.address, "AdminSetUserPassword", e))?;
    Ok(spec.username.clone())
}
