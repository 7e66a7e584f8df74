//! `cognito_user_pool`: found by name among pools tagged for this stack.

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, PasswordPolicyType, UserPoolPolicyType, UserPoolType,
    UsernameAttributeType,
};

use super::{Lookup, foreign_message, owned_by, tag_changes};
use crate::apply::ApplyContext;
use crate::aws::{Aws, AwsError};
use crate::plan::{Action, Changes, Kind, PlanContext, Planner, ResourcePlan};
use crate::stack::{PasswordPolicy, UserPoolSpec};

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

pub fn address(spec: &UserPoolSpec) -> String {
    format!("cognito_user_pool.{}", spec.name)
}

/// List pools (paginated), keep those named like the spec, describe them concurrently.
pub async fn read(
    aws: &Aws,
    spec: &UserPoolSpec,
    stack: &str,
) -> Result<Lookup<LivePool>, AwsError> {
    let addr = address(spec);
    let mut ids = Vec::new();
    let mut pages = aws
        .cognito
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(&addr, "ListUserPools", e))?;
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

async fn describe(aws: &Aws, addr: &str, id: &str, stack: &str) -> Result<LivePool, AwsError> {
    let out = aws
        .cognito
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .map_err(|e| AwsError::new(addr, "DescribeUserPool", e))?;
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

pub fn plan(cx: &PlanContext, planner: &mut Planner) {
    let Some(spec) = &cx.stack.user_pool else {
        return;
    };
    let addr = address(spec);
    let desired_tags = cx.stack.tags();
    let (live, reason) = match &cx.live.user_pool {
        Lookup::Missing => (None, format!("no user pool named {:?} exists", spec.name)),
        Lookup::Many { ids, owned: true } => {
            planner.block(
                &addr,
                None,
                format!(
                    "{} user pools named {:?} are tagged for this stack: {}. Delete or untag the extra ones; infra never guesses",
                    ids.len(),
                    spec.name,
                    ids.join(", ")
                ),
            );
            return;
        }
        Lookup::Many { ids, owned: false } => {
            planner.block(
                &addr,
                None,
                format!(
                    "{} user pools named {:?} exist, none tagged for this stack: {}. They are left untouched; choose another name",
                    ids.len(),
                    spec.name,
                    ids.join(", ")
                ),
            );
            return;
        }
        Lookup::Found(pool) if !pool.owned && !spec.adopt => {
            planner.block(
                &addr,
                None,
                foreign_message("a user pool", &pool.id, &cx.stack.name),
            );
            return;
        }
        Lookup::Found(pool) if !pool.owned => {
            (Some(pool), "adopting: tags it for this stack".to_owned())
        }
        Lookup::Found(pool) => (Some(pool), String::new()),
    };

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
    let live_policy = live.map(|p| &p.password_policy);
    let want = &spec.password_policy;
    changes.value(
        "password_policy.minimum_length",
        live_policy.map(|p| p.minimum_length),
        want.minimum_length,
    );
    changes.value(
        "password_policy.require_uppercase",
        live_policy.map(|p| p.require_uppercase),
        want.require_uppercase,
    );
    changes.value(
        "password_policy.require_lowercase",
        live_policy.map(|p| p.require_lowercase),
        want.require_lowercase,
    );
    changes.value(
        "password_policy.require_numbers",
        live_policy.map(|p| p.require_numbers),
        want.require_numbers,
    );
    changes.value(
        "password_policy.require_symbols",
        live_policy.map(|p| p.require_symbols),
        want.require_symbols,
    );
    changes.value(
        "password_policy.temporary_password_validity_days",
        live_policy.map(|p| p.temporary_password_validity_days),
        want.temporary_password_validity_days,
    );
    changes.value(
        "deletion_protection",
        live.map(|p| p.deletion_protection),
        spec.deletion_protection,
    );
    if live.is_none() && !spec.username_attributes.is_empty() {
        changes.value("username_attributes", None, &spec.username_attributes);
    }
    tag_changes(&mut changes, live.map(|pool| &pool.tags), &desired_tags);

    let action = changes.action(live.is_some());
    planner.resources.push(ResourcePlan {
        address: addr,
        name: spec.name.clone(),
        kind: Kind::UserPool,
        action,
        id: live.map(|p| p.id.clone()),
        reason: if reason.is_empty() {
            default_reason(action)
        } else {
            reason
        },
        changes: changes.into_vec(),
        notes: Vec::new(),
        depends_on: Vec::new(),
    });
}

pub fn default_reason(action: Action) -> String {
    match action {
        Action::Create => "does not exist".into(),
        Action::Update => "live settings differ from the stack".into(),
        Action::Delete => "exists but is not declared".into(),
        Action::NoOp => "matches the stack".into(),
    }
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

/// Create, or update with the whole desired configuration. Returns the pool id.
pub async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, AwsError> {
    let spec = cx
        .stack
        .user_pool
        .as_ref()
        .expect("planned pools are declared");
    let addr = &r.address;
    let tags = cx.stack.tags();
    match cx.live.user_pool.found() {
        None => {
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
                .set_user_pool_tags(Some(tags.into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::new(addr, "CreateUserPool", e))?;
            Ok(out
                .user_pool()
                .and_then(|p| p.id())
                .unwrap_or_default()
                .to_owned())
        }
        Some(pool) => {
            // UpdateUserPool resets every field it is not sent: send the desired values for what
            // the stack manages and carry over the live values for everything else.
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
            all_tags.extend(tags);
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
                .set_email_verification_message(
                    live.email_verification_message().map(str::to_owned),
                )
                .set_email_verification_subject(
                    live.email_verification_subject().map(str::to_owned),
                )
                .set_verification_message_template(live.verification_message_template().cloned())
                .set_sms_authentication_message(
                    live.sms_authentication_message().map(str::to_owned),
                )
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
                .map_err(|e| AwsError::new(addr, "UpdateUserPool", e))?;
            Ok(pool.id.clone())
        }
    }
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
