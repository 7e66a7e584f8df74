//! `cognito_user_pool_client`: found by name inside the stack's pool.

pub mod section;

use aws_sdk_cognitoidentityprovider::types::{ExplicitAuthFlowsType, UserPoolClientType};

use super::cognito_pool::{self, UserPool};
use crate::aws::Aws;
use crate::engine::{
    ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned, Planner,
    ReadContext, ResourcePlan, Shown, address, claim,
};
use section::ClientSpec;

#[derive(Debug, Clone)]
pub struct LiveClient {
    pub id: String,
    pub explicit_auth_flows: Vec<String>,
    pub has_secret: bool,
    /// The whole description, so an update can carry over what the stack does not manage.
    pub raw: UserPoolClientType,
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
    pool: String,
    live: Option<LiveClient>,
}

impl Kind for Client {
    const TYPE: &'static str = "cognito_user_pool_client";
    const DEPENDS_ON: &'static [&'static str] = &[UserPool::TYPE];
    type Live = Lookup<LiveClient>;

    async fn read(cx: &ReadContext<'_>) -> Result<Lookup<LiveClient>, Error> {
        let Some(spec) = &cx.stack.client else {
            return Ok(Lookup::Missing);
        };
        // A pool that is not the stack's (and not being adopted) is not looked into.
        match cognito_pool::managed(cx.stack, cx.get::<UserPool>().await?) {
            Some(pool) => read(cx.aws, spec, &pool.id).await,
            None => Ok(Lookup::Missing),
        }
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let (Some(spec), Some(pool)) = (&cx.stack.client, &cx.stack.user_pool) {
            plan(cx, spec, &address(UserPool::TYPE, &pool.name), planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        let pool_id = cx.id_of(&step.pool)?;
        match &step.live {
            None => create(cx, &r.address, &step.spec, &pool_id).await,
            Some(client) => update(cx, &r.address, &step.spec, &pool_id, client).await,
        }
    }

    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        vec![(
            "client_id",
            cx.live.get::<Client>().found().map(|c| c.id.clone()),
        )]
    }
}

async fn read(aws: &Aws, spec: &ClientSpec, pool_id: &str) -> Result<Lookup<LiveClient>, Error> {
    let addr = address(Client::TYPE, &spec.name);
    let mut ids = Vec::new();
    let mut pages = aws
        .cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(&addr, "ListUserPoolClients", e))?;
        ids.extend(
            page.user_pool_clients()
                .iter()
                .filter(|c| c.client_name() == Some(spec.name.as_str()))
                .filter_map(|c| c.client_id().map(str::to_owned)),
        );
    }
    match ids.len() {
        0 => Ok(Lookup::Missing),
        1 => Ok(Lookup::Found(describe(aws, &addr, pool_id, &ids[0]).await?)),
        _ => Ok(Lookup::Many { ids, owned: true }),
    }
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
        raw,
    })
}

const NOUN: Noun = Noun {
    one: "an app client",
    many: "app clients",
    ours: "exist in the pool",
};

fn plan(cx: &PlanContext, spec: &ClientSpec, pool_addr: &str, planner: &mut Planner) {
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
        match planner.planned(pool_addr).and_then(|p| p.id.clone()) {
            Some(pool_id) => changes.value("user_pool_id", None, pool_id),
            None => changes.push("user_pool_id", Shown::Absent, Shown::KnownAfterApply),
        }
    }
    planner.add(
        Planned::new(&spec.name, changes, live.map(|c| c.id.clone())).with_payload(Step {
            spec: spec.clone(),
            pool: pool_addr.to_owned(),
            live: live.cloned(),
        }),
    );
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

/// Returns the new client's id.
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
    out.user_pool_client()
        .and_then(|c| c.client_id())
        .map(str::to_owned)
        .ok_or_else(|| Error::new(addr, "CreateUserPoolClient", "AWS returned no client id"))
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
