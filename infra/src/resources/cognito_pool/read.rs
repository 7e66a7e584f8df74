//! Reading the pool: found by name among pools that are not unique by name, with its tags;
//! duplicates tagged for the stack are described with their contents.

use super::*;

/// List pools (paginated), keep those named like the spec, describe them concurrently. Several
/// tagged for the stack: the one the stack's runtime uses (else the oldest) is found, the
/// others are read as its duplicates.
pub(super) async fn read(
    cx: &ReadContext<'_>,
    spec: &UserPoolSpec,
) -> Result<Lookup<LivePool>, Error> {
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
pub(super) async fn same_named(
    aws: &Aws,
    addr: &str,
    name: &str,
    stack: &str,
) -> Result<Vec<LivePool>, Error> {
    let ids = same_named_ids(aws, addr, name).await?;
    describe_all(aws, addr, &ids, stack).await
}

/// The ids of the pools named `name` (`ListUserPools` gives names, not tags).
pub(super) async fn same_named_ids(
    aws: &Aws,
    addr: &str,
    name: &str,
) -> Result<Vec<String>, Error> {
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
pub(super) async fn describe_all(
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
pub(super) fn in_use(named: &[String], id: &str) -> bool {
    named.iter().any(|url| url.contains(&format!("/{id}/")))
}

/// The pool to manage: the only one tagged for the stack; among several, the one the runtime's
/// authorizer names (`named`: what the kinds that depend on pools name), else the oldest, with
/// the others as its duplicates; else a lone foreign one (which blocks, unless adopted).
pub(super) fn choose(
    mut owned: Vec<LivePool>,
    mut foreign: Vec<LivePool>,
    named: &[String],
) -> Lookup<LivePool> {
    let foreign_ids: Vec<String> = foreign.iter().map(|p| p.id.clone()).collect();
    match (owned.len(), foreign.len()) {
        (1, _) => Lookup::Found(LivePool {
            foreign: foreign_ids,
            ..owned.remove(0)
        }),
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
            pool.foreign = foreign_ids;
            Lookup::Found(pool)
        }
    }
}

/// What a duplicate pool holds: its clients' names and, when they fit in one page, its
/// usernames.
pub(super) async fn contents(
    aws: &Aws,
    addr: &str,
    mut duplicate: Duplicate,
) -> Result<Duplicate, Error> {
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
pub(super) const USERS_PAGE: i32 = 60;

pub(super) async fn describe(
    aws: &Aws,
    addr: &str,
    id: &str,
    stack: &str,
) -> Result<LivePool, Error> {
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
        foreign: Vec::new(),
    })
}

/// The pools tagged for the stack (`arns`, from the Tagging API) under another name than the
/// declared one: a pool renamed in the stack file leaves the old one behind, with its users.
pub(super) async fn undeclared(
    cx: &ReadContext<'_>,
    arns: &[String],
) -> Result<Vec<Planned>, Error> {
    let declared = cx.stack.one::<UserPool>().map(|s| s.name.as_str());
    // The declared pool and its duplicates are read already.
    let known: Vec<String> = match cx.get::<UserPool>().await?.found() {
        Some(pool) => std::iter::once(pool.id.clone())
            .chain(pool.duplicates.iter().map(|d| d.id.clone()))
            .collect(),
        None => Vec::new(),
    };
    let ids: Vec<String> = arns
        .iter()
        .filter_map(|arn| arn.rsplit_once("userpool/").map(|(_, id)| id.to_owned()))
        .filter(|id| !known.contains(id))
        .collect();
    let pools = describe_all(cx.aws, UserPool::TYPE, &ids, &cx.stack.name).await?;
    Ok(pools
        .into_iter()
        .filter(|p| p.owned && p.raw.name() != declared)
        .map(|p| {
            let name = p.raw.name().unwrap_or(&p.id).to_owned();
            let users = p.raw.estimated_number_of_users();
            Planned::destroyed(name, &p.id)
                .with_notes(vec![format!(
                    "{users} user(s) (estimated) are deleted with it; its access tokens stop \
                     working"
                )])
                .with_payload(Extra {
                    id: p.id.clone(),
                    protected: p.deletion_protection,
                })
        })
        .collect())
}
