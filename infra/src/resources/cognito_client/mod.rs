//! `cognito_user_pool_client`: found by name inside the stack's pool.
//!
//! Client names are not unique in a pool, so two applies at once can each create the client.
//! As for pools, apply then keeps the oldest same-named client (creation date, then id) and
//! deletes its own when it is not that one; several found by a read are settled in the plan:
//! the one the runtime's authorizer allows (else the oldest) is kept, the others are deleted.

mod access;
mod destroy;
pub mod section;

use aws_sdk_cognitoidentityprovider::primitives::DateTime;
use aws_sdk_cognitoidentityprovider::types::{ExplicitAuthFlowsType, UserPoolClientType};

use super::cognito_pool::UserPool;
use super::cognito_shared::{age_key, planned_duplicate};
use crate::aws::Aws;
use crate::engine::{
    Action, ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned,
    Planner, ReadContext, ResourcePlan, Shown, address, claim, not_found_as_none,
};
use crate::stack::Stack;
use section::{AuthFlow, ClientSpec};

#[derive(Debug, Clone)]
pub struct LiveClient {
    pub id: String,
    pub explicit_auth_flows: Vec<String>,
    pub has_secret: bool,
    /// The whole description, so an update can carry over what the stack does not manage.
    pub raw: UserPoolClientType,
    pub created: Option<DateTime>,
    /// Other clients with this name in the pool (left by two applies at once): the plan deletes
    /// them, unless the runtime's authorizer allows them too.
    pub duplicates: Vec<DuplicateClient>,
}

/// A client with the stack's client name besides the one the stack keeps.
#[derive(Debug, Clone)]
pub struct DuplicateClient {
    pub id: String,
    pub created: Option<DateTime>,
    /// The stack's runtime's authorizer allows it.
    pub allowed_by_runtime: bool,
}

impl LiveClient {
    pub fn allows(&self, flow: &str) -> bool {
        self.explicit_auth_flows.iter().any(|f| f == flow)
    }
}

impl Owned for LiveClient {
    fn identifier(&self) -> &str {
        &self.id
    }
    /// A client has no tags: inside the stack's pool, it is the stack's.
    fn owned(&self) -> bool {
        true
    }
}

/// The kind.
pub struct Client;

/// What apply needs.
struct Step {
    spec: ClientSpec,
    live: Option<LiveClient>,
}

/// What apply needs to delete a duplicate client.
struct Extra {
    id: String,
}

/// What the kinds that depend on the client may know of it ([`Kind::Ref`]): whether passwords
/// can be verified by signing in through it.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The live client, when it exists.
    pub live: Option<SignInClient>,
    /// The declared client allows a password flow (so once it is applied, a later run can sign
    /// in with a password).
    pub declared_password_flow: bool,
}

#[derive(Debug, Clone)]
pub struct SignInClient {
    pub id: String,
    pub explicit_auth_flows: Vec<String>,
    pub has_secret: bool,
}

impl SignInClient {
    pub fn allows(&self, flow: &str) -> bool {
        self.explicit_auth_flows.iter().any(|f| f == flow)
    }
}

impl Kind for Client {
    /// Clients live in the stack's pool: read in it, written only while it is tagged for the
    /// stack. A sign-in through the client (the users' password check, `infra token`, the check
    /// after apply) is `InitiateAuth` when it allows `ALLOW_USER_PASSWORD_AUTH`, which IAM does
    /// not authorize (Cognito's public API), else `AdminInitiateAuth`, which IAM does.
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        access::permissions(stack, vars)
    }

    /// The client's id, sign-in flows and when Cognito last changed it (any other setting).
    fn fingerprint(cx: &PlanContext<'_>) -> Vec<(String, &'static str, serde_json::Value)> {
        let (Some(spec), Lookup::Found(client)) =
            (cx.stack.one::<Client>(), cx.live.get::<Client>())
        else {
            return Vec::new();
        };
        let addr = address(Client::TYPE, &spec.name);
        let modified = client
            .raw
            .last_modified_date()
            .map(|d| d.secs().to_string());
        vec![
            (addr.clone(), "id", client.id.clone().into()),
            (
                addr.clone(),
                "explicit_auth_flows",
                serde_json::json!(client.explicit_auth_flows),
            ),
            (addr, "last_modified", serde_json::json!(modified)),
        ]
    }

    const TYPE: &'static str = "cognito_user_pool_client";
    const DEPENDS_ON: &'static [&'static str] = &[UserPool::TYPE];
    type Live = Lookup<LiveClient>;
    type Ref = SignIn;

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        use crate::resources::testing;
        testing::client(stack).map_or(Lookup::Missing, Lookup::Found)
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Lookup<LiveClient>, Error> {
        let Some(spec) = cx.stack.one::<Client>() else {
            return Ok(Lookup::Missing);
        };
        // A pool that is not the stack's (and not being adopted) is not looked into.
        match cx.id_of::<UserPool>().await? {
            Some(pool_id) => read(cx, spec, &pool_id).await,
            None => Ok(Lookup::Missing),
        }
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let Some(spec) = cx.stack.one::<Client>() {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let pool_id = cx.id::<UserPool>()?;
        if r.action == Action::Delete {
            let extra: &Extra = r.payload()?;
            delete(cx, &r.address, &pool_id, &extra.id).await?;
            return Ok(extra.id.clone());
        }
        let step: &Step = r.payload()?;
        match &step.live {
            None => create(cx, &r.address, &step.spec, &pool_id).await,
            Some(client) => update(cx, &r.address, &step.spec, &pool_id, client).await,
        }
    }

    fn plan_destroy(cx: &PlanContext<'_>, o: &crate::engine::Destroying, planner: &mut Planner) {
        destroy::plan_destroy(cx, o, planner);
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        destroy::delete_doomed(cx, r).await
    }

    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        destroy::destroy_permissions(stack, vars)
    }

    fn id(_stack: &Stack, live: &Lookup<LiveClient>) -> Option<String> {
        live.found().map(|c| c.id.clone())
    }

    fn declared_names(stack: &Stack) -> Vec<String> {
        stack.all::<Client>().map(|c| c.name.clone()).collect()
    }

    fn reference(stack: &Stack, live: &Lookup<LiveClient>) -> Option<SignIn> {
        let spec = stack.one::<Client>()?;
        Some(SignIn {
            live: live.found().map(|c| SignInClient {
                id: c.id.clone(),
                explicit_auth_flows: c.explicit_auth_flows.clone(),
                has_secret: c.has_secret,
            }),
            declared_password_flow: spec.explicit_auth_flows.iter().any(|f| {
                matches!(
                    f,
                    AuthFlow::AllowUserPasswordAuth | AuthFlow::AllowAdminUserPasswordAuth
                )
            }),
        })
    }

    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        vec![(
            "client_id",
            cx.live.get::<Client>().found().map(|c| c.id.clone()),
        )]
    }
}

async fn read(
    cx: &ReadContext<'_>,
    spec: &ClientSpec,
    pool_id: &str,
) -> Result<Lookup<LiveClient>, Error> {
    let addr = address(Client::TYPE, &spec.name);
    let ids = same_named(cx.aws, &addr, &spec.name, pool_id).await?;
    match ids.len() {
        0 => Ok(Lookup::Missing),
        1 => Ok(Lookup::Found(
            describe(cx.aws, &addr, pool_id, &ids[0]).await?,
        )),
        _ => {
            let clients = described(cx.aws, &addr, pool_id, &ids).await?;
            // The one the runtime's authorizer allows is kept.
            let allowed = cx.named_by_dependents::<Client>().await?;
            Ok(choose(clients, &allowed))
        }
    }
}

/// The ids of the clients named `name` in the pool.
async fn same_named(
    aws: &Aws,
    addr: &str,
    name: &str,
    pool_id: &str,
) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    let mut pages = aws
        .cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(addr, "ListUserPoolClients", e))?;
        ids.extend(
            page.user_pool_clients()
                .iter()
                .filter(|c| c.client_name() == Some(name))
                .filter_map(|c| c.client_id().map(str::to_owned)),
        );
    }
    Ok(ids)
}

/// The clients `ids`, described; one deleted meanwhile is left out.
async fn described(
    aws: &Aws,
    addr: &str,
    pool_id: &str,
    ids: &[String],
) -> Result<Vec<LiveClient>, Error> {
    aws.all_found(ids, "ResourceNotFoundException", |id| {
        describe(aws, addr, pool_id, id)
    })
    .await
}

/// Among same-named clients: the one the runtime allows (the oldest of those), else the oldest;
/// the others as its duplicates.
fn choose(mut clients: Vec<LiveClient>, allowed: &[String]) -> Lookup<LiveClient> {
    clients.sort_by(|a, b| {
        age_key(a.created.as_ref(), &a.id).cmp(&age_key(b.created.as_ref(), &b.id))
    });
    if clients.is_empty() {
        return Lookup::Missing;
    }
    let kept = clients
        .iter()
        .position(|c| allowed.contains(&c.id))
        .unwrap_or(0);
    let mut client = clients.remove(kept);
    client.duplicates = clients
        .into_iter()
        .map(|c| DuplicateClient {
            allowed_by_runtime: allowed.contains(&c.id),
            id: c.id,
            created: c.created,
        })
        .collect();
    Lookup::Found(client)
}

async fn describe(aws: &Aws, addr: &str, pool_id: &str, id: &str) -> Result<LiveClient, Error> {
    let out = aws
        .cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "DescribeUserPoolClient", e))?;
    let raw = out
        .user_pool_client()
        .cloned()
        .unwrap_or_else(|| UserPoolClientType::builder().build());
    let mut flows: Vec<String> = raw
        .explicit_auth_flows()
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    flows.sort();
    flows.dedup();
    Ok(LiveClient {
        id: id.to_owned(),
        explicit_auth_flows: flows,
        has_secret: raw.client_secret().is_some(),
        created: raw.creation_date().cloned(),
        raw,
        duplicates: Vec::new(),
    })
}

const NOUN: Noun = Noun {
    one: "an app client",
    many: "app clients",
    ours: "exist in the pool",
};

fn plan(cx: &PlanContext, spec: &ClientSpec, planner: &mut Planner) {
    let addr = planner.address(&spec.name);
    let lookup = cx.live.get::<Client>();
    let Some(claim) = claim(
        planner,
        &addr,
        &spec.name,
        lookup,
        NOUN,
        false,
        &cx.stack.name,
    ) else {
        return;
    };
    let live = claim.live;
    if let Some(client) = live {
        let allowed: Vec<&str> = client
            .duplicates
            .iter()
            .filter(|d| d.allowed_by_runtime)
            .map(|d| d.id.as_str())
            .collect();
        if !allowed.is_empty() {
            planner.block(
                &addr,
                None,
                format!(
                    "{} app clients named {:?} exist in the pool (left by two applies at once), \
                     and the runtime's authorizer allows {} of them: {}, {}. infra keeps {} and \
                     deletes only clients the runtime does not allow; delete the others by hand: \
                     aws cognito-idp delete-user-pool-client --user-pool-id <pool> --client-id <id>",
                    client.duplicates.len() + 1,
                    spec.name,
                    allowed.len() + 1,
                    client.id,
                    allowed.join(", "),
                    client.id
                ),
            );
            return;
        }
    }
    if let Some(client) = live
        && client.has_secret != spec.generate_secret
    {
        planner.block(
            &addr,
            Some("generate_secret"),
            format!(
                "is {} in AWS and {} in the stack; Cognito cannot add or remove a client secret in place. \
                 Keep the live value, or declare a new client under another name",
                client.has_secret, spec.generate_secret
            ),
        );
    }

    let mut changes = Changes::default();
    let desired_flows: Vec<&str> = sorted(
        spec.explicit_auth_flows
            .iter()
            .map(|f| f.as_aws())
            .collect(),
    );
    changes.value(
        "explicit_auth_flows",
        live.map(|c| {
            c.explicit_auth_flows
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        }),
        desired_flows,
    );
    if live.is_none() {
        changes.value("generate_secret", None, spec.generate_secret);
        match planner
            .planned_kind::<UserPool>()
            .and_then(|p| p.id.clone())
        {
            Some(pool_id) => changes.value("user_pool_id", None, pool_id),
            None => changes.push("user_pool_id", Shown::Absent, Shown::KnownAfterApply),
        }
    }
    planner.add(
        Planned::new(&spec.name, changes, live.map(|c| c.id.clone())).with_payload(Step {
            spec: spec.clone(),
            live: live.cloned(),
        }),
    );
    for duplicate in live.map_or(&[][..], |c| &c.duplicates[..]) {
        let kept = live.map_or("", |c| c.id.as_str());
        planner.add(
            planned_duplicate(
                &spec.name,
                "client_id",
                &duplicate.id,
                duplicate.created.as_ref(),
                format!(
                    "a second app client named {:?} in the pool (left by two applies at once); \
                     the stack keeps {kept}, and the runtime does not allow this one",
                    spec.name
                ),
            )
            .with_payload(Extra {
                id: duplicate.id.clone(),
            }),
        );
    }
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

fn flows(spec: &ClientSpec) -> Vec<ExplicitAuthFlowsType> {
    spec.explicit_auth_flows
        .iter()
        .map(|f| ExplicitAuthFlowsType::from(f.as_aws()))
        .collect()
}

/// Returns the id of the client to carry on with: the new one, or the one another apply
/// created at the same time (see [`settle`]).
async fn create(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &ClientSpec,
    pool_id: &str,
) -> Result<String, Error> {
    let out = cx
        .aws
        .cognito
        .create_user_pool_client()
        .user_pool_id(pool_id)
        .client_name(&spec.name)
        .set_explicit_auth_flows(Some(flows(spec)))
        .generate_secret(spec.generate_secret)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "CreateUserPoolClient", e))?;
    let mine = out
        .user_pool_client()
        .and_then(|c| c.client_id())
        .map(str::to_owned)
        .ok_or_else(|| Error::new(addr, "CreateUserPoolClient", "AWS returned no client id"))?;
    let created = out
        .user_pool_client()
        .and_then(|c| c.creation_date())
        .cloned();
    settle(cx, addr, spec, pool_id, &mine, created.as_ref()).await
}

/// Client names are not unique in a pool: another apply may have created the same client at
/// the same time. Every apply keeps the oldest with the name (creation date, then id); this one
/// deletes its own client when it is not that one, and carries on with the survivor.
async fn settle(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &ClientSpec,
    pool_id: &str,
    mine: &str,
    created: Option<&DateTime>,
) -> Result<String, Error> {
    let ids = same_named(cx.aws, addr, &spec.name, pool_id).await?;
    if ids.iter().all(|id| id == mine) {
        return Ok(mine.to_owned());
    }
    // Every racer compares what the same reads return; this one's own client from the
    // create's answer only when the list does not show it yet.
    let clients = described(cx.aws, addr, pool_id, &ids).await?;
    let listed = clients.iter().any(|c| c.id == mine);
    let oldest = clients
        .iter()
        .map(|c| age_key(c.created.as_ref(), &c.id))
        .chain((!listed).then(|| age_key(created, mine)))
        .min()
        .map(|(_, _, id)| id.to_owned())
        .unwrap_or_else(|| mine.to_owned());
    if oldest == mine {
        return Ok(oldest);
    }
    cx.progress.line(&format!(
        "{addr}: another apply created the same client at the same time; keeping the older one \
         ({oldest}) and deleting the one this apply created ({mine})"
    ));
    delete(cx, addr, pool_id, mine).await?;
    Ok(oldest)
}

/// Delete a client (a duplicate); already gone is fine.
async fn delete(cx: &ApplyContext<'_>, addr: &str, pool_id: &str, id: &str) -> Result<(), Error> {
    let result = cx
        .aws
        .cognito
        .delete_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "DeleteUserPoolClient", e));
    not_found_as_none(result, "ResourceNotFoundException")?;
    Ok(())
}

/// `UpdateUserPoolClient` resets every field it is not sent: desired values for what the stack
/// manages, live values for the rest.
async fn update(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &ClientSpec,
    pool_id: &str,
    client: &LiveClient,
) -> Result<String, Error> {
    let live = &client.raw;
    cx.aws
        .cognito
        .update_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(&client.id)
        .client_name(&spec.name)
        .set_explicit_auth_flows(Some(flows(spec)))
        .set_refresh_token_validity(Some(live.refresh_token_validity()).filter(|v| *v != 0))
        .set_access_token_validity(live.access_token_validity())
        .set_id_token_validity(live.id_token_validity())
        .set_token_validity_units(live.token_validity_units().cloned())
        .set_read_attributes(non_empty(live.read_attributes()))
        .set_write_attributes(non_empty(live.write_attributes()))
        .set_supported_identity_providers(non_empty(live.supported_identity_providers()))
        .set_callback_urls(non_empty(live.callback_urls()))
        .set_logout_urls(non_empty(live.logout_urls()))
        .set_default_redirect_uri(live.default_redirect_uri().map(str::to_owned))
        .set_allowed_o_auth_flows(non_empty(live.allowed_o_auth_flows()))
        .set_allowed_o_auth_scopes(non_empty(live.allowed_o_auth_scopes()))
        .set_allowed_o_auth_flows_user_pool_client(live.allowed_o_auth_flows_user_pool_client())
        .set_analytics_configuration(live.analytics_configuration().cloned())
        .set_prevent_user_existence_errors(live.prevent_user_existence_errors().cloned())
        .set_enable_token_revocation(live.enable_token_revocation())
        .set_enable_propagate_additional_user_context_data(
            live.enable_propagate_additional_user_context_data(),
        )
        .set_auth_session_validity(live.auth_session_validity())
        .set_refresh_token_rotation(live.refresh_token_rotation().cloned())
        .send()
        .await
        .map_err(|e| Error::aws(addr, "UpdateUserPoolClient", e))?;
    Ok(client.id.clone())
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

#[cfg(test)]
mod tests;
