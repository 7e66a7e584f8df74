//! `cognito_user`: found with `AdminGetUser`. The password is write-only: it is verified by
//! authenticating with it, and set only when that fails.

mod destroy;
pub mod section;

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType, MessageActionType};

use std::collections::BTreeMap;

use super::cognito_client::{Client, SignInClient};
use super::cognito_pool::UserPool;
use crate::aws::Aws;
use crate::engine::{
    Action, ApplyContext, Changes, Error, Kind, PlanContext, Planned, Planner, ReadContext,
    ResourcePlan, Shown, WriteOnly, address, not_found_as_none,
};
use crate::stack::Stack;
use section::UserSpec;

#[derive(Debug, Clone)]
pub struct LiveUser {
    pub status: String,
    pub enabled: bool,
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

/// The kind.
pub struct User;

/// What apply needs.
struct Step {
    spec: UserSpec,
}

impl Kind for User {
    /// Users live in the stack's pool: read in it, written only while it is tagged for the
    /// stack. (Signing in to check a password is the client's: see its permissions.)
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        if stack.all::<User>().next().is_none() {
            return Vec::new();
        }
        let pools = Grant::arn(vars, "cognito-idp", "userpool/*");
        vec![
            Grant::new(
                Access::Read,
                "Read",
                &["cognito-idp:AdminGetUser"],
                [&pools],
            ),
            Grant::new(
                Access::Write,
                "Write",
                &[
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminSetUserPassword",
                    "cognito-idp:AdminEnableUser",
                    "cognito-idp:AdminDisableUser",
                ],
                [&pools],
            )
            .on_stack_tagged(&stack.name),
        ]
    }

    const TYPE: &'static str = "cognito_user";
    const DEPENDS_ON: &'static [&'static str] = &[UserPool::TYPE, Client::TYPE];
    /// By username; `None` when the user does not exist.
    type Live = BTreeMap<String, Option<LiveUser>>;
    type Ref = ();

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        use crate::resources::testing;
        testing::users(stack)
    }

    fn plan_destroy(cx: &PlanContext<'_>, o: &crate::engine::Destroying, planner: &mut Planner) {
        destroy::plan_destroy(cx, o, planner);
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        destroy::delete(cx, r).await
    }

    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        destroy::destroy_permissions(stack, vars)
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Self::Live, Error> {
        let users = cx.stack.all::<User>();
        // A pool that is not the stack's (and not being adopted) is not looked into.
        let Some(pool_id) = cx.id_of::<UserPool>().await? else {
            return Ok(users.clone().map(|u| (u.username.clone(), None)).collect());
        };
        let statuses = cx
            .aws
            .all(users.clone().map(|u| status(cx.aws, &pool_id, u)));
        let (statuses, client) = cx.aws.both(statuses, cx.reference::<Client>()).await?;
        let checks = cx
            .aws
            .all(users.clone().zip(&statuses).map(|(spec, status)| {
                let (pool_id, client) = (&pool_id, &client);
                async move {
                    let Some(status) = status else {
                        return Ok(None);
                    };
                    let password = match cx.write_only {
                        WriteOnly::Verify => {
                            let verifier = Verifier {
                                aws: cx.aws,
                                pool_id,
                                client: client.as_ref().and_then(|c| c.live.as_ref()),
                                desired_client_verifies: client
                                    .as_ref()
                                    .is_some_and(|c| c.declared_password_flow),
                            };
                            verifier.check(spec, status).await?
                        }
                        WriteOnly::Skip => PasswordCheck::Unmanaged(NOT_CHECKED.into()),
                    };
                    Ok::<_, Error>(Some(LiveUser {
                        status: status.0.clone(),
                        enabled: status.1,
                        password,
                    }))
                }
            }))
            .await?;
        Ok(users
            .clone()
            .map(|u| u.username.clone())
            .zip(checks)
            .collect())
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        for spec in cx.stack.all::<User>() {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        apply(cx, r, step).await
    }

    fn declared_names(stack: &Stack) -> Vec<String> {
        stack.all::<User>().map(|u| u.username.clone()).collect()
    }
}

/// The user's status and whether it is enabled; `None` when there is no such user.
async fn status(
    aws: &Aws,
    pool_id: &str,
    spec: &UserSpec,
) -> Result<Option<(String, bool)>, Error> {
    let result = aws
        .cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(&spec.username)
        .send()
        .await
        .map_err(|e| Error::aws(&address(User::TYPE, &spec.username), "AdminGetUser", e));
    Ok(
        not_found_as_none(result, "UserNotFoundException")?.map(|u| {
            let status = u.user_status().map(|s| s.as_str().to_owned());
            (status.unwrap_or_default(), u.enabled())
        }),
    )
}

/// What a plan says of a password it did not check (`--skip-password-check`).
const NOT_CHECKED: &str = "not checked (--skip-password-check)";

/// Verifies declared passwords by authenticating through the stack's client.
struct Verifier<'a> {
    aws: &'a Aws,
    pool_id: &'a str,
    client: Option<&'a SignInClient>,
    /// The declared client allows a password flow (so once it is applied, a later run can
    /// verify).
    desired_client_verifies: bool,
}

impl Verifier<'_> {
    /// Verify the declared password by authenticating with it through the stack's client.
    async fn check(
        &self,
        spec: &UserSpec,
        (status, enabled): &(String, bool),
    ) -> Result<PasswordCheck, Error> {
        let (aws, pool_id, desired_client_verifies) =
            (self.aws, self.pool_id, self.desired_client_verifies);
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
        let client = match self.client {
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
        let addr = address(User::TYPE, &spec.username);
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
                .map_err(|e| Error::aws(&addr, "InitiateAuth", e))
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
                .map_err(|e| Error::aws(&addr, "AdminInitiateAuth", e))
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
}

fn unverifiable(why: &str) -> PasswordCheck {
    PasswordCheck::Unmanaged(format!(
        "{why}, so the password cannot be verified; it is not changed"
    ))
}

fn plan(cx: &PlanContext, spec: &UserSpec, planner: &mut Planner) {
    let addr = planner.address(&spec.username);
    let live = cx
        .live
        .get::<User>()
        .get(&spec.username)
        .and_then(Option::as_ref);
    let mut changes = Changes::default();
    let mut notes = Vec::new();
    let (action, reason) = match live {
        // --skip-password-check: a plan for review, made without the password; applying it
        // (`apply FILE`, with the password in the environment) creates the user.
        None if spec.password.is_none() && cx.live.write_only == WriteOnly::Skip => {
            changes.value("username", None, &spec.username);
            changes.push("password", Shown::Absent, Shown::Sensitive);
            notes.push(format!(
                "password: not checked (--skip-password-check); apply needs ${}",
                spec.password_env
            ));
            (Action::Create, Action::Create.default_reason().to_owned())
        }
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
                return;
            }
            changes.value("username", None, &spec.username);
            changes.push("password", Shown::Absent, Shown::Sensitive);
            (Action::Create, Action::Create.default_reason().to_owned())
        }
        // Enabling a user whose password could not be checked while it was disabled: set the
        // declared one with it, so the user can sign in with it afterwards.
        Some(user) if !user.enabled && spec.enabled && spec.password.is_some() => {
            changes.value("enabled", Some(false), true);
            changes.push("password", Shown::Sensitive, Shown::Sensitive);
            (
                Action::Update,
                "the user is disabled; enabling it, with the declared password (it cannot be \
                 checked while the user is disabled)"
                    .into(),
            )
        }
        Some(user) if user.enabled != spec.enabled => {
            changes.value("enabled", Some(user.enabled), spec.enabled);
            if let PasswordCheck::Unmanaged(why) = &user.password {
                notes.push(format!("password: {why}"));
            }
            if let PasswordCheck::MustSet(_) = &user.password {
                changes.push("password", Shown::Sensitive, Shown::Sensitive);
            }
            (Action::Update, Action::Update.default_reason().to_owned())
        }
        Some(user) => match &user.password {
            PasswordCheck::Matches => (Action::NoOp, "the declared password authenticates".into()),
            PasswordCheck::MustSet(why) => {
                changes.push("password", Shown::Sensitive, Shown::Sensitive);
                (Action::Update, why.clone())
            }
            PasswordCheck::Unmanaged(why) => {
                notes.push(format!("password: {why}"));
                (Action::NoOp, Action::NoOp.default_reason().to_owned())
            }
        },
    };
    planner.add(
        Planned::new(&spec.username, changes, live.map(|_| spec.username.clone()))
            .with_action(action)
            .with_reason(reason)
            .with_notes(notes)
            .with_payload(Step { spec: spec.clone() }),
    );
}

async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan, step: &Step) -> Result<String, Error> {
    let spec = &step.spec;
    let pool_id = cx.id::<UserPool>()?;
    if r.action == Action::Create || r.changes("password") {
        set_password(cx, r, step, &pool_id).await?;
    }
    if r.changes("enabled") || (r.action == Action::Create && !spec.enabled) {
        let cognito = &cx.aws.cognito;
        if spec.enabled {
            cognito
                .admin_enable_user()
                .user_pool_id(&pool_id)
                .username(&spec.username)
                .send()
                .await
                .map_err(|e| Error::aws(&r.address, "AdminEnableUser", e))?;
        } else {
            cognito
                .admin_disable_user()
                .user_pool_id(&pool_id)
                .username(&spec.username)
                .send()
                .await
                .map_err(|e| Error::aws(&r.address, "AdminDisableUser", e))?;
        }
    }
    Ok(spec.username.clone())
}

/// Create the user when the plan says so, then set its declared password.
async fn set_password(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
    pool_id: &str,
) -> Result<(), Error> {
    let spec = &step.spec;
    let Some(password) = &spec.password else {
        return Err(Error::new(
            &r.address,
            "apply",
            format!(
                "${} is unset: the password cannot be set",
                spec.password_env
            ),
        ));
    };
    if r.action == Action::Create {
        let created = cx
            .aws
            .cognito
            .admin_create_user()
            .user_pool_id(pool_id)
            .username(&spec.username)
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .map_err(|e| Error::aws(&r.address, "AdminCreateUser", e));
        match created {
            // Usernames are unique in a pool: the user exists (another apply made it meanwhile,
            // or this call was retried after its answer was lost). Setting the declared password
            // below makes it the stack's user either way.
            Err(e) if e.code_is("UsernameExistsException") => {
                cx.found_on_create(&r.address, "setting its password")
            }
            other => {
                other?;
            }
        }
    }
    cx.aws
        .cognito
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(&spec.username)
        .password(password.expose())
        .permanent(true)
        .send()
        .await
        .map_err(|e| Error::aws(&r.address, "AdminSetUserPassword", e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
