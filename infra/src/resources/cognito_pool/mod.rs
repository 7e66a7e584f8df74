//! `cognito_user_pool`: found by name among pools tagged for this stack.

pub mod section;

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, PasswordPolicyType, UserPoolPolicyType, UserPoolType,
    UsernameAttributeType,
};

use crate::aws::Aws;
use crate::engine::{
    ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned, Planner,
    ReadContext, ResourcePlan, address, claim, owned_by, tag_changes,
};
use crate::stack::Stack;
use section::{PasswordPolicy, UserPoolSpec};

#[derive(Debug, Clone)]
pub struct LivePool {
    pub id: String,
    pub owned: bool,
    pub tags: BTreeMap<String, String>,
    pub password_policy: PasswordPolicy,
    pub username_attributes: Vec<String>,
    pub deletion_protection: bool,
    /// The whole description, so an update can carry over what the stack does not manage.
    pub raw: UserPoolType,
}

impl Owned for LivePool {
    fn identifier(&self) -> &str {
        &self.id
    }
    fn owned(&self) -> bool {
        self.owned
    }
}

/// The kind.
pub struct UserPool;

/// What apply needs: the declared pool and, for an update, the live one.
struct Step {
    spec: UserPoolSpec,
    live: Option<LivePool>,
}

impl Kind for UserPool {
    const TYPE: &'static str = "cognito_user_pool";
    type Live = Lookup<LivePool>;

    async fn read(cx: &ReadContext<'_>) -> Result<Lookup<LivePool>, Error> {
        match &cx.stack.user_pool {
            Some(spec) => read(cx.aws, spec, &cx.stack.name).await,
            None => Ok(Lookup::Missing),
        }
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let Some(spec) = &cx.stack.user_pool {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        match &step.live {
            None => create(cx, &r.address, &step.spec).await,
            Some(pool) => update(cx, &r.address, &step.spec, pool).await,
        }
    }

    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        let pool = cx.live.get::<UserPool>().found();
        vec![
            ("user_pool_id", pool.map(|p| p.id.clone())),
            (
                "discovery_url",
                pool.map(|p| discovery_url(&cx.live.region, &p.id)),
            ),
        ]
    }
}

/// The live pool when this stack may look into it and change it (owned, or adopted).
pub fn managed<'a>(stack: &Stack, lookup: &'a Lookup<LivePool>) -> Option<&'a LivePool> {
    let spec = stack.user_pool.as_ref()?;
    lookup.found().filter(|p| p.owned || spec.adopt)
}

/// List pools (paginated), keep those named like the spec, describe them concurrently.
async fn read(aws: &Aws, spec: &UserPoolSpec, stack: &str) -> Result<Lookup<LivePool>, Error> {
    let addr = address(UserPool::TYPE, &spec.name);
    let mut ids = Vec::new();
    let mut pages = aws
        .cognito
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(&addr, "ListUserPools", e))?;
        ids.extend(
            page.user_pools()
                .iter()
                .filter(|p| p.name() == Some(spec.name.as_str()))
                .filter_map(|p| p.id().map(str::to_owned)),
        );
    }
    let pools = aws
        .all(ids.iter().map(|id| describe(aws, &addr, id, stack)))
        .await?;
    let (owned, foreign): (Vec<LivePool>, Vec<LivePool>) = pools.into_iter().partition(|p| p.owned);
    Ok(choose(owned, foreign))
}

fn choose(mut owned: Vec<LivePool>, mut foreign: Vec<LivePool>) -> Lookup<LivePool> {
    match (owned.len(), foreign.len()) {
        (1, _) => Lookup::Found(owned.remove(0)),
        (0, 0) => Lookup::Missing,
        (0, 1) => Lookup::Found(foreign.remove(0)),
        (0, _) => Lookup::Many {
            ids: foreign.into_iter().map(|p| p.id).collect(),
            owned: false,
        },
        _ => Lookup::Many {
            ids: owned.into_iter().map(|p| p.id).collect(),
            owned: true,
        },
    }
}

async fn describe(aws: &Aws, addr: &str, id: &str, stack: &str) -> Result<LivePool, Error> {
    let out = aws
        .cognito
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "DescribeUserPool", e))?;
    let raw = out
        .user_pool()
        .cloned()
        .unwrap_or_else(|| UserPoolType::builder().id(id).build());
    let tags: BTreeMap<String, String> = raw
        .user_pool_tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let defaults = PasswordPolicy::default();
    let password_policy = match raw.policies().and_then(|p| p.password_policy()) {
        Some(p) => PasswordPolicy {
            minimum_length: p.minimum_length().unwrap_or(defaults.minimum_length),
            require_uppercase: p.require_uppercase(),
            require_lowercase: p.require_lowercase(),
            require_numbers: p.require_numbers(),
            require_symbols: p.require_symbols(),
            temporary_password_validity_days: p.temporary_password_validity_days(),
        },
        None => defaults,
    };
    let mut username_attributes: Vec<String> = raw
        .username_attributes()
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    username_attributes.sort();
    Ok(LivePool {
        id: id.to_owned(),
        owned: owned_by(&tags, stack),
        deletion_protection: raw
            .deletion_protection()
            .is_some_and(|d| d.as_str() == "ACTIVE"),
        tags,
        password_policy,
        username_attributes,
        raw,
    })
}

const NOUN: Noun = Noun::tagged("a user pool", "user pools");

fn plan(cx: &PlanContext, spec: &UserPoolSpec, planner: &mut Planner) {
    let addr = planner.address(&spec.name);
    let Some(claim) = claim(
        planner,
        &addr,
        &spec.name,
        cx.live.get::<UserPool>(),
        NOUN,
        spec.adopt,
        &cx.stack.name,
    ) else {
        return;
    };
    let live = claim.live;
    if let Some(pool) = live {
        let desired: Vec<String> = spec
            .username_attributes
            .iter()
            .map(|a| a.as_aws().to_owned())
            .collect();
        if pool.username_attributes != desired {
            planner.block(
                &addr,
                Some("username_attributes"),
                format!(
                    "is {:?} in AWS and {:?} in the stack; Cognito cannot change a pool's sign-in attributes after creation. \
                     Keep the live value, or declare a new pool under another name and move users",
                    pool.username_attributes, desired
                ),
            );
        }
    }

    let mut changes = Changes::default();
    password_policy_changes(
        &mut changes,
        live.map(|p| &p.password_policy),
        &spec.password_policy,
    );
    changes.value(
        "deletion_protection",
        live.map(|p| p.deletion_protection),
        spec.deletion_protection,
    );
    if live.is_none() && !spec.username_attributes.is_empty() {
        changes.value("username_attributes", None, &spec.username_attributes);
    }
    tag_changes(&mut changes, live.map(|pool| &pool.tags), &cx.stack.tags());

    let planned = Planned::new(&spec.name, changes, live.map(|p| p.id.clone()));
    let reason = match live {
        None => format!("no user pool named {:?} exists", spec.name),
        Some(_) => claim.reason(planned.action()),
    };
    planner.add(planned.with_reason(reason).with_payload(Step {
        spec: spec.clone(),
        live: live.cloned(),
    }));
}

fn password_policy_changes(
    changes: &mut Changes,
    live: Option<&PasswordPolicy>,
    want: &PasswordPolicy,
) {
    let field = |name: &str| format!("password_policy.{name}");
    changes.value(
        &field("minimum_length"),
        live.map(|p| p.minimum_length),
        want.minimum_length,
    );
    changes.value(
        &field("require_uppercase"),
        live.map(|p| p.require_uppercase),
        want.require_uppercase,
    );
    changes.value(
        &field("require_lowercase"),
        live.map(|p| p.require_lowercase),
        want.require_lowercase,
    );
    changes.value(
        &field("require_numbers"),
        live.map(|p| p.require_numbers),
        want.require_numbers,
    );
    changes.value(
        &field("require_symbols"),
        live.map(|p| p.require_symbols),
        want.require_symbols,
    );
    changes.value(
        &field("temporary_password_validity_days"),
        live.map(|p| p.temporary_password_validity_days),
        want.temporary_password_validity_days,
    );
}

fn password_policy(p: &PasswordPolicy) -> PasswordPolicyType {
    PasswordPolicyType::builder()
        .minimum_length(p.minimum_length)
        .require_uppercase(p.require_uppercase)
        .require_lowercase(p.require_lowercase)
        .require_numbers(p.require_numbers)
        .require_symbols(p.require_symbols)
        .temporary_password_validity_days(p.temporary_password_validity_days)
        .build()
}

fn deletion_protection(on: bool) -> aws_sdk_cognitoidentityprovider::types::DeletionProtectionType {
    if on {
        "ACTIVE".into()
    } else {
        "INACTIVE".into()
    }
}

/// Returns the new pool's id.
async fn create(cx: &ApplyContext<'_>, addr: &str, spec: &UserPoolSpec) -> Result<String, Error> {
    let out = cx
        .aws
        .cognito
        .create_user_pool()
        .pool_name(&spec.name)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(password_policy(&spec.password_policy))
                .build(),
        )
        .set_username_attributes(Some(
            spec.username_attributes
                .iter()
                .map(|a| UsernameAttributeType::from(a.as_aws()))
                .collect(),
        ))
        .deletion_protection(deletion_protection(spec.deletion_protection))
        .set_user_pool_tags(Some(cx.stack.tags().into_iter().collect()))
        .send()
        .await
        .map_err(|e| Error::aws(addr, "CreateUserPool", e))?;
    out.user_pool()
        .and_then(|p| p.id())
        .map(str::to_owned)
        .ok_or_else(|| Error::new(addr, "CreateUserPool", "AWS returned no pool id"))
}

/// `UpdateUserPool` resets every field it is not sent: send the desired values for what the
/// stack manages and carry over the live values for everything else.
async fn update(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &UserPoolSpec,
    pool: &LivePool,
) -> Result<String, Error> {
    let live = &pool.raw;
    let mut desired_password_policy = password_policy(&spec.password_policy);
    desired_password_policy.password_history_size = live
        .policies()
        .and_then(|p| p.password_policy())
        .and_then(|p| p.password_history_size());
    let policies = UserPoolPolicyType::builder()
        .password_policy(desired_password_policy)
        .set_sign_in_policy(live.policies().and_then(|p| p.sign_in_policy()).cloned())
        .build();
    let mut all_tags = pool.tags.clone();
    all_tags.extend(cx.stack.tags());
    cx.aws
        .cognito
        .update_user_pool()
        .user_pool_id(&pool.id)
        .policies(policies)
        .deletion_protection(deletion_protection(spec.deletion_protection))
        .set_user_pool_tags(Some(all_tags.into_iter().collect()))
        .set_lambda_config(live.lambda_config().cloned())
        .set_auto_verified_attributes(
            Some(live.auto_verified_attributes().to_vec()).filter(|v| !v.is_empty()),
        )
        .set_sms_verification_message(live.sms_verification_message().map(str::to_owned))
        .set_email_verification_message(live.email_verification_message().map(str::to_owned))
        .set_email_verification_subject(live.email_verification_subject().map(str::to_owned))
        .set_verification_message_template(live.verification_message_template().cloned())
        .set_sms_authentication_message(live.sms_authentication_message().map(str::to_owned))
        .set_user_attribute_update_settings(live.user_attribute_update_settings().cloned())
        .set_mfa_configuration(live.mfa_configuration().cloned())
        .set_device_configuration(live.device_configuration().cloned())
        .set_email_configuration(live.email_configuration().cloned())
        .set_sms_configuration(live.sms_configuration().cloned())
        .set_admin_create_user_config(
            live.admin_create_user_config()
                .map(admin_create_user_config),
        )
        .set_user_pool_add_ons(live.user_pool_add_ons().cloned())
        .set_account_recovery_setting(live.account_recovery_setting().cloned())
        .set_user_pool_tier(live.user_pool_tier().cloned())
        .set_key_configuration(live.key_configuration().cloned())
        .set_issuer_configuration(live.issuer_configuration().cloned())
        .set_acr_configuration(live.acr_configuration().cloned())
        .send()
        .await
        .map_err(|e| Error::aws(addr, "UpdateUserPool", e))?;
    Ok(pool.id.clone())
}

/// The live admin-create-user settings, minus `UnusedAccountValidityDays`: Cognito describes it
/// but rejects it in an update ("use TemporaryPasswordValidityDays in PasswordPolicy instead").
fn admin_create_user_config(live: &AdminCreateUserConfigType) -> AdminCreateUserConfigType {
    AdminCreateUserConfigType::builder()
        .allow_admin_create_user_only(live.allow_admin_create_user_only())
        .set_invite_message_template(live.invite_message_template().cloned())
        .build()
}

/// The OIDC discovery URL of a pool, for JWT authorizers.
pub fn discovery_url(region: &str, pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}/.well-known/openid-configuration")
}

#[cfg(test)]
mod tests;
