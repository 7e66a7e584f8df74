//! `cognito_user_pool_client`: found by name inside the stack's pool.

use aws_sdk_cognitoidentityprovider::types::{ExplicitAuthFlowsType, UserPoolClientType};

use super::Lookup;
use super::cognito_pool::{self, default_reason};
use crate::apply::ApplyContext;
use crate::aws::{Aws, AwsError};
use crate::plan::{Changes, Kind, PlanContext, Planner, ResourcePlan, Shown};
use crate::stack::ClientSpec;

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

pub fn address(spec: &ClientSpec) -> String {
    format!("cognito_user_pool_client.{}", spec.name)
}

pub async fn read(
    aws: &Aws,
    spec: &ClientSpec,
    pool_id: &str,
) -> Result<Lookup<LiveClient>, AwsError> {
    let addr = address(spec);
    let mut ids = Vec::new();
    let mut pages = aws
        .cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(&addr, "ListUserPoolClients", e))?;
        ids.extend(
            page.user_pool_clients()
                .iter()
                .filter(|c| c.client_name() == Some(spec.name.as_str()))
                .filter_map(|c| c.client_id().map(str::to_owned)),
        );
    }
    match ids.len() {
        0 => Ok(Lookup::Missing),
        1 => {
            let client = describe(aws, &addr, pool_id, &ids[0]).await?;
            Ok(Lookup::Found(client))
        }
        _ => Ok(Lookup::Many { ids, owned: true }),
    }
}

async fn describe(aws: &Aws, addr: &str, pool_id: &str, id: &str) -> Result<LiveClient, AwsError> {
    let out = aws
        .cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(id)
        .send()
        .await
        .map_err(|e| AwsError::new(addr, "DescribeUserPoolClient", e))?;
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

pub fn plan(cx: &PlanContext, planner: &mut Planner) {
    let (Some(spec), Some(pool_spec)) = (&cx.stack.client, &cx.stack.user_pool) else {
        return;
    };
    let addr = address(spec);
    let pool_addr = cognito_pool::address(pool_spec);
    if planner.is_blocked(&pool_addr) {
        return;
    }
    let live = match &cx.live.client {
        Lookup::Missing => None,
        Lookup::Found(c) => Some(c),
        Lookup::Many { ids, .. } => {
            planner.block(
                &addr,
                None,
                format!(
                    "{} app clients named {:?} exist in the pool: {}. Delete the extra ones; infra never guesses",
                    ids.len(),
                    spec.name,
                    ids.join(", ")
                ),
            );
            return;
        }
    };
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
        match planner.planned(&pool_addr).and_then(|p| p.id.clone()) {
            Some(pool_id) => changes.value("user_pool_id", None, pool_id),
            None => changes.push("user_pool_id", Shown::Absent, Shown::KnownAfterApply),
        }
    }
    let action = changes.action(live.is_some());
    planner.resources.push(ResourcePlan {
        address: addr,
        name: spec.name.clone(),
        kind: Kind::Client,
        action,
        id: live.map(|c| c.id.clone()),
        reason: default_reason(action),
        changes: changes.into_vec(),
        notes: Vec::new(),
        depends_on: vec![pool_addr],
    });
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

/// Create, or update with the whole desired configuration. Returns the client id.
pub async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, AwsError> {
    let spec = cx
        .stack
        .client
        .as_ref()
        .expect("planned clients are declared");
    let pool_addr =
        cognito_pool::address(cx.stack.user_pool.as_ref().expect("clients need a pool"));
    let pool_id = cx.id_of(&pool_addr);
    let flows: Vec<ExplicitAuthFlowsType> = spec
        .explicit_auth_flows
        .iter()
        .map(|f| ExplicitAuthFlowsType::from(f.as_aws()))
        .collect();
    match cx.live.client.found() {
        None => {
            let out = cx
                .aws
                .cognito
                .create_user_pool_client()
                .user_pool_id(&pool_id)
                .client_name(&spec.name)
                .set_explicit_auth_flows(Some(flows))
                .generate_secret(spec.generate_secret)
                .send()
                .await
                .map_err(|e| AwsError::new(&r.address, "CreateUserPoolClient", e))?;
            Ok(out
                .user_pool_client()
                .and_then(|c| c.client_id())
                .unwrap_or_default()
                .to_owned())
        }
        Some(client) => {
            // UpdateUserPoolClient resets every field it is not sent: desired values for what the
            // stack manages, live values for the rest.
            let live = &client.raw;
            cx.aws
                .cognito
                .update_user_pool_client()
                .user_pool_id(&pool_id)
                .client_id(&client.id)
                .client_name(&spec.name)
                .set_explicit_auth_flows(Some(flows))
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
                .set_allowed_o_auth_flows_user_pool_client(
                    live.allowed_o_auth_flows_user_pool_client(),
                )
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
                .map_err(|e| AwsError::new(&r.address, "UpdateUserPoolClient", e))?;
            Ok(client.id.clone())
        }
    }
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}
