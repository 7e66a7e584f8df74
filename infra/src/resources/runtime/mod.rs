//! `agentcore_runtime`: found by name (`ListAgentRuntimes`, paginated), then read by id.
//!
//! `UpdateAgentRuntime` resets every field it is not sent and makes a new version, so it is
//! called only when something differs, and always with the whole desired configuration.

pub mod section;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_bedrockagentcorecontrol::types::{
    AgentRuntimeArtifact, AllowedPort, AuthorizerConfiguration, CapacityProviderConfiguration,
    ContainerConfiguration, CustomJwtAuthorizerConfiguration, FilesystemConfiguration,
    LifecycleConfiguration, NetworkConfiguration, NetworkMode, ProtocolConfiguration,
    RequestHeaderConfiguration, RuntimeMetadataConfiguration, ServerProtocol,
};

use super::cognito_client::Client;
use super::cognito_pool::{DISCOVERY_URL, UserPool};
use super::ecr_repository::Repository;
use super::iam_role::Role;
use super::iam_role_policy::RolePolicy;
use super::image::{Image, ImageRef};
use super::secret::Secret;
use crate::aws::Aws;
use crate::engine::lookup::replan;
use crate::engine::{
    ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned, Planner,
    ReadContext, ResourcePlan, Shown, address, claim, owned_by, tag_changes,
};
use crate::stack::Stack;
use section::{Authorizer, EnvValue, RuntimeSpec};

#[derive(Debug, Clone)]
pub struct LiveRuntime {
    pub id: String,
    pub arn: String,
    pub version: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub owned: bool,
    pub tags: BTreeMap<String, String>,
    pub container_uri: Option<String>,
    pub role_arn: String,
    pub network_mode: String,
    pub protocol: Option<String>,
    pub description: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub idle_timeout_seconds: Option<i32>,
    pub max_lifetime_seconds: Option<i32>,
    /// (discovery URL, allowed clients) of a JWT authorizer.
    pub authorizer: Option<(String, Vec<String>)>,
    /// The JWT authorizer's required scopes and audiences, sorted.
    pub allowed_scopes: Vec<String>,
    pub allowed_audience: Vec<String>,
    /// Request headers passed through to the server, sorted.
    pub request_header_allowlist: Vec<String>,
    /// What the stack does not model, carried over on update (`UpdateAgentRuntime` resets
    /// whatever it is not sent).
    pub carried: Carried,
    /// `metadataConfiguration.requireMMDSV2`: without it AWS rejects invocations.
    pub require_mmdsv2: bool,
    /// The DEFAULT endpoint (the one the MCP URL names): its status and the version it serves;
    /// `None` when it does not exist.
    pub default_endpoint: Option<(String, Option<String>)>,
}

impl LiveRuntime {
    /// Whether the runtime is settled: READY, and DEFAULT READY serving its latest version. An
    /// apply interrupted while it waited (Ctrl-C, a killed CI job) leaves it otherwise.
    pub fn deployed(&self) -> bool {
        self.status == "READY"
            && self.default_endpoint.as_ref().is_none_or(|(status, live)| {
                status == "READY" && live.as_deref() == Some(self.version.as_str())
            })
    }

    /// `runtime READY, DEFAULT UPDATING serving 1`, as a plan shows it.
    fn deployment(&self) -> String {
        match &self.default_endpoint {
            Some((status, live)) => format!(
                "runtime {} v{}, DEFAULT {status} serving v{}",
                self.status,
                self.version,
                live.as_deref().unwrap_or("-")
            ),
            None => format!("runtime {} v{}", self.status, self.version),
        }
    }
}

impl Owned for LiveRuntime {
    fn identifier(&self) -> &str {
        &self.arn
    }
    fn owned(&self) -> bool {
        self.owned
    }
}

/// The parts of a runtime's configuration the stack does not model, as read: an update sends
/// them back unchanged.
#[derive(Debug, Clone, Default)]
pub struct Carried {
    /// The whole JWT authorizer (custom claims, scope mapping, private endpoints, ...).
    pub jwt: Option<CustomJwtAuthorizerConfiguration>,
    /// Protocol, with its port and path.
    pub protocol: Option<ProtocolConfiguration>,
    pub filesystem_configurations: Option<Vec<FilesystemConfiguration>>,
    pub capacity_provider_configuration: Option<CapacityProviderConfiguration>,
    pub platform_version: Option<String>,
    pub allowed_ports: Option<Vec<AllowedPort>>,
}

/// What the search by name found, and, when nothing has the declared name, the stack's runtimes
/// under other names (a rename, which AWS cannot do in place).
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub runtime: Lookup<LiveRuntime>,
    /// (name, ARN) of each.
    pub named_otherwise: Vec<(String, String)>,
}

impl Found {
    /// The JWT authorizer (discovery URL, allowed clients) of the stack's own runtime, if it has
    /// one: which pool and client a stack left with duplicates really uses.
    pub fn authorizer(&self) -> Option<&(String, Vec<String>)> {
        self.runtime
            .found()
            .filter(|r| r.owned)
            .and_then(|r| r.authorizer.as_ref())
    }
}

/// The kind.
pub struct Runtime;

/// What apply needs: the declared runtime, the live one, and the addresses of what it refers to.
struct Step {
    spec: RuntimeSpec,
    live: Option<LiveRuntime>,
    /// Only the stack's tags differ: no new version.
    only_tags: bool,
    /// Only the wait of an interrupted apply is left: no write at all.
    only_wait: bool,
    container_uri: String,
    role_arn: String,
    /// The JWT authorizer takes the stack's pool and client (their ids once they exist).
    authorizer: bool,
    /// `NAME_SECRET_ARN` variables and where their ARN comes from.
    secret_arns: Vec<(String, SecretArn)>,
}

/// The ARN a `NAME_SECRET_ARN` variable carries.
#[derive(Debug, Clone)]
enum SecretArn {
    /// Known: an existing secret, or a kept one that exists.
    Known(String),
    /// A kept secret this apply creates, by key: its id once created.
    Created(String),
}

/// `NAME_SECRET_ARN` → the ARN, for `[runtime.secrets]`.
fn secret_arns(cx: &PlanContext, spec: &RuntimeSpec) -> Vec<(String, SecretArn)> {
    let arns = cx.reference::<Secret>().unwrap_or_default();
    spec.secrets
        .iter()
        .filter_map(|(name, key)| {
            let arn = match arns.get(key)? {
                Some(arn) => SecretArn::Known(arn.clone()),
                None => SecretArn::Created(key.clone()),
            };
            Some((section::secret_arn_variable(name), arn))
        })
        .collect()
}

impl Kind for Runtime {
    const TYPE: &'static str = "agentcore_runtime";
    const DEPENDS_ON: &'static [&'static str] = &[
        UserPool::TYPE,
        Client::TYPE,
        Role::TYPE,
        RolePolicy::TYPE,
        Repository::TYPE,
        Image::TYPE,
        Secret::TYPE,
    ];
    type Live = Found;
    type Ref = ();

    async fn read(cx: &ReadContext<'_>) -> Result<Found, Error> {
        match cx.stack.one::<Runtime>() {
            Some(spec) => read(cx.aws, spec, &cx.stack.name).await,
            None => Ok(Found::default()),
        }
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let Some(spec) = cx.stack.one::<Runtime>() {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        apply(cx, r, step).await
    }

    /// The JWT authorizer's discovery URL and allowed clients name the pool and the client it
    /// uses: which of several same-named ones the stack keeps.
    const NAMES_DEPENDENCIES: bool = true;

    fn names_of_dependencies(live: &Found) -> Vec<String> {
        live.authorizer()
            .map(|(url, clients)| std::iter::once(url).chain(clients).cloned().collect())
            .unwrap_or_default()
    }

    /// The runtime id (`<name>-<suffix>`) of the stack's own runtime.
    fn id(_stack: &Stack, live: &Found) -> Option<String> {
        live.runtime
            .found()
            .filter(|r| r.owned)
            .map(|r| r.id.clone())
    }

    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        let runtime = cx.live.get::<Runtime>().runtime.found();
        vec![
            ("runtime_arn", runtime.map(|r| r.arn.clone())),
            ("runtime_id", runtime.map(|r| r.id.clone())),
            ("runtime_version", runtime.map(|r| r.version.clone())),
            (
                "mcp_url",
                runtime.map(|r| mcp_url(&crate::aws::data_plane_endpoint(&cx.live.region), &r.arn)),
            ),
        ]
    }
}

async fn read(aws: &Aws, spec: &RuntimeSpec, stack: &str) -> Result<Found, Error> {
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

async fn tags_of(aws: &Aws, addr: &str, arn: &str) -> Result<BTreeMap<String, String>, Error> {
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
async fn default_endpoint(
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
async fn get(aws: &Aws, addr: &str, id: &str, stack: &str) -> Result<LiveRuntime, Error> {
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
    })
}

const NOUN: Noun = Noun::tagged("an AgentCore runtime", "AgentCore runtimes");

fn plan(cx: &PlanContext, spec: &RuntimeSpec, planner: &mut Planner) {
    let addr = planner.address(&spec.name);
    let found = cx.live.get::<Runtime>();
    if let (Lookup::Missing, Some((old, arn))) = (&found.runtime, found.named_otherwise.first()) {
        planner.block(
            &addr,
            Some("name"),
            format!(
                "this stack's runtime is named {old:?} ({arn}); AWS cannot rename a runtime in place, \
                 and a new one would get a new ARN and endpoint URL. Keep name = {old:?}"
            ),
        );
        return;
    }
    // A runtime is never adopted: its configuration is replaced wholesale on update.
    let lookup = &found.runtime;
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
    let mut changes = Changes::default();
    let image = cx.reference::<Image>();
    let desired_uri = image.as_ref().and_then(|i| i.uri.clone());
    container_changes(live, image.as_ref(), &mut changes);
    let role_arn = cx.reference::<Role>().map(|r| r.arn);
    settings_changes(spec, live, role_arn.clone(), &mut changes);
    let mut notes = Vec::new();
    let secret_arns = secret_arns(cx, spec);
    for (field, message) in environment_changes(spec, &secret_arns, live, &mut changes, &mut notes)
    {
        planner.block(&addr, Some(&field), message);
    }
    let authorizer = authorizer_changes(cx, planner, spec, live, &mut changes);
    if let Some(r) = live {
        // Not part of CreateAgentRuntime (AWS turns it on for new runtimes); every update sends
        // it. AWS rejects invocations of a runtime without it ("not MMDSv2-enabled").
        changes.value("require_mmdsv2", Some(r.require_mmdsv2), true);
    }
    if let Some(r) = live
        && r.status.ends_with("_FAILED")
    {
        changes.push(
            "status",
            Shown::Value(r.status.clone().into()),
            Shown::Value("READY".into()),
        );
        notes.push(format!(
            "{}: {}",
            r.status,
            r.failure_reason.as_deref().unwrap_or("no reason given")
        ));
    }
    if let Some(r) = live
        && !r.status.ends_with("_FAILED")
        && !r.deployed()
    {
        changes.push(
            "deployment",
            Shown::Value(r.deployment().into()),
            Shown::Value(
                format!("runtime READY v{0}, DEFAULT READY serving v{0}", r.version).into(),
            ),
        );
        notes.push(
            "an earlier apply stopped before the DEFAULT endpoint served the latest version; \
             apply waits for it (no write when nothing else changes)"
                .to_owned(),
        );
    }
    tag_changes(&mut changes, live.map(|r| &r.tags), &cx.stack.tags());
    let only_tags = changes.only("tags");
    let only_wait = changes.only("deployment");
    let step = Step {
        spec: spec.clone(),
        live: live.cloned(),
        only_tags,
        only_wait,
        container_uri: desired_uri.unwrap_or_default(),
        role_arn: role_arn.unwrap_or_default(),
        authorizer,
        secret_arns,
    };
    planner.add(
        Planned::new(&spec.name, changes, live.map(|r| r.id.clone()))
            .with_notes(notes)
            .with_payload(step),
    );
}

/// The image: by digest, or "known after apply" for a tag in a repository this apply creates.
fn container_changes(live: Option<&LiveRuntime>, image: Option<&ImageRef>, changes: &mut Changes) {
    let desired = image.and_then(|i| i.uri.as_deref());
    if image.is_some_and(|i| i.resolved_by_apply) {
        let before = live.and_then(|r| r.container_uri.clone());
        changes.push(
            "container_uri",
            before.map_or(Shown::Absent, |u| Shown::Value(u.into())),
            Shown::KnownAfterApply,
        );
    } else {
        changes.value(
            "container_uri",
            live.map(|r| r.container_uri.as_deref()),
            desired,
        );
    }
}

/// Role, network, protocol, description and lifecycle.
fn settings_changes(
    spec: &RuntimeSpec,
    live: Option<&LiveRuntime>,
    role_arn: Option<String>,
    changes: &mut Changes,
) {
    changes.value("role_arn", live.map(|r| Some(r.role_arn.clone())), role_arn);
    changes.value(
        "network_mode",
        live.map(|r| r.network_mode.as_str()),
        spec.network_mode.as_aws(),
    );
    changes.value(
        "protocol",
        live.map(|r| r.protocol.as_deref()),
        Some(spec.protocol.as_aws()),
    );
    changes.value(
        "description",
        live.map(|r| r.description.clone()),
        spec.description.clone(),
    );
    changes.value(
        "idle_timeout_seconds",
        live.map(|r| r.idle_timeout_seconds),
        Some(spec.idle_timeout_seconds),
    );
    list_change(
        changes,
        "request_header_allowlist",
        live.map(|r| &r.request_header_allowlist),
        &spec.request_header_allowlist,
    );
    changes.value(
        "max_lifetime_seconds",
        live.map(|r| r.max_lifetime_seconds),
        Some(spec.max_lifetime_seconds),
    );
}

/// A list the stack declares whole (sorted on both sides); an empty one is not shown on create.
fn list_change(
    changes: &mut Changes,
    field: &str,
    live: Option<&Vec<String>>,
    desired: &Vec<String>,
) {
    if live.is_some() || !desired.is_empty() {
        changes.value(field, live, desired);
    }
}

/// The JWT authorizer: the stack's pool's discovery URL and its client as the only allowed
/// client. Whether it is wired to them, for apply.
fn authorizer_changes(
    cx: &PlanContext,
    planner: &Planner,
    spec: &RuntimeSpec,
    live: Option<&LiveRuntime>,
    changes: &mut Changes,
) -> bool {
    let live_auth = live.map(|r| r.authorizer.clone());
    let (Some(Authorizer::Cognito), Some(pool), Some(client)) = (
        spec.authorizer,
        planner.planned_kind::<UserPool>(),
        planner.planned_kind::<Client>(),
    ) else {
        if let Some(Some((url, _))) = live_auth {
            changes.push(
                "authorizer.discovery_url",
                Shown::Value(url.into()),
                Shown::Absent,
            );
        }
        return false;
    };
    match &pool.id {
        Some(id) => changes.value(
            "authorizer.discovery_url",
            live_auth.clone().map(|a| a.map(|(url, _)| url)),
            cx.derived::<UserPool>(DISCOVERY_URL, id),
        ),
        None => changes.push(
            "authorizer.discovery_url",
            live_auth
                .clone()
                .flatten()
                .map_or(Shown::Absent, |(url, _)| Shown::Value(url.into())),
            Shown::KnownAfterApply,
        ),
    }
    match &client.id {
        Some(id) => changes.value(
            "authorizer.allowed_clients",
            live_auth.map(|a| a.map(|(_, clients)| clients)),
            Some(vec![id.clone()]),
        ),
        None => changes.push(
            "authorizer.allowed_clients",
            Shown::Absent,
            Shown::KnownAfterApply,
        ),
    }
    list_change(
        changes,
        "authorizer.allowed_scopes",
        live.map(|r| &r.allowed_scopes),
        &spec.allowed_scopes,
    );
    list_change(
        changes,
        "authorizer.allowed_audience",
        live.map(|r| &r.allowed_audience),
        &spec.allowed_audience,
    );
    true
}

/// Per-variable changes. Secrets show as `(sensitive)`; an unset secret keeps the live value
/// (noted), or is a blocker when there is none. Returns the blockers as (field, message).
fn environment_changes(
    spec: &RuntimeSpec,
    secret_arns: &[(String, SecretArn)],
    live: Option<&LiveRuntime>,
    changes: &mut Changes,
    notes: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut blockers = Vec::new();
    let live_env = live.map(|r| &r.environment);
    // A secret's ARN is no secret: it is shown, and the value never reaches the runtime.
    for (variable, arn) in secret_arns {
        let field = format!("environment.{variable}");
        let before = live_env.and_then(|e| e.get(variable));
        match arn {
            SecretArn::Known(arn) => {
                changes.value(&field, live.map(|_| before.cloned()), Some(arn.clone()))
            }
            SecretArn::Created(_) => changes.push(
                &field,
                before.map_or(Shown::Absent, |b| Shown::Value(b.clone().into())),
                Shown::KnownAfterApply,
            ),
        }
    }
    for (key, value) in &spec.environment {
        let field = format!("environment.{key}");
        let before = live_env.and_then(|e| e.get(key));
        match value {
            EnvValue::Plain(text) => {
                changes.value(&field, live.map(|_| before.cloned()), Some(text.clone()))
            }
            EnvValue::Secret {
                value: Some(secret),
                ..
            } => {
                if before.map(String::as_str) != Some(secret.expose().as_str()) {
                    let shown_before = if before.is_some() {
                        Shown::Sensitive
                    } else {
                        Shown::Absent
                    };
                    changes.push(&field, shown_before, Shown::Sensitive);
                }
            }
            EnvValue::Secret { var, value: None } => {
                if before.is_some() {
                    notes.push(format!(
                        "{field}: ${var} is unset, so the live value is kept"
                    ));
                } else {
                    blockers.push((
                        field,
                        format!("${var} is unset, and the runtime has no value for it yet"),
                    ));
                }
            }
        }
    }
    for key in live_env.into_iter().flat_map(|e| e.keys()) {
        if !spec.environment.contains_key(key) && !secret_arns.iter().any(|(v, _)| v == key) {
            changes.push(
                &format!("environment.{key}"),
                Shown::Sensitive,
                Shown::Absent,
            );
        }
    }
    blockers
}

/// The errors AWS returns while a new role, or its permissions, are still propagating.
fn is_propagation_error(e: &Error) -> bool {
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
struct Configuration {
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
async fn configuration(cx: &ApplyContext<'_>, step: &Step) -> Result<Configuration, Error> {
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
            .unwrap_or_default();
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
async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan, step: &Step) -> Result<String, Error> {
    match &step.live {
        None => create(cx, r, step).await,
        Some(live) => apply_to_live(cx, r, step, live).await,
    }
}

/// Update the live runtime with the whole configuration (or only its tags).
async fn apply_to_live(
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
    update(cx, addr, &live.id, &config).await?;
    if r.changes("tags") {
        tag(cx, addr, live).await?;
    }
    Ok(live.id.clone())
}

/// The `clientToken` of a create: a hash of the stack's name, the runtime's name and the whole
/// request. Two applies at once that send the same create get one runtime (AWS answers the
/// repeat with the first one's result); a different request gets another token, so it meets
/// AWS's name check (ConflictException), never IdempotentParameterMismatch. `salt` is empty,
/// except after AWS answered with a runtime that no longer exists (a runtime deleted within
/// AWS's idempotency window, then declared again unchanged): then its id.
fn client_token(stack: &Stack, name: &str, config: &Configuration, salt: &str) -> String {
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
async fn create(cx: &ApplyContext<'_>, r: &ResourcePlan, step: &Step) -> Result<String, Error> {
    let addr = &r.address;
    let config = configuration(cx, step).await?;
    let mut salt = String::new();
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
            Err(e) if e.code_is("ResourceNotFoundException") && salt.is_empty() => {
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
async fn update(
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
async fn tag(cx: &ApplyContext<'_>, addr: &str, live: &LiveRuntime) -> Result<(), Error> {
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
async fn retry_propagation<T, E, F, Fut>(
    cx: &ApplyContext<'_>,
    addr: &str,
    operation: &'static str,
    send: F,
) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: aws_sdk_bedrockagentcorecontrol::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut delay = Duration::from_secs(2);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match send().await.map_err(|e| Error::aws(addr, operation, e)) {
            Err(e) if is_propagation_error(&e) && Instant::now() + delay < deadline => {
                cx.progress.line(&format!(
                    "{addr}: the execution role is still propagating ({}); retrying in {}s",
                    e.message,
                    delay.as_secs()
                ));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(20));
            }
            other => return other,
        }
    }
}

/// What a finished create or update left.
struct Deployed {
    require_mmdsv2: bool,
}

/// Whether `version` is `at_least` or newer (versions are increasing integers; another apply
/// may have made a newer one meanwhile).
fn reached(version: Option<&str>, at_least: &str) -> bool {
    match (
        version.and_then(|v| v.parse::<u64>().ok()),
        at_least.parse::<u64>(),
    ) {
        (Some(v), Ok(want)) => v >= want,
        _ => version == Some(at_least),
    }
}

/// Every create or update makes a new version, and DEFAULT moves to it, possibly after the
/// runtime reads READY. Wait until the runtime reports `version` READY twice in a row (as
/// Terraform's waiter does), then until `GetAgentRuntimeEndpoint(DEFAULT)` serves it.
/// `*_FAILED` and `DELETING` are errors with AWS's reason; so is `--timeout`.
async fn wait_until_deployed(
    cx: &ApplyContext<'_>,
    addr: &str,
    operation: &'static str,
    id: &str,
    version: &str,
) -> Result<Deployed, Error> {
    let mut poll = Poll::new(cx, addr, operation);
    let mut ready_reads = 0;
    let deployed = loop {
        let out = cx
            .aws
            .agentcore
            .get_agent_runtime()
            .agent_runtime_id(id)
            .send()
            .await
            .map_err(|e| Error::aws(addr, "GetAgentRuntime", e))?;
        let status = out.status().as_str();
        let reason = || {
            out.failure_reason()
                .unwrap_or("AWS gave no failureReason")
                .to_owned()
        };
        match status {
            "READY" if reached(Some(out.agent_runtime_version()), version) => {
                ready_reads += 1;
                if ready_reads == 2 {
                    break Deployed {
                        require_mmdsv2: out
                            .metadata_configuration()
                            .is_some_and(|m| m.require_mmdsv2()),
                    };
                }
            }
            "UPDATE_FAILED" => {
                return Err(Error::new(
                    addr,
                    operation,
                    format!(
                        "{}. AWS made version {version} and it failed; the DEFAULT endpoint \
                         keeps serving the previous version. Fix the cause and apply again: the \
                         next update makes a new version",
                        reason()
                    ),
                )
                .with_code(status));
            }
            "CREATE_FAILED" | "DELETE_FAILED" => {
                return Err(Error::new(addr, operation, reason()).with_code(status));
            }
            "DELETING" => {
                return Err(Error::new(
                    addr,
                    operation,
                    "the runtime is being deleted (by someone else); apply again once it is gone",
                )
                .with_code(status));
            }
            _ => ready_reads = 0,
        }
        poll.wait(&format!(
            "{status}, waiting for version {version} to be READY"
        ))
        .await?;
    };
    loop {
        let out = cx
            .aws
            .agentcore
            .get_agent_runtime_endpoint()
            .agent_runtime_id(id)
            .endpoint_name("DEFAULT")
            .send()
            .await
            .map_err(|e| Error::aws(addr, "GetAgentRuntimeEndpoint", e))?;
        let status = out.status().as_str();
        if status == "READY" && reached(out.live_version(), version) {
            return Ok(deployed);
        }
        if status.ends_with("_FAILED") {
            return Err(Error::new(
                addr,
                operation,
                format!(
                    "the DEFAULT endpoint is {status}: {}",
                    out.failure_reason().unwrap_or("AWS gave no failureReason")
                ),
            )
            .with_code(status));
        }
        poll.wait(&format!(
            "DEFAULT is {status} serving version {}, waiting for {version}",
            out.live_version().unwrap_or("none")
        ))
        .await?;
    }
}

/// Polling with a growing interval (0.5 s doubling to 5 s), progress on the terminal, a line
/// every 10 s otherwise, and `--timeout`.
struct Poll<'a> {
    cx: &'a ApplyContext<'a>,
    addr: &'a str,
    operation: &'static str,
    started: Instant,
    last_report: Instant,
    delay: Duration,
}

impl<'a> Poll<'a> {
    fn new(cx: &'a ApplyContext<'a>, addr: &'a str, operation: &'static str) -> Self {
        Poll {
            cx,
            addr,
            operation,
            started: Instant::now(),
            last_report: Instant::now(),
            delay: Duration::from_millis(500),
        }
    }

    async fn wait(&mut self, status: &str) -> Result<(), Error> {
        let waited = self.started.elapsed();
        if waited >= self.cx.timeout {
            return Err(Error::new(
                self.addr,
                self.operation,
                format!(
                    "still {status} after {}s (--timeout); apply again later to continue",
                    waited.as_secs()
                ),
            )
            .with_code("Timeout"));
        }
        let addr = self.addr;
        self.cx
            .progress
            .transient(&format!("{addr}: {status} ({}s)", waited.as_secs()));
        if self.last_report.elapsed() >= Duration::from_secs(10) {
            self.cx
                .progress
                .line(&format!("{addr}: {status} ({}s)", waited.as_secs()));
            self.last_report = Instant::now();
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Duration::from_secs(5));
        Ok(())
    }
}

/// The MCP endpoint of a runtime, as clients call it, on the data plane at `endpoint`
/// ([`crate::aws::data_plane_endpoint`]).
pub fn mcp_url(endpoint: &str, arn: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(arn, KEEP);
    format!("{endpoint}/runtimes/{encoded}/invocations?qualifier=DEFAULT")
}

#[cfg(test)]
mod tests;
