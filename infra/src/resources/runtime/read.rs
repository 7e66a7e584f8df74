//! Reading the runtime: found by name, described with its tags and its DEFAULT endpoint.

use super::*;

pub(super) async fn read(aws: &Aws, spec: &RuntimeSpec, stack: &str) -> Result<Found, Error> {
    let addr = address(Runtime::TYPE, &spec.name);
    let mut all = Vec::new();
    let mut pages = aws.agentcore.list_agent_runtimes().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(&addr, "ListAgentRuntimes", e))?;
        all.extend(page.agent_runtimes().iter().map(|r| {
            (
                r.agent_runtime_name().to_owned(),
                r.agent_runtime_id().to_owned(),
                r.agent_runtime_arn().to_owned(),
            )
        }));
    }
    let ids: Vec<String> = all
        .iter()
        .filter(|(name, ..)| *name == spec.name)
        .map(|(_, id, _)| id.clone())
        .collect();
    let runtime = match ids.as_slice() {
        [] => Lookup::Missing,
        [id] => Lookup::Found(get(aws, &addr, id, stack).await?),
        _ => Lookup::Many { ids, owned: false },
    };
    let mut named_otherwise = Vec::new();
    if matches!(runtime, Lookup::Missing) {
        // Only when the declared name is absent (a first create, or a rename): which of the
        // account's runtimes carry this stack's tag?
        let addr = &addr;
        let tagged = aws
            .all(all.iter().map(|(name, _, arn)| async move {
                let tags = tags_of(aws, addr, arn).await?;
                Ok(owned_by(&tags, stack).then(|| (name.clone(), arn.clone())))
            }))
            .await?;
        named_otherwise = tagged.into_iter().flatten().collect();
    }
    Ok(Found {
        runtime,
        named_otherwise,
    })
}

pub(super) async fn tags_of(
    aws: &Aws,
    addr: &str,
    arn: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let tags = aws
        .agentcore
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "ListTagsForResource", e))?;
    Ok(tags
        .tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect())
}

/// The DEFAULT endpoint's status and live version; `None` when there is none.
pub(super) async fn default_endpoint(
    aws: &Aws,
    addr: &str,
    id: &str,
) -> Result<Option<(String, Option<String>)>, Error> {
    let result = aws
        .agentcore
        .get_agent_runtime_endpoint()
        .agent_runtime_id(id)
        .endpoint_name("DEFAULT")
        .send()
        .await
        .map_err(|e| Error::aws(addr, "GetAgentRuntimeEndpoint", e));
    Ok(
        crate::engine::not_found_as_none(result, "ResourceNotFoundException")?.map(|e| {
            (
                e.status().as_str().to_owned(),
                e.live_version().map(str::to_owned),
            )
        }),
    )
}

/// Read one runtime by id, with its tags and its DEFAULT endpoint.
pub(super) async fn get(
    aws: &Aws,
    addr: &str,
    id: &str,
    stack: &str,
) -> Result<LiveRuntime, Error> {
    let out = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "GetAgentRuntime", e))?;
    let (tags, default_endpoint) = aws
        .both(
            tags_of(aws, addr, out.agent_runtime_arn()),
            default_endpoint(aws, addr, id),
        )
        .await?;
    let container_uri = match out.agent_runtime_artifact() {
        Some(AgentRuntimeArtifact::ContainerConfiguration(c)) => Some(c.container_uri().to_owned()),
        _ => None,
    };
    let jwt = match out.authorizer_configuration() {
        Some(AuthorizerConfiguration::CustomJwtAuthorizer(jwt)) => Some(jwt),
        _ => None,
    };
    let sorted = |list: &[String]| {
        let mut list = list.to_vec();
        list.sort();
        list
    };
    let authorizer = jwt.map(|jwt| {
        (
            jwt.discovery_url().to_owned(),
            sorted(jwt.allowed_clients()),
        )
    });
    let request_header_allowlist = match out.request_header_configuration() {
        Some(RequestHeaderConfiguration::RequestHeaderAllowlist(headers)) => sorted(headers),
        _ => Vec::new(),
    };
    let carried = Carried {
        jwt: jwt.cloned(),
        protocol: out.protocol_configuration().cloned(),
        filesystem_configurations: Some(out.filesystem_configurations().to_vec())
            .filter(|f| !f.is_empty()),
        capacity_provider_configuration: out.capacity_provider_configuration().cloned(),
        platform_version: out.platform_version().map(str::to_owned),
        allowed_ports: Some(out.allowed_ports().to_vec()).filter(|p| !p.is_empty()),
    };
    let lifecycle = out.lifecycle_configuration();
    Ok(LiveRuntime {
        id: out.agent_runtime_id().to_owned(),
        arn: out.agent_runtime_arn().to_owned(),
        version: out.agent_runtime_version().to_owned(),
        status: out.status().as_str().to_owned(),
        failure_reason: out.failure_reason().map(str::to_owned),
        owned: owned_by(&tags, stack),
        tags,
        container_uri,
        role_arn: out.role_arn().to_owned(),
        network_mode: out
            .network_configuration()
            .map_or("PUBLIC", |n| n.network_mode().as_str())
            .to_owned(),
        protocol: out
            .protocol_configuration()
            .map(|p| p.server_protocol().as_str().to_owned()),
        description: out
            .description()
            .map(str::to_owned)
            .filter(|d| !d.is_empty()),
        environment: out
            .environment_variables()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        idle_timeout_seconds: lifecycle.and_then(|l| l.idle_runtime_session_timeout()),
        max_lifetime_seconds: lifecycle.and_then(|l| l.max_lifetime()),
        allowed_scopes: jwt.map_or_else(Vec::new, |j| sorted(j.allowed_scopes())),
        allowed_audience: jwt.map_or_else(Vec::new, |j| sorted(j.allowed_audience())),
        default_endpoint,
        authorizer,
        request_header_allowlist,
        carried,
        require_mmdsv2: out
            .metadata_configuration()
            .is_some_and(|m| m.require_mmdsv2()),
        same_image_as: None,
    })
}
