//! Test support for the kinds' plan tests: in-memory live state, stacks from TOML text.
//!
//! A plan test reads as "given this stack.toml and this live state, the plan says ...":
//!
//! ```ignore
//! let stack = stack(STACK);
//! let live = LiveBuilder::converged(&stack)
//!     .edit::<UserPool>(|pool| found(pool).deletion_protection = true)
//!     .build();
//! let plan = plan_of(&stack, &live);
//! assert_eq!(resource(&plan, "cognito_user_pool.Pool").action, Action::Update);
//! ```
//!
//! Snapshots (`insta`) live in `snapshots/` beside each kind's `tests.rs`. After a deliberate
//! change to what a plan shows, rewrite them with `INSTA_UPDATE=always cargo test -p infra` and
//! review the result with `git diff` (or run `cargo insta review` where cargo-insta is
//! installed). With `CI=true` a snapshot that differs fails the test and nothing is written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{UserPoolClientType, UserPoolType};
use serde_json::Value;

use super::cognito_client::{Client, LiveClient};
use super::cognito_pool::{DISCOVERY_URL, LivePool, UserPool};
use super::cognito_user::{LiveUser, PasswordCheck, User};
use super::ecr_repository::{LiveRepository, Repository, lifecycle_policy};
use super::iam_role::{LiveRole, Role};
use super::iam_role_policy::RolePolicy;
use super::image::section::{ImageSpec, Platform};
use super::image::{Artifact, Image, LiveImage};
use super::runtime::section::{Authorizer, EnvValue};
use super::runtime::{LiveRuntime, Runtime};
use crate::engine::{FieldChange, Kind, Live, Lookup, Plan, ResourcePlan};
use crate::policy::{self, Vars};
use crate::render::{self, Style};
use crate::stack::Stack;

pub const REGION: &str = "us-west-2";
pub const ACCOUNT: &str = "111122223333";
/// What every password variable holds in [`stack`]. It must never appear in a plan.
pub const PASSWORD: &str = "Password-123";
/// What `$OPENAI_API_KEY` holds in [`stack`]. It must never appear in a plan either.
pub const OPENAI_KEY: &str = "sk-test-0123456789abcdef";

pub const POOL_ID: &str = "us-west-2_AbC123";
pub const CLIENT_ID: &str = "client0123456789";
pub const ROLE_ID: &str = "AROAEXAMPLEROLEID";
/// The digest of the image [`LiveBuilder::converged`] built and the registry has.
pub const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
/// The digest of a newer build.
pub const NEW_DIGEST: &str =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A stack with one resource of every kind, each depending on what it needs.
pub const STACK: &str = r#"
[stack]
name = "demo"

[cognito.user_pool]
name = "Pool"
password_policy = { minimum_length = 10 }

[cognito.client]
name = "Client"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[cognito.users]]
username = "alice"
password = { env = "ALICE_PASSWORD" }

[iam.role]
name = "role"

[iam.role.policies.Logs]
document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "arn:${partition}:logs:${region}:${account_id}:*"}]}'

[ecr.repository]
name = "demo"
keep_images = 5

[image]
build = "server"

[runtime]
name = "demo_mcp"
authorizer = "cognito"
# The tests of plaintext variables from the environment.
allow_plaintext_secrets = true

[runtime.environment]
MODEL = "o3"
OPENAI_API_KEY = { env = "OPENAI_API_KEY" }
"#;

/// Parse a stack file: `$OPENAI_API_KEY` is [`OPENAI_KEY`], every other variable [`PASSWORD`].
pub fn stack(text: &str) -> Stack {
    stack_with_env(text, &|var| Some(secret(var)))
}

/// Parse a stack file as [`stack`] does, but with these variables unset.
pub fn stack_without(text: &str, unset: &[&str]) -> Stack {
    stack_with_env(text, &|var| (!unset.contains(&var)).then(|| secret(var)))
}

fn secret(var: &str) -> String {
    match var {
        "OPENAI_API_KEY" => OPENAI_KEY.to_owned(),
        _ => PASSWORD.to_owned(),
    }
}

fn stack_with_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Stack {
    crate::registry::parse_stack(Path::new("stack.toml"), text, env)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A pool's OIDC discovery URL, as the pool kind derives it for the kinds that depend on it.
pub fn discovery_url(region: &str, pool_id: &str) -> String {
    let vars = Vars::new(region, ACCOUNT, "aws", "demo");
    UserPool::derived(DISCOVERY_URL, pool_id, &vars).expect("a pool derives its discovery URL")
}

/// The placeholder values of `stack` in the test account and region.
pub fn vars(stack: &Stack) -> Vars {
    stack.vars(REGION, ACCOUNT, "aws")
}

/// Live state, built in memory.
pub struct LiveBuilder(Live);

impl Default for LiveBuilder {
    fn default() -> Self {
        LiveBuilder::new()
    }
}

impl LiveBuilder {
    /// Nothing exists: every registered kind's live state is empty.
    pub fn new() -> LiveBuilder {
        LiveBuilder(Live::empty(REGION, ACCOUNT, "aws", crate::registry::KINDS))
    }

    /// Everything `stack` declares exists exactly as declared, tagged for the stack.
    /// Each kind says what that is ([`crate::engine::Kind::converged`], in its folder).
    pub fn converged(stack: &Stack) -> LiveBuilder {
        LiveBuilder(LiveBuilder::new().0.converged(stack))
    }

    /// Replace a kind's live state.
    pub fn with<K: Kind>(mut self, state: K::Live) -> LiveBuilder {
        self.0.set::<K>(state);
        self
    }

    /// Change a kind's live state in place (drift).
    pub fn edit<K: Kind>(mut self, change: impl FnOnce(&mut K::Live)) -> LiveBuilder
    where
        K::Live: Clone,
    {
        let mut state = self.0.get::<K>().clone();
        change(&mut state);
        self.0.set::<K>(state);
        self
    }

    pub fn build(self) -> Live {
        self.0
    }
}

/// The resource a lookup found, to edit it; panics when it found none.
pub fn found<T>(lookup: &mut Lookup<T>) -> &mut T {
    match lookup {
        Lookup::Found(t) => t,
        _ => panic!("the live state has no such resource"),
    }
}

// ---------------------------------------------------------------------------------------------
// Each kind's live resource exactly as `stack` declares it.

pub fn pool(stack: &Stack) -> Option<LivePool> {
    let spec = stack.one::<UserPool>()?;
    Some(LivePool {
        id: POOL_ID.into(),
        owned: true,
        tags: stack.tags(),
        password_policy: spec.password_policy.clone(),
        username_attributes: spec
            .username_attributes
            .iter()
            .map(|a| a.as_aws().to_owned())
            .collect(),
        deletion_protection: spec.deletion_protection,
        raw: UserPoolType::builder().build(),
        created: None,
        duplicates: Vec::new(),
        foreign: Vec::new(),
    })
}

pub fn client(stack: &Stack) -> Option<LiveClient> {
    let spec = stack.one::<Client>()?;
    let mut flows: Vec<String> = spec
        .explicit_auth_flows
        .iter()
        .map(|f| f.as_aws().to_owned())
        .collect();
    flows.sort(); // as read sorts them
    Some(LiveClient {
        id: CLIENT_ID.into(),
        explicit_auth_flows: flows,
        has_secret: spec.generate_secret,
        raw: UserPoolClientType::builder().build(),
        created: None,
        duplicates: Vec::new(),
    })
}

/// Every declared user, confirmed, signing in with the declared password.
pub fn users(stack: &Stack) -> BTreeMap<String, Option<LiveUser>> {
    let user = LiveUser {
        status: "CONFIRMED".into(),
        enabled: true,
        password: PasswordCheck::Matches,
    };
    let names = stack.all::<User>().map(|u| u.username.clone());
    names.map(|name| (name, Some(user.clone()))).collect()
}

pub fn role(stack: &Stack) -> Option<LiveRole> {
    let spec = stack.one::<Role>()?;
    Some(LiveRole {
        name: spec.name.clone(),
        id: ROLE_ID.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role{}{}", spec.path, spec.name),
        owned: true,
        path: spec.path.clone(),
        description: spec.description.clone(),
        max_session_duration: spec.max_session_duration,
        trust_policy: document(&spec.trust_policy, &vars(stack)),
        tags: stack.tags(),
    })
}

/// The role's inline policies, as declared.
pub fn policies(stack: &Stack) -> BTreeMap<String, Value> {
    stack
        .all::<RolePolicy>()
        .map(|p| (p.name.clone(), document(&p.document, &vars(stack))))
        .collect()
}

fn document(text: &str, vars: &Vars) -> Value {
    serde_json::from_str(&policy::render(text, vars)).expect("a declared document renders")
}

pub fn repository(stack: &Stack) -> Option<LiveRepository> {
    let spec = stack.one::<Repository>()?;
    let vars = vars(stack);
    Some(LiveRepository {
        arn: vars.get("repository_arn")?.to_owned(),
        uri: vars.get("repository_uri")?.to_owned(),
        owned: true,
        tags: stack.tags(),
        image_tag_mutability: spec.image_tag_mutability.as_aws().into(),
        scan_on_push: spec.scan_on_push,
        encryption: spec.encryption.as_aws().into(),
        kms_key: spec.kms_key.clone(),
        lifecycle_policy: spec.keep_images.map(lifecycle_policy),
        images: Vec::new(),
    })
}

/// For `[image] build`: the image was built with [`DIGEST`] and the registry has it.
pub fn image(stack: &Stack) -> LiveImage {
    let built = match stack.one::<Image>() {
        Some(ImageSpec::Build {
            package, platform, ..
        }) => Some((artifact(package, *platform, DIGEST), true)),
        _ => None,
    };
    LiveImage {
        built,
        tag_digest: None,
        pinned: None,
    }
}

/// A built image (11,500 bytes compressed) with this digest.
pub fn artifact(package: &str, platform: Platform, digest: &str) -> Arc<Artifact> {
    Arc::new(Artifact {
        package: package.into(),
        platform,
        image: crate::container::Image {
            manifest: vec![b'm'; 500],
            digest: digest.into(),
            config: vec![b'c'; 1_000],
            config_digest: format!("sha256:{}", "c".repeat(64)),
            layer: vec![0; 10_000],
            layer_digest: format!("sha256:{}", "d".repeat(64)),
            diff_id: format!("sha256:{}", "e".repeat(64)),
        },
    })
}

/// READY, running the declared image (a built one by [`DIGEST`]) with the declared settings.
pub fn runtime(stack: &Stack) -> Option<LiveRuntime> {
    let spec = stack.one::<Runtime>()?;
    let vars = vars(stack);
    let id = format!("{}-AbC123", spec.name);
    let container_uri = match stack.one::<Image>()? {
        ImageSpec::Uri(template) => policy::render(template, &vars),
        ImageSpec::Build { .. } => format!("{}@{DIGEST}", vars.get("repository_uri")?),
    };
    let role = stack.one::<Role>()?;
    let environment = spec.environment.iter().filter_map(|(key, value)| {
        let value = match value {
            EnvValue::Plain(text) => text.clone(),
            EnvValue::Secret { value, .. } => value.as_ref()?.expose().clone(),
        };
        Some((key.clone(), value))
    });
    Some(LiveRuntime {
        arn: format!("arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/{id}"),
        id,
        version: "1".into(),
        status: "READY".into(),
        failure_reason: None,
        owned: true,
        tags: stack.tags(),
        container_uri: Some(container_uri),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role{}{}", role.path, role.name),
        network_mode: spec.network_mode.as_aws().into(),
        protocol: Some(spec.protocol.as_aws().into()),
        description: spec.description.clone(),
        environment: environment.collect(),
        idle_timeout_seconds: Some(spec.idle_timeout_seconds),
        max_lifetime_seconds: Some(spec.max_lifetime_seconds),
        authorizer: (spec.authorizer == Some(Authorizer::Cognito))
            .then(|| (discovery_url(REGION, POOL_ID), vec![CLIENT_ID.to_owned()])),
        allowed_scopes: spec.allowed_scopes.clone(),
        allowed_audience: spec.allowed_audience.clone(),
        request_header_allowlist: spec.request_header_allowlist.clone(),
        carried: Default::default(),
        require_mmdsv2: true,
        default_endpoint: Some(("READY".into(), Some("1".into()))),
        same_image_as: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading a plan.

/// The plan, exactly as `infra plan` computes it: every registered kind, in dependency order.
pub fn plan_of(stack: &Stack, live: &Live) -> Plan {
    crate::plan::plan(stack, live)
}

/// The resource at `address`; panics, listing what the plan has, when it is not planned.
#[track_caller]
pub fn resource<'a>(plan: &'a Plan, address: &str) -> &'a ResourcePlan {
    plan.resource(address).unwrap_or_else(|| {
        let planned: Vec<_> = plan.resources.iter().map(|r| &r.address).collect();
        panic!("{address} is not planned; the plan has {planned:?}")
    })
}

/// The fields a resource's plan changes, in order.
pub fn fields(r: &ResourcePlan) -> Vec<&str> {
    r.changes.iter().map(|c| c.field.as_str()).collect()
}

/// The change of one field; panics when the field does not change.
#[track_caller]
pub fn change<'a>(r: &'a ResourcePlan, field: &str) -> &'a FieldChange {
    r.changes
        .iter()
        .find(|c| c.field == field)
        .unwrap_or_else(|| panic!("{} does not change {field}: {:?}", r.address, fields(r)))
}

/// Each blocker's address and field.
pub fn blockers(plan: &Plan) -> Vec<(&str, Option<&str>)> {
    let each = plan.blockers.iter();
    each.map(|b| (b.address.as_str(), b.field.as_deref()))
        .collect()
}

/// The plan as `infra plan` prints it in a pipe. Never shows a secret.
pub fn text(plan: &Plan) -> String {
    let mut out = Vec::new();
    render::text(plan, Style { color: false }, &mut out).unwrap();
    no_secrets(String::from_utf8(out).unwrap())
}

/// The plan as `infra plan --json` prints it. Never shows a secret.
pub fn json(plan: &Plan) -> String {
    let mut out = Vec::new();
    render::json(plan, &mut out).unwrap();
    no_secrets(String::from_utf8(out).unwrap())
}

#[track_caller]
fn no_secrets(rendered: String) -> String {
    for secret in [PASSWORD, OPENAI_KEY] {
        assert!(!rendered.contains(secret), "a secret leaked:\n{rendered}");
    }
    rendered
}
