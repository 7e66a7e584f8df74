//! Applying the runtime: the whole configuration on create and update (UpdateAgentRuntime
//! resets what it is not sent), retried while a new role propagates.

use super::*;

/// The errors AWS returns while a new role, or its permissions, are still propagating.
pub(super) fn is_propagation_error(e: &Error) -> bool {
    [
        "Role validation failed",
        "cannot be assumed",
        "Access denied while validating ECR URI",
    ]
    .iter()
    .any(|m| e.message.contains(m))
}

/// The whole configuration a create or an update sends.
#[derive(Clone)]
pub(super) struct Configuration {
    artifact: AgentRuntimeArtifact,
    role_arn: String,
    network: NetworkConfiguration,
    protocol: ProtocolConfiguration,
    lifecycle: LifecycleConfiguration,
    description: Option<String>,
    authorizer: Option<AuthorizerConfiguration>,
    request_headers: Option<RequestHeaderConfiguration>,
    environment: HashMap<String, String>,
    /// Carried over from the live runtime (never set on create).
    filesystem_configurations: Option<Vec<FilesystemConfiguration>>,
    capacity_provider_configuration: Option<CapacityProviderConfiguration>,
    platform_version: Option<String>,
    allowed_ports: Option<Vec<AllowedPort>>,
}

/// Build the configuration from the plan's step and the ids known now.
pub(super) async fn configuration(
    cx: &ApplyContext<'_>,
    step: &Step,
) -> Result<Configuration, Error> {
    let spec = &step.spec;
    // A tag in a repository this apply created: resolved now.
    let image = match cx.resolve::<Image>().await? {
        Some(uri) => uri,
        None => step.container_uri.clone(),
    };
    let carried = step
        .live
        .as_ref()
        .map(|r| &r.carried)
        .cloned()
        .unwrap_or_default();
    let authorizer = if step.authorizer {
        // The live authorizer as the base: what the stack does not model (custom claims,
        // scope mapping, private endpoints) is sent back unchanged.
        let mut jwt = carried.jwt.unwrap_or_else(|| {
            CustomJwtAuthorizerConfiguration::builder()
                .discovery_url("")
                .build()
                .expect("discovery URL is set")
        });
        let pool = cx.id::<UserPool>()?;
        jwt.discovery_url = cx
            .derived::<UserPool>(DISCOVERY_URL, &pool)
            .ok_or_else(|| {
                Error::new(
                    UserPool::TYPE,
                    "apply",
                    "the pool gives no OIDC discovery URL for its id",
                )
            })?;
        jwt.allowed_clients = Some(vec![cx.id::<Client>()?]);
        jwt.allowed_scopes = Some(spec.allowed_scopes.clone()).filter(|s| !s.is_empty());
        jwt.allowed_audience = Some(spec.allowed_audience.clone()).filter(|a| !a.is_empty());
        Some(AuthorizerConfiguration::CustomJwtAuthorizer(jwt))
    } else {
        None
    };
    // The live protocol as the base: its port and path are kept.
    let mut protocol = carried.protocol.unwrap_or_else(|| {
        ProtocolConfiguration::builder()
            .server_protocol(ServerProtocol::from(spec.protocol.as_aws()))
            .build()
            .expect("protocol is set")
    });
    protocol.server_protocol = ServerProtocol::from(spec.protocol.as_aws());
    let live_environment = step.live.as_ref().map(|r| &r.environment);
    let mut environment: HashMap<String, String> = spec
        .environment
        .iter()
        .filter_map(|(key, value)| {
            let value = match value {
                EnvValue::Plain(text) => text.clone(),
                EnvValue::Secret {
                    value: Some(secret),
                    ..
                } => secret.expose().clone(),
                // Unset locally: keep what the runtime has (plan refused when it has nothing).
                EnvValue::Secret { value: None, .. } => live_environment?.get(key)?.clone(),
            };
            Some((key.clone(), value))
        })
        .collect();
    for (variable, arn) in &step.secret_arns {
        let arn = match arn {
            SecretArn::Known(arn) => arn.clone(),
            SecretArn::Created(key) => cx.id_named::<Secret>(key)?,
        };
        environment.insert(variable.clone(), arn);
    }
    Ok(Configuration {
        artifact: AgentRuntimeArtifact::ContainerConfiguration(
            ContainerConfiguration::builder()
                .container_uri(image)
                .build()
                .expect("uri is set"),
        ),
        role_arn: step.role_arn.clone(),
        network: NetworkConfiguration::builder()
            .network_mode(NetworkMode::from(spec.network_mode.as_aws()))
            .build()
            .expect("mode is set"),
        protocol,
        lifecycle: LifecycleConfiguration::builder()
            .idle_runtime_session_timeout(spec.idle_timeout_seconds)
            .max_lifetime(spec.max_lifetime_seconds)
            .build(),
        description: spec.description.clone(),
        authorizer,
        request_headers: Some(spec.request_header_allowlist.clone())
            .filter(|h| !h.is_empty())
            .map(RequestHeaderConfiguration::RequestHeaderAllowlist),
        environment,
        filesystem_configurations: carried.filesystem_configurations,
        capacity_provider_configuration: carried.capacity_provider_configuration,
        platform_version: carried.platform_version,
        allowed_ports: carried.allowed_ports,
    })
}

/// Create, or update with the whole configuration, then wait until DEFAULT serves the new
/// version. Returns the id.
pub(super) async fn apply(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
) -> Result<String, Error> {
    match &step.live {
        None => create(cx, r, step).await,
        Some(live) => apply_to_live(cx, r, step, live).await,
    }
}

/// Update the live runtime with the whole configuration (or only its tags).
pub(super) async fn apply_to_live(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
    live: &LiveRuntime,
) -> Result<String, Error> {
    let addr = &r.address;
    if step.only_wait {
        wait_until_deployed(cx, addr, "GetAgentRuntime", &live.id, &live.version).await?;
        return Ok(live.id.clone());
    }
    if step.only_tags {
        tag(cx, addr, live).await?;
        return Ok(live.id.clone());
    }
    let config = configuration(cx, step).await?;
    if step.recover {
        return recover(cx, r, step, live, &config).await;
    }
    update(cx, addr, &live.id, &config).await?;
    if r.changes("tags") {
        tag(cx, addr, live).await?;
    }
    Ok(live.id.clone())
}

/// Whether AWS refused to update a runtime because it failed to create. Not documented:
/// AgentCore's API reference lists ConflictException ("a conflict performing an operation") and
/// ValidationException for UpdateAgentRuntime, and no state in which an update is accepted; the
/// Terraform provider replaces such a runtime. Both are taken as that refusal here; a
/// ValidationException that is really about the configuration meets the create again, which
/// reports it.
pub(super) fn refuses_failed_runtime(e: &Error) -> bool {
    e.code_is("ConflictException") || e.code_is("ValidationException")
}

/// A runtime that failed to create: `UpdateAgentRuntime` with the whole configuration; when AWS
/// refuses to update it, delete it (it never served a request: the one delete infra makes on
/// its own) and create it again. Returns the id.
pub(super) async fn recover(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
    live: &LiveRuntime,
    config: &Configuration,
) -> Result<String, Error> {
    let addr = &r.address;
    match update(cx, addr, &live.id, config).await {
        Ok(_) => {
            if r.changes("tags") {
                tag(cx, addr, live).await?;
            }
            return Ok(live.id.clone());
        }
        Err(e) if e.operation == "UpdateAgentRuntime" && refuses_failed_runtime(&e) => {
            cx.progress.line(&format!(
                "{addr}: AWS refused to update the runtime that failed to create ({}: {}); \
                 deleting it (it never served a request) and creating it again",
                e.code.as_deref().unwrap_or("error"),
                e.message
            ));
        }
        Err(e) => return Err(e),
    }
    super::destroy::delete_runtime(cx, addr, &live.id).await?;
    cx.progress
        .line(&format!("{addr}: deleted {}; creating it again", live.id));
    let fresh = Step {
        live: None,
        recover: false,
        ..step.clone()
    };
    // The failed create's token would name the deleted runtime: salted with its id.
    Box::pin(create_salted(cx, r, &fresh, live.id.clone())).await
}

/// The `clientToken` of a create: a hash of the stack's name, the runtime's name and the whole
/// request. Two applies at once that send the same create get one runtime (AWS answers the
/// repeat with the first one's result); a different request gets another token, so it meets
/// AWS's name check (ConflictException), never IdempotentParameterMismatch. `salt` is empty,
/// except after AWS answered with a runtime that no longer exists (a runtime deleted within
/// AWS's idempotency window, then declared again unchanged): then its id.
pub(super) fn client_token(
    stack: &Stack,
    name: &str,
    config: &Configuration,
    salt: &str,
) -> String {
    let mut environment: Vec<_> = config.environment.iter().collect();
    environment.sort();
    let request = format!(
        "infra agentcore_runtime create v1\n{}\n{name}\n{salt}\n{:?}\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        stack.name,
        config.artifact,
        config.role_arn,
        config.network,
        config.protocol,
        config.lifecycle,
        config.description,
        config.authorizer,
        config.request_headers,
        environment,
        stack.tags(),
    );
    // AWS's pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}, 33 to 256 characters.
    format!(
        "infra-{}",
        &crate::container::sha256_hex(request.as_bytes())[..48]
    )
}

/// Create with a `clientToken` ([`client_token`]), then wait until DEFAULT serves it. A runtime
/// with the name that exists after all (ConflictException: another apply created it meanwhile,
/// or a retry with another token did) is read and, when it is this stack's, updated to match
/// the stack. Returns the id.
pub(super) async fn create(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
) -> Result<String, Error> {
    create_salted(cx, r, step, String::new()).await
}

/// [`create`], with a token salted by `salt` (a runtime this apply deleted) unless empty.
pub(super) async fn create_salted(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
    mut salt: String,
) -> Result<String, Error> {
    let addr = &r.address;
    let config = configuration(cx, step).await?;
    let mut repeated = false;
    loop {
        let token = client_token(cx.stack, &step.spec.name, &config, &salt);
        let result = retry_propagation(cx, addr, "CreateAgentRuntime", || {
            let c = config.clone();
            cx.aws
                .agentcore
                .create_agent_runtime()
                .agent_runtime_name(&step.spec.name)
                .client_token(&token)
                .agent_runtime_artifact(c.artifact)
                .role_arn(c.role_arn)
                .network_configuration(c.network)
                .protocol_configuration(c.protocol)
                .lifecycle_configuration(c.lifecycle)
                .set_description(c.description)
                .set_authorizer_configuration(c.authorizer)
                .set_request_header_configuration(c.request_headers)
                .set_environment_variables(Some(c.environment).filter(|e| !e.is_empty()))
                .set_tags(Some(cx.stack.tags().into_iter().collect()))
                .send()
        })
        .await;
        let out = match result {
            Err(e) if e.code_is("ConflictException") => {
                cx.found_on_create(addr, "continuing with it");
                let found = read(cx.aws, &step.spec, &cx.stack.name).await?;
                if !matches!(found.runtime, Lookup::Found(_)) {
                    return Err(e);
                }
                let r = replan::<Runtime>(cx, addr, "CreateAgentRuntime", found)?;
                let step: &Step = r.payload()?;
                let live = step.live.as_ref().ok_or(e)?;
                // The other apply's create first: AWS does not update a runtime while it is
                // being created.
                wait_until_deployed(cx, addr, "CreateAgentRuntime", &live.id, &live.version)
                    .await?;
                return apply_to_live(cx, &r, step, live).await;
            }
            other => other?,
        };
        let id = out.agent_runtime_id().to_owned();
        let deployed = match wait_until_deployed(
            cx,
            addr,
            "CreateAgentRuntime",
            &id,
            out.agent_runtime_version(),
        )
        .await
        {
            // The token named a runtime that is gone: create anew, once.
            Err(e) if e.code_is("ResourceNotFoundException") && !repeated => {
                repeated = true;
                salt = id;
                continue;
            }
            other => other?,
        };
        // CreateAgentRuntime cannot ask for MMDSv2; AWS turns it on for new runtimes. Where
        // it did not, one update does, so a new runtime never starts without it.
        if !deployed.require_mmdsv2 {
            cx.progress.line(&format!(
                "{addr}: created without requireMMDSV2; turning it on (AWS rejects invocations otherwise)"
            ));
            update(cx, addr, &id, &config).await?;
        }
        return Ok(id);
    }
}

/// `UpdateAgentRuntime` with the whole configuration and `requireMMDSV2 = true` (AWS rejects
/// invocations of a runtime without it), then wait until DEFAULT serves the new version.
pub(super) async fn update(
    cx: &ApplyContext<'_>,
    addr: &str,
    id: &str,
    config: &Configuration,
) -> Result<Deployed, Error> {
    let out = retry_propagation(cx, addr, "UpdateAgentRuntime", || {
        let c = config.clone();
        cx.aws
            .agentcore
            .update_agent_runtime()
            .agent_runtime_id(id)
            .agent_runtime_artifact(c.artifact)
            .role_arn(c.role_arn)
            .network_configuration(c.network)
            .protocol_configuration(c.protocol)
            .lifecycle_configuration(c.lifecycle)
            .set_description(c.description)
            .set_authorizer_configuration(c.authorizer)
            .set_request_header_configuration(c.request_headers)
            .set_environment_variables(Some(c.environment))
            .set_filesystem_configurations(c.filesystem_configurations)
            .set_capacity_provider_configuration(c.capacity_provider_configuration)
            .set_platform_version(c.platform_version)
            .set_allowed_ports(c.allowed_ports)
            .metadata_configuration(
                RuntimeMetadataConfiguration::builder()
                    .require_mmdsv2(true)
                    .build()
                    .expect("requireMMDSV2 is set"),
            )
            .send()
    })
    .await?;
    wait_until_deployed(
        cx,
        addr,
        "UpdateAgentRuntime",
        id,
        out.agent_runtime_version(),
    )
    .await
}

/// (Re)write the stack's tags on a runtime: tags are not part of UpdateAgentRuntime.
pub(super) async fn tag(
    cx: &ApplyContext<'_>,
    addr: &str,
    live: &LiveRuntime,
) -> Result<(), Error> {
    cx.aws
        .agentcore
        .tag_resource()
        .resource_arn(&live.arn)
        .set_tags(Some(cx.stack.tags().into_iter().collect()))
        .send()
        .await
        .map_err(|e| Error::aws(addr, "TagResource", e))?;
    Ok(())
}

/// Call `send` again while AWS reports IAM propagation errors, with a bounded backoff.
pub(super) async fn retry_propagation<T, E, F, Fut>(
    cx: &ApplyContext<'_>,
    addr: &str,
    operation: &'static str,
    send: F,
) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: aws_sdk_bedrockagentcorecontrol::error::ProvideErrorMetadata
        + crate::error::AnswerStatus
        + std::error::Error
        + 'static,
{
    let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(20))
        .within(Duration::from_secs(90));
    loop {
        match send().await.map_err(|e| Error::aws(addr, operation, e)) {
            Err(e) if is_propagation_error(&e) => {
                let Some(delay) = backoff.next_delay() else {
                    return Err(e);
                };
                cx.progress.line(&format!(
                    "{addr}: the execution role is still propagating ({}); retrying in {}s",
                    e.message,
                    delay.as_secs()
                ));
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}
