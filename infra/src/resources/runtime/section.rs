//! `[runtime]`: the section as written, validated into a [`RuntimeSpec`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::Runtime;
use super::rules::{
    AUDIENCE_WITH_COGNITO, CUSTOM_HEADER_PREFIX, MAX_HEADERS, kms_key_problem, request_headers,
    scope_ok,
};
use crate::resources::cognito_client::Client;
use crate::resources::cognito_pool::UserPool;
use crate::resources::iam_role::Role;
use crate::resources::iam_role_policy::RolePolicy;
use crate::resources::iam_role_policy::section::PolicySpec;
use crate::resources::image::Image;
use crate::resources::image::section::{ImageSpec, Platform};
use crate::resources::secret::Secret;
use crate::resources::secret::section::{SecretSource, SecretSpec};
use crate::sensitive::Sensitive;
use crate::stack::validate::{ENV_NAME, NameRule, RawEnv, Validator, quote};
use crate::stack::{Base, Input, Section, Stack};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    protocol: ServerProtocol,
    #[serde(default)]
    network_mode: NetworkMode,
    #[serde(default)]
    environment: BTreeMap<String, Spanned<RawEnvValue>>,
    #[serde(default)]
    idle_timeout_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    max_lifetime_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    authorizer: Option<Authorizer>,
    #[serde(default)]
    allowed_scopes: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    allowed_audience: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    request_header_allowlist: Option<Spanned<Vec<Spanned<String>>>>,
    /// `NAME = "secret"`: the server gets `NAME_SECRET_ARN`, the ARN of `[secrets.secret]`.
    #[serde(default)]
    secrets: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    allow_plaintext_secrets: bool,
    /// Take over a same-named runtime that lacks the stack's tag.
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    protect: bool,
}

/// An environment value: a literal, or `{ env = "NAME" }`, read from the local environment and
/// treated as a secret.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum RawEnvValue {
    Literal(String),
    FromEnv(RawEnv),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum ServerProtocol {
    #[serde(rename = "HTTP")]
    Http,
    #[default]
    #[serde(rename = "MCP")]
    Mcp,
    #[serde(rename = "A2A")]
    A2a,
}

impl ServerProtocol {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Mcp => "MCP",
            Self::A2a => "A2A",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum NetworkMode {
    #[default]
    #[serde(rename = "PUBLIC")]
    Public,
}

impl NetworkMode {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Public => "PUBLIC",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Authorizer {
    /// A JWT authorizer trusting the stack's Cognito pool and app client.
    Cognito,
}

/// A runtime environment variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Plain(String),
    /// From the local environment variable `var`; `None` when it is unset.
    Secret {
        var: String,
        value: Option<Sensitive<String>>,
    },
}

#[derive(Debug, Clone)]
pub struct RuntimeSpec {
    pub name: String,
    pub description: Option<String>,
    pub protocol: ServerProtocol,
    pub network_mode: NetworkMode,
    pub environment: BTreeMap<String, EnvValue>,
    pub idle_timeout_seconds: i32,
    pub max_lifetime_seconds: i32,
    pub authorizer: Option<Authorizer>,
    /// The JWT authorizer's scopes and audiences (sorted; empty: none required).
    pub allowed_scopes: Vec<String>,
    pub allowed_audience: Vec<String>,
    /// Request headers passed through to the server (sorted; empty: none).
    pub request_header_allowlist: Vec<String>,
    /// `[runtime.secrets]`: the variable name (`NAME`, given as `NAME_SECRET_ARN`) → the key of
    /// a `[secrets.KEY]` table.
    pub secrets: BTreeMap<String, String>,
    /// Take over a same-named runtime without the stack's tag: apply tags it and updates its
    /// configuration to the declared one.
    pub adopt: bool,
    /// `infra destroy` refuses while it is set.
    pub protect: bool,
}

/// The variable that carries a secret's ARN to the server.
pub fn secret_arn_variable(name: &str) -> String {
    format!("{name}_SECRET_ARN")
}

/// Whether a variable's name says it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "SECRET", "TOKEN", "PASSWORD"]
        .iter()
        .any(|w| upper.contains(w))
}

/// A valid environment variable name: ASCII letters, digits and `_`, not starting with a digit.
fn variable_name_ok(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 100
        && key.chars().all(ENV_NAME.allowed)
        && !key.starts_with(|c: char| c.is_ascii_digit())
}

const RUNTIME_NAME: NameRule = NameRule {
    min: 1,
    max: 48,
    allowed: |c| c.is_ascii_alphanumeric() || c == '_',
    described: "AWS pattern [a-zA-Z][a-zA-Z0-9_]{0,47}",
};

/// AWS's limits on `environmentVariables` (the service model of UpdateAgentRuntime).
const MAX_VARIABLES: usize = 50;
const MAX_VALUE_CHARS: usize = 5000;
/// `description`: 1 to 4096 characters (`Description` in the AgentCore Control API reference of
/// CreateAgentRuntime); an empty one is sent as none.
const MAX_DESCRIPTION_CHARS: usize = 4096;
/// `idleRuntimeSessionTimeout` and `maxLifetime` (LifecycleConfiguration), in seconds.
const LIFETIME_SECONDS: (i64, i64) = (60, 28_800);

fn validate(
    v: &mut Validator,
    raw: RawRuntime,
    env: &dyn Fn(&str) -> Option<String>,
) -> RuntimeSpec {
    let name = v.name(&raw.name, "runtime.name", &RUNTIME_NAME);
    if !raw
        .name
        .get_ref()
        .starts_with(|c: char| c.is_ascii_alphabetic())
    {
        v.error(
            raw.name.span(),
            "runtime.name",
            "must start with a letter (AWS pattern [a-zA-Z][a-zA-Z0-9_]{0,47})",
        );
    }
    let description = raw.description.and_then(|d| {
        if d.get_ref().chars().count() > MAX_DESCRIPTION_CHARS {
            v.error(
                d.span(),
                "runtime.description",
                format!("at most {MAX_DESCRIPTION_CHARS} characters (AgentCore's limit)"),
            );
        }
        Some(d.into_inner()).filter(|d| !d.is_empty())
    });
    let mut environment = BTreeMap::new();
    for (index, (key, value)) in raw.environment.into_iter().enumerate() {
        let field = format!("runtime.environment.{key}");
        if index == MAX_VARIABLES {
            v.error(
                value.span(),
                "runtime.environment",
                format!("at most {MAX_VARIABLES} variables (AWS's limit); this is one more"),
            );
        }
        if !variable_name_ok(&key) {
            v.error(
                value.span(),
                &field,
                "not a valid variable name: ASCII letters, digits and _, not starting with a digit",
            );
        }
        let span = value.span();
        let parsed = match value.into_inner() {
            RawEnvValue::Literal(text) => {
                if looks_secret(&key) && !raw.allow_plaintext_secrets {
                    v.secret_error(
                        span.clone(),
                        &field,
                        "its name says it is a secret, and a value here is stored in plaintext in \
                         the runtime's configuration: declare it in [secrets] and refer to it from \
                         [runtime.secrets] (or set allow_plaintext_secrets = true in [runtime])",
                    );
                }
                if text.chars().count() > MAX_VALUE_CHARS {
                    v.error(
                        span,
                        &field,
                        format!("at most {MAX_VALUE_CHARS} characters (AWS's limit)"),
                    );
                }
                EnvValue::Plain(text)
            }
            RawEnvValue::FromEnv(RawEnv { env: var }) => {
                if !raw.allow_plaintext_secrets {
                    v.error(
                        span.clone(),
                        &field,
                        format!(
                            "{{ env = \"{var}\" }} would put the value in plaintext in the runtime's \
                             configuration: declare it in [secrets] and refer to it from \
                             [runtime.secrets] (or set allow_plaintext_secrets = true in [runtime])"
                        ),
                    );
                }
                let value = v.env_value(
                    span.clone(),
                    &field,
                    &var,
                    env,
                    "the value",
                    "to keep the runtime's value",
                );
                if value
                    .as_ref()
                    .is_some_and(|v| v.chars().count() > MAX_VALUE_CHARS)
                {
                    v.secret_error(
                        span,
                        &field,
                        format!("the value of ${var} is longer than {MAX_VALUE_CHARS} characters (AWS's limit)"),
                    );
                }
                EnvValue::Secret {
                    var,
                    value: value.map(Sensitive::new),
                }
            }
        };
        environment.insert(key, parsed);
    }
    let (min_seconds, max_seconds) = LIFETIME_SECONDS;
    let idle = raw.idle_timeout_seconds.map_or(900, |n| {
        v.range(&n, "runtime.idle_timeout_seconds", min_seconds, max_seconds)
    });
    let max = match &raw.max_lifetime_seconds {
        Some(n) => v.range(n, "runtime.max_lifetime_seconds", min_seconds, max_seconds),
        None => 28_800,
    };
    // (Out of range, it was reported already.)
    if idle > max
        && let Some(n) = &raw.max_lifetime_seconds
        && (min_seconds..=max_seconds).contains(n.get_ref())
    {
        v.error(
            n.span(),
            "runtime.max_lifetime_seconds",
            format!("must be at least idle_timeout_seconds ({idle})"),
        );
    }
    let has_authorizer = raw.authorizer.is_some();
    let allowed_scopes = match raw.allowed_scopes {
        None => Vec::new(),
        Some(list) => {
            if !has_authorizer {
                v.error(
                    list.span(),
                    "runtime.allowed_scopes",
                    "only with authorizer = \"cognito\"",
                );
            } else if list.get_ref().is_empty() || !list.get_ref().iter().all(|s| scope_ok(s)) {
                v.error(
                    list.span(),
                    "runtime.allowed_scopes",
                    "a non-empty list of 1-255 printable ASCII characters each (no spaces, quotes or backslashes)",
                );
            }
            sorted(list.into_inner())
        }
    };
    // The only authorizer is Cognito's, whose access tokens have no `aud`: any audience breaks
    // every call, with or without `authorizer` written yet.
    let allowed_audience = match raw.allowed_audience {
        None => Vec::new(),
        Some(list) => {
            v.error(
                list.span(),
                "runtime.allowed_audience",
                AUDIENCE_WITH_COGNITO,
            );
            sorted(list.into_inner())
        }
    };
    let request_header_allowlist = match raw.request_header_allowlist {
        None => Vec::new(),
        Some(list) => {
            request_headers(v, &list, has_authorizer);
            sorted(
                list.into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
            )
        }
    };
    let mut secrets = BTreeMap::new();
    for (name, secret) in raw.secrets {
        let field = format!("runtime.secrets.{name}");
        if !variable_name_ok(&name) {
            v.error(
                secret.span(),
                &field,
                "not a valid variable name: ASCII letters, digits and _, not starting with a digit",
            );
        }
        if environment.contains_key(&secret_arn_variable(&name)) {
            v.error(
                secret.span(),
                &field,
                format!(
                    "the server gets it as {}, which [runtime.environment] also sets",
                    secret_arn_variable(&name)
                ),
            );
        }
        secrets.insert(name, secret.into_inner());
    }
    RuntimeSpec {
        name,
        description,
        protocol: raw.protocol,
        network_mode: raw.network_mode,
        environment,
        idle_timeout_seconds: idle,
        max_lifetime_seconds: max,
        authorizer: raw.authorizer,
        allowed_scopes,
        allowed_audience,
        request_header_allowlist,
        secrets,
        adopt: raw.adopt,
        protect: raw.protect,
    }
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list.dedup();
    list
}

/// The inline policy infra adds to the runtime's role when `[runtime.secrets]` is declared: it
/// grants reading exactly those secrets (and decrypting them with their declared KMS keys).
pub const SECRETS_POLICY: &str = "infra-secrets";

impl Section for Runtime {
    const PATH: &'static str = "runtime";
    const UNIQUE_NAMES: &'static [crate::stack::UniqueName] = &[crate::stack::UniqueName {
        field: "name",
        what: "AgentCore runtime name",
        why: "AgentCore runtime names are unique in an account's region",
        any_case: false,
    }];
    const SECRET_FIELDS: &'static [&'static str] = &["environment."];
    const PLACEHOLDERS: &'static [(&'static str, &'static str)] =
        &[("runtime_name", "the name of [runtime]")];
    type Raw = RawRuntime;
    type Spec = RuntimeSpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
        let seconds = || {
            format!(
                "an integer from {} to {} (seconds)",
                LIFETIME_SECONDS.0, LIFETIME_SECONDS.1
            )
        };
        let strings = "a list of strings, such as [\"a\", \"b\"]";
        Some(match key {
            "" => "a table: [runtime] with name = \"...\"".into(),
            "name" => format!("a string: {}", RUNTIME_NAME.described),
            "description" => format!("a string of at most {MAX_DESCRIPTION_CHARS} characters"),
            "protocol" => "\"MCP\", \"HTTP\" or \"A2A\"".into(),
            "network_mode" => "\"PUBLIC\"".into(),
            "environment" => "a table of variables: NAME = \"value\"".into(),
            "idle_timeout_seconds" | "max_lifetime_seconds" => seconds(),
            "authorizer" => "\"cognito\"".into(),
            "allowed_scopes" | "allowed_audience" => strings.into(),
            "request_header_allowlist" => format!(
                "a list of 1 to {MAX_HEADERS} header names AgentCore passes to the server, such as \
                 [\"{CUSTOM_HEADER_PREFIX}Tenant\"] (no X-Amz-*, no X-Amzn-* but {CUSTOM_HEADER_PREFIX}*)"
            ),
            "secrets" => "a table: NAME = \"KEY\", KEY naming a [secrets.KEY] table".into(),
            "allow_plaintext_secrets" | "adopt" | "protect" => "true or false".into(),
            other => {
                if other.strip_prefix("environment.").is_some() {
                    "a string, or { env = \"VARIABLE\" } (with allow_plaintext_secrets = true)"
                        .into()
                } else if other.strip_prefix("secrets.").is_some() {
                    "a string: the KEY of a [secrets.KEY] table".into()
                } else {
                    return None;
                }
            }
        })
    }

    fn validate(v: &mut Validator, raw: Spanned<RawRuntime>, input: &Input) -> Option<RuntimeSpec> {
        let span = raw.span();
        let runtime = validate(v, raw.into_inner(), input.env);
        if runtime.authorizer == Some(Authorizer::Cognito)
            && !(v.declares::<UserPool>() && v.declares::<Client>())
        {
            v.error(
                span.clone(),
                "runtime.authorizer",
                "\"cognito\" needs [cognito.user_pool] and [cognito.client]",
            );
        }
        if !v.declares::<Image>() {
            v.error(
                span.clone(),
                "runtime",
                "a runtime needs [image] with uri = \"...\" or build = \"PACKAGE\"",
            );
        }
        if !v.declares::<Role>() {
            v.error(
                span.clone(),
                "runtime",
                "a runtime needs [iam.role], its execution role",
            );
        }
        for (variable, key) in &runtime.secrets {
            if !input.stack.all::<Secret>().any(|s| &s.key == key) {
                v.error(
                    span.clone(),
                    format!("runtime.secrets.{variable}"),
                    format!("{} is not declared; declare [secrets.{key}]", quote(key)),
                );
            }
        }
        Some(runtime)
    }

    /// AgentCore runs linux/arm64 images only; the role gets the policy that reads the runtime's
    /// secrets.
    fn check(v: &mut Validator, stack: &mut Stack) {
        let (Some(runtime), Some(span)) = (stack.one::<Runtime>().cloned(), v.span::<Runtime>(0))
        else {
            return;
        };
        if let Some(ImageSpec::Build { platform, .. }) = stack.one::<Image>()
            && *platform != Platform::LinuxArm64
            && let Some(image) = v.span::<Image>(0)
        {
            v.error(
                image,
                "image.platform",
                format!(
                    "AgentCore Runtime runs linux/arm64 only, so with [runtime] the image must be \
                     linux/arm64; {platform} is for a stack without [runtime] (an image used elsewhere)"
                ),
            );
        }
        let secrets: Vec<SecretSpec> = stack.all::<Secret>().cloned().collect();
        // The kept secrets the runtime reads (one named by `arn` takes no `kms_key`).
        let read = |s: &&SecretSpec| s.managed() && runtime.secrets.values().any(|k| *k == s.key);
        for secret in secrets.iter().filter(read) {
            let Some(key) = &secret.kms_key else {
                continue;
            };
            let field = format!("secrets.{}.kms_key", secret.key);
            if let (Some(problem), Some(at)) = (
                kms_key_problem(key, stack.region.as_deref()),
                v.marked(&field),
            ) {
                v.error(at, field, problem);
            }
        }
        if !stack.declares::<Role>() {
            return;
        }
        if stack.all::<RolePolicy>().any(|p| p.name == SECRETS_POLICY) {
            v.error(
                span,
                format!("iam.role.policies.{SECRETS_POLICY}"),
                "this policy name is reserved: infra writes it for [runtime.secrets]",
            );
        } else {
            if let Some(document) = secrets_policy(&runtime, &secrets) {
                stack.push::<RolePolicy>(PolicySpec {
                    name: SECRETS_POLICY.to_owned(),
                    document,
                });
            }
        }
    }

    fn placeholder(spec: &RuntimeSpec, name: &str, _: &Base) -> Option<String> {
        (name == "runtime_name").then(|| spec.name.clone())
    }
}

/// The policy that lets the runtime read its secrets: `secretsmanager:GetSecretValue` on exactly
/// those (a kept secret's ARN ends in `-` and six characters Secrets Manager picks), and
/// `kms:Decrypt` on their declared keys. `None` when the runtime reads no secret.
fn secrets_policy(runtime: &RuntimeSpec, secrets: &[SecretSpec]) -> Option<String> {
    let used: Vec<&SecretSpec> = secrets
        .iter()
        .filter(|s| runtime.secrets.values().any(|k| *k == s.key))
        .collect();
    if used.is_empty() {
        return None;
    }
    let arns: Vec<String> = used
        .iter()
        .map(|s| match &s.source {
            SecretSource::Managed { .. } => format!(
                "arn:${{partition}}:secretsmanager:${{region}}:${{account_id}}:secret:{}-??????",
                s.name
            ),
            SecretSource::Existing { arn } => arn.clone(),
        })
        .collect();
    let mut statements = vec![serde_json::json!({
        "Sid": "ReadTheRuntimesSecrets",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": arns,
    })];
    let keys: Vec<&String> = used.iter().filter_map(|s| s.kms_key.as_ref()).collect();
    if !keys.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "DecryptTheRuntimesSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": keys,
        }));
    }
    Some(serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string())
}
