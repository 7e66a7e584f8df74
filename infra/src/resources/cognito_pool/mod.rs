//! `cognito_user_pool`: found by name among pools tagged for this stack.
//!
//! Pool names are not unique in AWS, so two applies at once can each create the pool. After
//! creating one, apply lists the pools with the name and the stack's tag and keeps the oldest
//! (creation date, then id): every racer agrees on it, deletes its own when it is not that one,
//! and carries on with the survivor. Several tagged pools found by a read (left by an older
//! infra) are settled in the plan: the runtime's pool (else the oldest) is kept, and the others
//! are deleted when they hold nothing the stack does not declare, or explained when they do.

pub mod section;

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::primitives::DateTime;
use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, PasswordPolicyType, UserPoolPolicyType, UserPoolType,
    UsernameAttributeType,
};

use super::cognito_client::Client;
use super::cognito_shared::{age_key, planned_duplicate, shown_date};
use super::cognito_user::User;
use crate::aws::Aws;
use crate::engine::{
    Action, ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned,
    Planner, ReadContext, ResourcePlan, address, claim, not_found_as_none, owned_by, tag_changes,
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
    pub created: Option<DateTime>,
    /// Other pools with this name and the stack's tag (left by two applies at once): the plan
    /// deletes or explains them.
    pub duplicates: Vec<Duplicate>,
}

/// A pool with the stack's name and tag besides the one the stack keeps.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub id: String,
    pub created: Option<DateTime>,
    pub deletion_protection: bool,
    /// The names of its app clients.
    pub clients: Vec<String>,
    /// Its usernames; `None` when it has too many to list in one page (not listed).
    pub users: Option<Vec<String>>,
    pub estimated_users: i32,
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

/// What apply needs to delete a duplicate pool.
struct Extra {
    id: String,
}

impl Kind for UserPool {
    const TYPE: &'static str = "cognito_user_pool";
    type Live = Lookup<LivePool>;
    type Ref = ();

    async fn read(cx: &ReadContext<'_>) -> Result<Lookup<LivePool>, Error> {
        match cx.stack.one::<UserPool>() {
            Some(spec) => read(cx, spec).await,
            None => Ok(Lookup::Missing),
        }
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let Some(spec) = cx.stack.one::<UserPool>() {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        if r.action == Action::Delete {
            let extra: &Extra = r.payload()?;
            delete(cx, &r.address, &extra.id, false).await?;
            return Ok(extra.id.clone());
        }
        let step: &Step = r.payload()?;
        match &step.live {
            None => create(cx, &r.address, &step.spec).await,
            Some(pool) => update(cx, &r.address, &step.spec, pool).await,
        }
    }

    /// The pool's id, when the stack may use the pool (its own, or adopted).
    fn id(stack: &Stack, live: &Lookup<LivePool>) -> Option<String> {
        managed(stack, live).map(|p| p.id.clone())
    }

    /// `discovery_url`: the pool's OIDC discovery URL, for JWT authorizers.
    fn derived(name: &str, id: &str, vars: &crate::policy::Vars) -> Option<String> {
        (name == DISCOVERY_URL).then(|| discovery_url(&vars.region, id))
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
fn managed<'a>(stack: &Stack, lookup: &'a Lookup<LivePool>) -> Option<&'a LivePool> {
    let spec = stack.one::<UserPool>()?;
    lookup.found().filter(|p| p.owned || spec.adopt)
}

/// List pools (paginated), keep those named like the spec, describe them concurrently. Several
/// tagged for the stack: the one the stack's runtime uses (else the oldest) is found, the
/// others are read as its duplicates.
async fn read(cx: &ReadContext<'_>, spec: &UserPoolSpec) -> Result<Lookup<LivePool>, Error> {
    let (aws, stack) = (cx.aws, &cx.stack.name);
    let addr = address(UserPool::TYPE, &spec.name);
    let pools = same_named(aws, &addr, &spec.name, stack).await?;
    let (owned, foreign): (Vec<LivePool>, Vec<LivePool>) = pools.into_iter().partition(|p| p.owned);
    let named = if owned.len() > 1 {
        cx.named_by_dependents::<UserPool>().await?
    } else {
        Vec::new()
    };
    let mut lookup = choose(owned, foreign, &named);
    if let Lookup::Found(pool) = &mut lookup
        && !pool.duplicates.is_empty()
    {
        let duplicates = std::mem::take(&mut pool.duplicates);
        pool.duplicates = aws
            .all(duplicates.into_iter().map(|d| contents(aws, &addr, d)))
            .await?;
    }
    Ok(lookup)
}

/// The pools named `name`, described; one deleted meanwhile is left out.
async fn same_named(
    aws: &Aws,
    addr: &str,
    name: &str,
    stack: &str,
) -> Result<Vec<LivePool>, Error> {
    let ids = same_named_ids(aws, addr, name).await?;
    describe_all(aws, addr, &ids, stack).await
}

/// The ids of the pools named `name` (`ListUserPools` gives names, not tags).
async fn same_named_ids(aws: &Aws, addr: &str, name: &str) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    let mut pages = aws
        .cognito
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(addr, "ListUserPools", e))?;
        ids.extend(
            page.user_pools()
                .iter()
                .filter(|p| p.name() == Some(name))
                .filter_map(|p| p.id().map(str::to_owned)),
        );
    }
    Ok(ids)
}

/// The pools `ids`, described; one deleted meanwhile is left out.
async fn describe_all(
    aws: &Aws,
    addr: &str,
    ids: &[String],
    stack: &str,
) -> Result<Vec<LivePool>, Error> {
    aws.all_found(ids, "ResourceNotFoundException", |id| {
        describe(aws, addr, id, stack)
    })
    .await
}

/// Whether one of `named` (such as a JWT authorizer's discovery URL) names the pool `id`.
fn in_use(named: &[String], id: &str) -> bool {
    named.iter().any(|url| url.contains(&format!("/{id}/")))
}

/// The pool to manage: the only one tagged for the stack; among several, the one the runtime's
/// authorizer names (`named`: what the kinds that depend on pools name), else the oldest, with
/// the others as its duplicates; else a lone foreign one (which blocks, unless adopted).
fn choose(
    mut owned: Vec<LivePool>,
    mut foreign: Vec<LivePool>,
    named: &[String],
) -> Lookup<LivePool> {
    match (owned.len(), foreign.len()) {
        (1, _) => Lookup::Found(owned.remove(0)),
        (0, 0) => Lookup::Missing,
        (0, 1) => Lookup::Found(foreign.remove(0)),
        (0, _) => Lookup::Many {
            ids: foreign.into_iter().map(|p| p.id).collect(),
            owned: false,
        },
        _ => {
            owned.sort_by(|a, b| {
                age_key(a.created.as_ref(), &a.id).cmp(&age_key(b.created.as_ref(), &b.id))
            });
            let kept = owned.iter().position(|p| in_use(named, &p.id)).unwrap_or(0);
            let mut pool = owned.remove(kept);
            pool.duplicates = owned
                .into_iter()
                .map(|p| Duplicate {
                    id: p.id,
                    created: p.created,
                    deletion_protection: p.deletion_protection,
                    clients: Vec::new(),
                    users: None,
                    estimated_users: p.raw.estimated_number_of_users(),
                })
                .collect();
            Lookup::Found(pool)
        }
    }
}

/// What a duplicate pool holds: its clients' names and, when they fit in one page, its
/// usernames.
async fn contents(aws: &Aws, addr: &str, mut duplicate: Duplicate) -> Result<Duplicate, Error> {
    let mut pages = aws
        .cognito
        .list_user_pool_clients()
        .user_pool_id(&duplicate.id)
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(addr, "ListUserPoolClients", e))?;
        duplicate.clients.extend(
            page.user_pool_clients()
                .iter()
                .filter_map(|c| c.client_name().map(str::to_owned)),
        );
    }
    if duplicate.estimated_users <= USERS_PAGE {
        let page = aws
            .cognito
            .list_users()
            .user_pool_id(&duplicate.id)
            .limit(USERS_PAGE)
            .send()
            .await
            .map_err(|e| Error::aws(addr, "ListUsers", e))?;
        if page.pagination_token().is_none() {
            duplicate.users = Some(
                page.users()
                    .iter()
                    .filter_map(|u| u.username().map(str::to_owned))
                    .collect(),
            );
        }
    }
    Ok(duplicate)
}

/// The most users a duplicate pool may have to be listed (one page of ListUsers).
const USERS_PAGE: i32 = 60;

/// Why a duplicate pool must not be deleted by infra, if it must not: deletion protection, or
/// something in it that the stack does not declare.
fn kept_because(duplicate: &Duplicate, cx: &PlanContext) -> Option<String> {
    if duplicate.deletion_protection {
        return Some("deletion protection is on".into());
    }
    let declared_clients = cx.declared_names::<Client>();
    let clients: Vec<&str> = duplicate
        .clients
        .iter()
        .map(String::as_str)
        .filter(|c| !declared_clients.iter().any(|d| d == c))
        .collect();
    if !clients.is_empty() {
        return Some(format!(
            "it has app clients the stack does not declare: {}",
            clients.join(", ")
        ));
    }
    let Some(users) = &duplicate.users else {
        return Some(format!(
            "it has {} users, more than the stack declares",
            duplicate.estimated_users
        ));
    };
    const NAMED: usize = 5;
    let declared_users = cx.declared_names::<User>();
    let undeclared: Vec<&str> = users
        .iter()
        .map(String::as_str)
        .filter(|u| !declared_users.iter().any(|d| d == u))
        .collect();
    if !undeclared.is_empty() {
        let more = match undeclared.len().saturating_sub(NAMED) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Some(format!(
            "it has users the stack does not declare: {}{more}",
            undeclared[..undeclared.len().min(NAMED)].join(", ")
        ));
    }
    None
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
        created: raw.creation_date().cloned(),
        raw,
        duplicates: Vec::new(),
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
    if let Some(pool) = live
        && let Some(message) = duplicates_kept(cx, spec, pool)
    {
        planner.block(&addr, None, message);
        return;
    }
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
    for duplicate in live.map_or(&[][..], |p| &p.duplicates[..]) {
        let kept = live.map_or("", |p| p.id.as_str());
        planner.add(
            planned_duplicate(
                &spec.name,
                "user_pool_id",
                &duplicate.id,
                duplicate.created.as_ref(),
                format!(
                    "a second user pool named {:?} tagged for this stack (left by two applies \
                     at once); the stack keeps {kept}, and this one holds nothing the stack does \
                     not declare",
                    spec.name
                ),
            )
            .with_payload(Extra {
                id: duplicate.id.clone(),
            }),
        );
    }
}

/// When a duplicate pool holds something the stack does not declare (or is protected), the
/// blocker's message: which pool is kept and why, each pool's creation date and contents, and
/// how to remove the extra ones by hand.
fn duplicates_kept(cx: &PlanContext, spec: &UserPoolSpec, pool: &LivePool) -> Option<String> {
    let kept: Vec<(&Duplicate, String)> = pool
        .duplicates
        .iter()
        .filter_map(|d| Some((d, kept_because(d, cx)?)))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let runtime_uses = in_use(&cx.named_by_dependents::<UserPool>(), &pool.id);
    let why = if runtime_uses {
        "the runtime's authorizer uses it"
    } else {
        "the oldest; the runtime's authorizer uses none of them"
    };
    let mut text = format!(
        "{} user pools named {:?} are tagged for this stack (left by two applies at once): \
         infra keeps {} (created {}; {why}) and deletes the others only when they hold nothing \
         the stack does not declare. ",
        pool.duplicates.len() + 1,
        spec.name,
        pool.id,
        shown_date(pool.created.as_ref()),
    );
    let details: Vec<String> = kept
        .iter()
        .map(|(d, reason)| {
            format!(
                "{} (created {}; app clients: {}, users: {}): {reason}",
                d.id,
                shown_date(d.created.as_ref()),
                d.clients.len(),
                d.estimated_users
            )
        })
        .collect();
    text.push_str(&details.join("; "));
    let commands: Vec<String> = kept
        .iter()
        .map(|(d, _)| {
            let unprotect = if d.deletion_protection {
                format!(
                    "aws cognito-idp update-user-pool --user-pool-id {} --deletion-protection INACTIVE && ",
                    d.id
                )
            } else {
                String::new()
            };
            format!(
                "{unprotect}aws cognito-idp delete-user-pool --user-pool-id {}",
                d.id
            )
        })
        .collect();
    text.push_str(&format!(
        ". Check what is in it, then delete it: {}",
        commands.join("; ")
    ));
    Some(text)
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

/// Returns the id of the pool to carry on with: the new one, or the one another apply created
/// at the same time (see [`settle`]).
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
    let mine = out
        .user_pool()
        .and_then(|p| p.id())
        .map(str::to_owned)
        .ok_or_else(|| Error::new(addr, "CreateUserPool", "AWS returned no pool id"))?;
    let created = out.user_pool().and_then(|p| p.creation_date()).cloned();
    settle(cx, addr, spec, &mine, created.as_ref()).await
}

/// Pool names are not unique: another apply may have created the same pool at the same time.
/// Of the pools with the name and the stack's tag, every apply keeps the oldest (creation date,
/// then id), so they all agree; this one deletes its own pool when it is not that one, and
/// carries on with the survivor (what this apply creates next goes into it).
async fn settle(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &UserPoolSpec,
    mine: &str,
    created: Option<&DateTime>,
) -> Result<String, Error> {
    let ids = same_named_ids(cx.aws, addr, &spec.name).await?;
    if ids.iter().all(|id| id == mine) {
        // Alone (or not listed yet): nothing to compare, and no describe on the critical path.
        return Ok(mine.to_owned());
    }
    let pools = describe_all(cx.aws, addr, &ids, &cx.stack.name).await?;
    // Every racer compares what the same reads return; this one's own pool from the create's
    // answer only when the list does not show it yet.
    let listed = pools.iter().any(|p| p.id == mine);
    let oldest = pools
        .iter()
        .filter(|p| p.owned)
        .map(|p| age_key(p.created.as_ref(), &p.id))
        .chain((!listed).then(|| age_key(created, mine)))
        .min()
        .map(|(_, _, id)| id.to_owned())
        .unwrap_or_else(|| mine.to_owned());
    if oldest == mine {
        return Ok(oldest);
    }
    cx.progress.line(&format!(
        "{addr}: another apply created the same pool at the same time; keeping the older one \
         ({oldest}) and deleting the one this apply created ({mine})"
    ));
    delete(cx, addr, mine, spec.deletion_protection).await?;
    Ok(oldest)
}

/// Delete a pool (a duplicate); already gone is fine. `protected`: turn deletion protection off
/// first (Cognito refuses to delete a protected pool).
async fn delete(cx: &ApplyContext<'_>, addr: &str, id: &str, protected: bool) -> Result<(), Error> {
    if protected {
        // Only the pool about to be deleted: what this resets does not matter.
        let result = cx
            .aws
            .cognito
            .update_user_pool()
            .user_pool_id(id)
            .deletion_protection(deletion_protection(false))
            .send()
            .await
            .map_err(|e| Error::aws(addr, "UpdateUserPool", e));
        if not_found_as_none(result, "ResourceNotFoundException")?.is_none() {
            return Ok(());
        }
    }
    let result = cx
        .aws
        .cognito
        .delete_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "DeleteUserPool", e));
    not_found_as_none(result, "ResourceNotFoundException")?;
    Ok(())
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

/// The name of the value [`Kind::derived`] gives for a pool id: its OIDC discovery URL.
pub const DISCOVERY_URL: &str = "discovery_url";

/// The OIDC discovery URL of a pool, for JWT authorizers.
fn discovery_url(region: &str, pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}/.well-known/openid-configuration")
}

#[cfg(test)]
mod tests;
