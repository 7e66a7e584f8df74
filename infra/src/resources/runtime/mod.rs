//! `agentcore_runtime`: found by name (`ListAgentRuntimes`, paginated), then read by id.
//!
//! `UpdateAgentRuntime` resets every field it is not sent and makes a new version, so it is
//! called only when something differs, and always with the whole desired configuration.

mod apply;
mod destroy;
mod plan;
mod read;
mod rules;
pub mod section;
pub mod versions;
mod wait;

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
use crate::engine::Backoff;
use crate::engine::lookup::replan;
use crate::engine::{
    Action, ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned,
    Planner, ReadContext, ResourcePlan, Shown, address, claim, owned_by, tag_changes,
};
use crate::stack::Stack;
use apply::*;
use plan::*;
use read::*;
use section::{Authorizer, EnvValue, RuntimeSpec};
use wait::*;

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
    /// When the stack's image differs from the one it runs: the newest earlier version that
    /// ran the stack's digest, as (version, digest). Read only then ([`versions`]).
    pub same_image_as: Option<(String, String)>,
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
#[derive(Clone)]
struct Step {
    spec: RuntimeSpec,
    live: Option<LiveRuntime>,
    /// Only the stack's tags differ: no new version.
    only_tags: bool,
    /// Only the wait of an interrupted apply is left: no write at all.
    only_wait: bool,
    /// The runtime failed to create (CREATE_FAILED): updated, or when AWS refuses that,
    /// deleted and created again.
    recover: bool,
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

impl Kind for Runtime {
    /// Runtime ids are `<name>-<suffix>`: the stack's runtime is `runtime/NAME-*` (its DEFAULT
    /// endpoint under it). Finding a renamed runtime reads every runtime's tags. A create is
    /// authorized on `runtime/*` with the stack's tag, and so are the DEFAULT endpoint and the
    /// workload identity it makes; the account's first runtime also makes AgentCore's
    /// service-linked role for workload identities. (The execution role's `iam:PassRole` is the
    /// role's.)
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(spec) = stack.one::<Runtime>() else {
            return Vec::new();
        };
        let arn = |resource: &str| Grant::arn(vars, "bedrock-agentcore", resource);
        let runtimes = arn(&format!("runtime/{}-*", spec.name));
        let any_runtime = arn("runtime/*");
        // https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/service-linked-roles.html:
        // AWSServiceRoleForBedrockAgentCoreRuntimeIdentity, trusted by this service principal,
        // is created when a runtime is (the permission AWS's BedrockAgentCoreFullAccess grants).
        let principal = "runtime-identity.bedrock-agentcore.amazonaws.com";
        let linked = Grant::global_arn(
            vars,
            "iam",
            &format!(
                "role/aws-service-role/{principal}/AWSServiceRoleForBedrockAgentCoreRuntimeIdentity"
            ),
        );
        vec![
            Grant::new(
                Access::Read,
                "List",
                &["bedrock-agentcore:ListAgentRuntimes"],
                ["*"],
            ),
            Grant::new(
                Access::Read,
                "Read",
                &[
                    "bedrock-agentcore:GetAgentRuntime",
                    "bedrock-agentcore:GetAgentRuntimeEndpoint",
                    // A plan that changes the image looks for an earlier version that ran it;
                    // `infra versions` lists them with their endpoints.
                    "bedrock-agentcore:ListAgentRuntimeVersions",
                    "bedrock-agentcore:ListAgentRuntimeEndpoints",
                ],
                [&runtimes],
            ),
            Grant::new(
                Access::Read,
                "Tags",
                &["bedrock-agentcore:ListTagsForResource"],
                [&any_runtime],
            ),
            Grant::new(
                Access::Write,
                "Create",
                &[
                    "bedrock-agentcore:CreateAgentRuntime",
                    "bedrock-agentcore:CreateAgentRuntimeEndpoint",
                    "bedrock-agentcore:CreateWorkloadIdentity",
                    "bedrock-agentcore:TagResource",
                ],
                [
                    any_runtime,
                    arn("workload-identity-directory/default"),
                    arn(&format!(
                        "workload-identity-directory/default/workload-identity/{}-*",
                        spec.name
                    )),
                ],
            )
            .tagging_for(&stack.name),
            Grant::new(
                Access::Write,
                "Update",
                &[
                    "bedrock-agentcore:UpdateAgentRuntime",
                    "bedrock-agentcore:TagResource",
                    // A runtime that failed to create, which AWS refuses to update: deleted,
                    // then created again (it never served a request).
                    "bedrock-agentcore:DeleteAgentRuntime",
                ],
                [&runtimes],
            ),
            Grant::new(
                Access::Write,
                "ServiceLinkedRole",
                &["iam:CreateServiceLinkedRole"],
                [linked],
            )
            .when("StringEquals", "iam:AWSServiceName", principal),
        ]
    }

    /// A saved plan depends on the runtime's version, status, image and DEFAULT endpoint: a
    /// runtime updated since (even to the same settings) makes it stale.
    fn fingerprint(cx: &PlanContext<'_>) -> Vec<(String, &'static str, serde_json::Value)> {
        let (Some(spec), Some(r)) = (
            cx.stack.one::<Runtime>(),
            cx.live.get::<Runtime>().runtime.found(),
        ) else {
            return Vec::new();
        };
        let addr = address(Runtime::TYPE, &spec.name);
        vec![
            (addr.clone(), "version", r.version.clone().into()),
            (addr.clone(), "status", r.status.clone().into()),
            (
                addr.clone(),
                "container_uri",
                r.container_uri.clone().into(),
            ),
            (
                addr,
                "default_endpoint",
                serde_json::json!(r.default_endpoint),
            ),
        ]
    }

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

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        use crate::resources::testing;
        Found {
            runtime: testing::runtime(stack).map_or(Lookup::Missing, Lookup::Found),
            named_otherwise: Vec::new(),
        }
    }

    /// Nothing is built: a marker that a plan is being made ([`versions::Planning`]), so the
    /// read looks for an earlier version with the stack's image, which `output`, `token` and
    /// `mcp` (reading the runtime alone) do not need.
    fn prepare(
        stack: &Stack,
        _say: &dyn Fn(&str),
    ) -> Result<Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>, Error> {
        Ok(stack
            .declares::<Runtime>()
            .then(|| std::sync::Arc::new(versions::Planning) as _))
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Found, Error> {
        let Some(spec) = cx.stack.one::<Runtime>() else {
            return Ok(Found::default());
        };
        let mut found = read(cx.aws, spec, &cx.stack.name).await?;
        if cx.prepared.get::<Runtime, versions::Planning>().is_some()
            && let Lookup::Found(r) = &mut found.runtime
            && (r.owned || spec.adopt)
        {
            versions::same_image(cx, r).await?;
        }
        Ok(found)
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

    fn plan_destroy(cx: &PlanContext<'_>, o: &crate::engine::Destroying, planner: &mut Planner) {
        destroy::plan_destroy(cx, o, planner);
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        destroy::delete(cx, r).await
    }

    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        destroy::destroy_permissions(stack, vars)
    }

    /// The JWT authorizer's discovery URL and allowed clients name the pool and the client it
    /// uses: which of several same-named ones the stack keeps.
    const NAMES_DEPENDENCIES: bool = true;

    fn names_of_dependencies(live: &Found) -> Vec<String> {
        live.authorizer()
            .map(|(url, clients)| std::iter::once(url).chain(clients).cloned().collect())
            .unwrap_or_default()
    }

    /// The runtime id (`<name>-<suffix>`) of the stack's own runtime, or of the one it adopts.
    fn id(stack: &Stack, live: &Found) -> Option<String> {
        let adopt = stack.one::<Runtime>().is_some_and(|spec| spec.adopt);
        live.runtime
            .found()
            .filter(|r| r.owned || adopt)
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
