//! `stack.toml`: parse (serde, unknown keys rejected) → validate → [`Stack`], typed and resolved.
//!
//! Everything here happens before any AWS call. Errors name the file, line, column and field, and
//! say what is allowed; all problems in a file are reported at once.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use crate::image::Platform;
use crate::policy;
use crate::sensitive::Sensitive;

/// Tag keys this tool puts on everything it creates.
pub const TAG_STACK: &str = "infra:stack";
pub const TAG_MANAGED_BY: &str = "infra:managed-by";

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    stack: RawStack,
    #[serde(default)]
    cognito: Option<RawCognito>,
    #[serde(default)]
    iam: Option<RawIam>,
    #[serde(default)]
    ecr: Option<RawEcr>,
    #[serde(default)]
    image: Option<Spanned<RawImage>>,
    #[serde(default)]
    runtime: Option<Spanned<RawRuntime>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEcr {
    repository: Option<Spanned<RawRepository>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepository {
    name: Spanned<String>,
    #[serde(default)]
    image_tag_mutability: TagMutability,
    #[serde(default)]
    scan_on_push: bool,
    #[serde(default)]
    keep_images: Option<Spanned<i64>>,
    #[serde(default)]
    encryption: Encryption,
    #[serde(default)]
    kms_key: Option<String>,
    #[serde(default)]
    adopt: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    #[serde(default)]
    uri: Option<Spanned<String>>,
    #[serde(default)]
    build: Option<Spanned<String>>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
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
}

/// An environment value: a literal, or `{ env = "NAME" }`, read from the local environment and
/// treated as a secret.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawEnvValue {
    Literal(String),
    FromEnv(RawEnv),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStack {
    name: Spanned<String>,
    region: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCognito {
    user_pool: Option<Spanned<RawUserPool>>,
    client: Option<Spanned<RawClient>>,
    #[serde(default)]
    users: Vec<Spanned<RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUserPool {
    name: Spanned<String>,
    #[serde(default)]
    password_policy: Option<Spanned<RawPasswordPolicy>>,
    #[serde(default)]
    username_attributes: Option<Spanned<Vec<UsernameAttribute>>>,
    #[serde(default)]
    deletion_protection: bool,
    #[serde(default)]
    adopt: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPasswordPolicy {
    minimum_length: Option<Spanned<i64>>,
    require_uppercase: Option<bool>,
    require_lowercase: Option<bool>,
    require_numbers: Option<bool>,
    require_symbols: Option<bool>,
    temporary_password_validity_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: Spanned<String>,
    explicit_auth_flows: Spanned<Vec<AuthFlow>>,
    #[serde(default)]
    generate_secret: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: Spanned<String>,
    password: Spanned<RawPassword>,
}

/// `password = { env = "NAME" }`, or a literal string, which is rejected with a clear message.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawPassword {
    Env(RawEnv),
    /// Held only to be rejected; the value is never read or shown.
    #[allow(dead_code)]
    Literal(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnv {
    env: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIam {
    role: Option<Spanned<RawRole>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: Spanned<String>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    max_session_duration: Option<Spanned<i64>>,
    #[serde(default)]
    trust_policy: Option<Spanned<String>>,
    #[serde(default)]
    policies: BTreeMap<String, Spanned<RawPolicy>>,
    #[serde(default)]
    adopt: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    document: Spanned<String>,
}

// ---------------------------------------------------------------------------------------------
// The stack, validated.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernameAttribute {
    Email,
    PhoneNumber,
}

impl UsernameAttribute {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[allow(clippy::enum_variant_names)]
pub enum AuthFlow {
    #[serde(rename = "ALLOW_ADMIN_USER_PASSWORD_AUTH")]
    AllowAdminUserPasswordAuth,
    #[serde(rename = "ALLOW_CUSTOM_AUTH")]
    AllowCustomAuth,
    #[serde(rename = "ALLOW_USER_PASSWORD_AUTH")]
    AllowUserPasswordAuth,
    #[serde(rename = "ALLOW_USER_SRP_AUTH")]
    AllowUserSrpAuth,
    #[serde(rename = "ALLOW_REFRESH_TOKEN_AUTH")]
    AllowRefreshTokenAuth,
    #[serde(rename = "ALLOW_USER_AUTH")]
    AllowUserAuth,
}

impl AuthFlow {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::AllowAdminUserPasswordAuth => "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            Self::AllowCustomAuth => "ALLOW_CUSTOM_AUTH",
            Self::AllowUserPasswordAuth => "ALLOW_USER_PASSWORD_AUTH",
            Self::AllowUserSrpAuth => "ALLOW_USER_SRP_AUTH",
            Self::AllowRefreshTokenAuth => "ALLOW_REFRESH_TOKEN_AUTH",
            Self::AllowUserAuth => "ALLOW_USER_AUTH",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stack {
    pub path: PathBuf,
    pub name: String,
    pub region: Option<String>,
    pub user_pool: Option<UserPoolSpec>,
    pub client: Option<ClientSpec>,
    pub users: Vec<UserSpec>,
    pub role: Option<RoleSpec>,
    pub repository: Option<RepositorySpec>,
    pub image: Option<ImageSpec>,
    pub runtime: Option<RuntimeSpec>,
}

/// The image the runtime runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSpec {
    /// A prebuilt image: a template that may use `${repository_uri}`.
    Uri(String),
    /// Build this workspace package into an image, push it to the stack's repository, and run
    /// it by digest.
    Build { package: String, platform: Platform },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum TagMutability {
    #[default]
    #[serde(rename = "MUTABLE")]
    Mutable,
    #[serde(rename = "IMMUTABLE")]
    Immutable,
}

impl TagMutability {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Mutable => "MUTABLE",
            Self::Immutable => "IMMUTABLE",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Encryption {
    #[default]
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "KMS")]
    Kms,
}

impl Encryption {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Aes256 => "AES256",
            Self::Kms => "KMS",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RepositorySpec {
    pub name: String,
    pub image_tag_mutability: TagMutability,
    pub scan_on_push: bool,
    /// Lifecycle policy: expire all but the newest N images. `None`: no policy is managed.
    pub keep_images: Option<i32>,
    pub encryption: Encryption,
    pub kms_key: Option<String>,
    pub adopt: bool,
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
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PasswordPolicy {
    pub minimum_length: i32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub temporary_password_validity_days: i32,
}

impl Default for PasswordPolicy {
    /// What Cognito applies to a field the request leaves out.
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: false,
            require_lowercase: false,
            require_numbers: false,
            require_symbols: false,
            temporary_password_validity_days: 7,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserPoolSpec {
    pub name: String,
    pub password_policy: PasswordPolicy,
    pub username_attributes: Vec<UsernameAttribute>,
    pub deletion_protection: bool,
    pub adopt: bool,
}

#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: String,
    /// Sorted and without duplicates: Cognito treats the list as a set.
    pub explicit_auth_flows: Vec<AuthFlow>,
    pub generate_secret: bool,
}

#[derive(Debug, Clone)]
pub struct UserSpec {
    pub username: String,
    pub password_env: String,
    /// `None` when the environment variable is unset: the user's password is then not managed,
    /// and creating the user is refused.
    pub password: Option<Sensitive<String>>,
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
    /// Templates with `${...}` placeholders; rendered once region and account are known.
    pub trust_policy: String,
    pub policies: BTreeMap<String, String>,
    pub adopt: bool,
}

/// The trust policy AWS documents for an AgentCore Runtime execution role.
pub const DEFAULT_TRUST_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AssumeRolePolicy",
      "Effect": "Allow",
      "Principal": { "Service": "bedrock-agentcore.amazonaws.com" },
      "Action": "sts:AssumeRole",
      "Condition": {
        "StringEquals": { "aws:SourceAccount": "${account_id}" },
        "ArnLike": { "aws:SourceArn": "arn:${partition}:bedrock-agentcore:${region}:${account_id}:*" }
      }
    }
  ]
}"#;

impl Stack {
    /// The tags everything this stack creates carries.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_STACK.to_owned(), self.name.clone()),
            (TAG_MANAGED_BY.to_owned(), "infra".to_owned()),
        ])
    }

    /// Read, parse and validate a stack file. `env` looks up environment variables (injected
    /// so tests need not touch the process environment).
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Stack, StackErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| StackErrors {
            errors: vec![StackError {
                path: path.to_owned(),
                position: None,
                field: String::new(),
                message: format!("cannot read the stack file: {e}"),
                snippet: None,
            }],
        })?;
        Self::parse(path, &text, env)
    }

    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Stack, StackErrors> {
        let raw: RawFile = toml::from_str(text).map_err(|e| StackErrors {
            errors: vec![StackError {
                path: path.to_owned(),
                position: e.span().map(|span| line_col(text, span.start)),
                field: String::new(),
                message: humanize(e.message()),
                snippet: e
                    .span()
                    .filter(|span| !may_hold_a_secret(text, span.start))
                    .and_then(|span| snippet(text, &span)),
            }],
        })?;
        let mut v = Validator {
            path,
            text,
            errors: Vec::new(),
            has_repository: false,
            runtime_name: None,
        };
        let stack = v.stack(raw, env);
        if v.errors.is_empty() {
            Ok(stack)
        } else {
            Err(StackErrors { errors: v.errors })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackError {
    pub path: PathBuf,
    /// 1-based line and column.
    pub position: Option<(usize, usize)>,
    /// Dotted path of the field, e.g. `cognito.user_pool.name`; empty for syntax errors.
    pub field: String,
    pub message: String,
    /// The offending source line with a caret under the span, for the terminal.
    pub snippet: Option<String>,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": {}: {}", self.field, self.message)?;
        }
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct StackErrors {
    pub errors: Vec<StackError>,
}

impl fmt::Display for StackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StackErrors {}

/// `  8 | the line` and a caret line under the span (first line of the span only).
fn snippet(text: &str, span: &Range<usize>) -> Option<String> {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let (number, col) = line_col(text, start);
    let width = span.end.min(line_end).saturating_sub(start).max(1);
    let gutter = " ".repeat(number.to_string().len());
    let indent: String = line[..start - line_start]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    debug_assert_eq!(indent.chars().count() + 1, col);
    Some(format!(
        "  {number} | {line}\n  {gutter} | {indent}{}",
        "^".repeat(line[start - line_start..].chars().count().min(width).max(1))
    ))
}

/// Whether the line at `offset` may hold a secret (a user's table, or a key naming one), so a
/// syntax error there must not quote it.
fn may_hold_a_secret(text: &str, offset: usize) -> bool {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].to_ascii_lowercase();
    let table = before
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .unwrap_or("");
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|w| line.contains(w))
        || table.contains("users")
}

/// Make serde's wording readable for people who write TOML, not Rust.
fn humanize(message: &str) -> String {
    message
        .trim()
        .replace("expected i64", "expected an integer")
        .replace("expected i32", "expected an integer")
        .replace("expected a boolean", "expected true or false")
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

// ---------------------------------------------------------------------------------------------
// Validation.

struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<StackError>,
    /// What the placeholders of policy documents may refer to.
    has_repository: bool,
    runtime_name: Option<String>,
}

/// A name rule from the AWS API reference.
struct NameRule {
    max: usize,
    allowed: fn(char) -> bool,
    described: &'static str,
}

const POOL_NAME: NameRule = NameRule {
    max: 128,
    allowed: |c| {
        c.is_ascii_alphanumeric() || c == '_' || c.is_ascii_whitespace() || "+=,.@-".contains(c)
    },
    described: "1-128 characters: ASCII letters, digits, spaces and _+=,.@-",
};
const CLIENT_NAME: NameRule = POOL_NAME;
const ROLE_NAME: NameRule = NameRule {
    max: 64,
    allowed: |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c),
    described: "1-64 characters: ASCII letters, digits and _+=,.@-",
};
const POLICY_NAME: NameRule = NameRule {
    max: 128,
    allowed: |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c),
    described: "1-128 characters: ASCII letters, digits and _+=,.@-",
};
const USERNAME: NameRule = NameRule {
    max: 128,
    allowed: |c| !c.is_whitespace() && !c.is_control(),
    described: "1-128 characters without spaces or control characters",
};
const STACK_NAME: NameRule = NameRule {
    max: 128,
    allowed: |c| c.is_ascii_alphanumeric() || "_.:/=+-@".contains(c),
    described: "1-128 characters: ASCII letters, digits and _.:/=+-@",
};
const REPOSITORY_NAME: NameRule = NameRule {
    max: 256,
    allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c),
    described: "2-256 characters: lowercase letters, digits and ._-/",
};
const RUNTIME_NAME: NameRule = NameRule {
    max: 48,
    allowed: |c| c.is_ascii_alphanumeric() || c == '_',
    described: "AWS pattern [a-zA-Z][a-zA-Z0-9_]{0,47}",
};
const ENV_NAME: NameRule = NameRule {
    max: 256,
    allowed: |c| c.is_ascii_alphanumeric() || c == '_',
    described: "an environment variable name: ASCII letters, digits and _",
};

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(StackError {
            path: self.path.to_owned(),
            position: Some(line_col(self.text, span.start)),
            field: field.into(),
            message: message.into(),
            snippet: snippet(self.text, &span),
        });
    }

    /// An error about a value that may be a secret: no source snippet, which would echo it.
    fn secret_error(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        self.error(span, field, message);
        if let Some(e) = self.errors.last_mut() {
            e.snippet = None;
        }
    }

    fn name(&mut self, value: &Spanned<String>, field: &str, rule: &NameRule) -> String {
        let name = value.get_ref();
        let len = name.chars().count();
        if len == 0 || len > rule.max || !name.chars().all(rule.allowed) {
            self.error(
                value.span(),
                field,
                format!("{name:?} is not a valid name; allowed: {}", rule.described),
            );
        }
        name.clone()
    }

    fn range(&mut self, value: &Spanned<i64>, field: &str, min: i64, max: i64) -> i32 {
        let n = *value.get_ref();
        if !(min..=max).contains(&n) {
            self.error(
                value.span(),
                field,
                format!("{n} is out of range; allowed: {min} to {max}"),
            );
            return min as i32;
        }
        n as i32
    }

    fn document(&mut self, value: &Spanned<String>, field: &str) -> String {
        let text = value.get_ref();
        match policy::unknown_placeholders(text) {
            Err(message) => self.error(value.span(), field, message),
            Ok(unknown) if !unknown.is_empty() => {
                let known: Vec<String> = policy::PLACEHOLDERS
                    .iter()
                    .map(|(n, _)| format!("${{{n}}}"))
                    .collect();
                self.error(
                    value.span(),
                    field,
                    format!(
                        "unknown placeholder {}; allowed: {}",
                        unknown
                            .iter()
                            .map(|n| format!("${{{n}}}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        known.join(", ")
                    ),
                );
            }
            Ok(_) if self.unavailable(text).is_some() => {
                let (name, needs) = self.unavailable(text).expect("checked");
                self.error(
                    value.span(),
                    field,
                    format!("${{{name}}} needs {needs} in the stack"),
                );
            }
            Ok(_) => {
                // Check it is JSON with sample values, so a typo fails here and not at AWS.
                let sample = policy::Vars::sample();
                match serde_json::from_str::<serde_json::Value>(&policy::render(text, &sample)) {
                    Ok(doc) if doc.get("Statement").is_some() => {}
                    Ok(_) => self.error(
                        value.span(),
                        field,
                        "a policy document is a JSON object with a \"Statement\"",
                    ),
                    Err(e) => self.error(value.span(), field, format!("not valid JSON: {e}")),
                }
            }
        }
        text.clone()
    }

    /// A placeholder used in `text` whose resource is not declared, with what it needs.
    fn unavailable<'t>(&self, text: &'t str) -> Option<(&'t str, &'static str)> {
        let names = policy::placeholders(text).ok()?;
        names.into_iter().find_map(|name| match name {
            "repository_arn" | "repository_uri" if !self.has_repository => {
                Some((name, "[ecr.repository]"))
            }
            "runtime_name" if self.runtime_name.is_none() => Some((name, "[runtime]")),
            _ => None,
        })
    }

    fn repository(&mut self, raw: RawRepository) -> RepositorySpec {
        let name = self.name(&raw.name, "ecr.repository.name", &REPOSITORY_NAME);
        if name
            .chars()
            .next()
            .is_some_and(|c| !c.is_ascii_lowercase() && !c.is_ascii_digit())
        {
            self.error(
                raw.name.span(),
                "ecr.repository.name",
                "must start with a lowercase letter or digit",
            );
        }
        let keep_images = raw
            .keep_images
            .map(|n| self.range(&n, "ecr.repository.keep_images", 1, 10_000));
        if raw.kms_key.is_some() && raw.encryption != Encryption::Kms {
            self.error(
                raw.name.span(),
                "ecr.repository.kms_key",
                "only with encryption = \"KMS\"",
            );
        }
        RepositorySpec {
            name,
            image_tag_mutability: raw.image_tag_mutability,
            scan_on_push: raw.scan_on_push,
            keep_images,
            encryption: raw.encryption,
            kms_key: raw.kms_key,
            adopt: raw.adopt,
        }
    }

    fn image_uri(&mut self, uri: &Spanned<String>, span: Range<usize>) -> String {
        let text = uri.get_ref();
        let unknown: Vec<&str> = policy::placeholders(text)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| *n != "repository_uri")
            .collect();
        if !unknown.is_empty() {
            self.error(
                uri.span(),
                "image.uri",
                "the only placeholder allowed here is ${repository_uri}",
            );
        } else if text.contains("${repository_uri}") && !self.has_repository {
            self.error(
                uri.span(),
                "image.uri",
                "${repository_uri} needs [ecr.repository] in the stack",
            );
        }
        let rendered = text.replace(
            "${repository_uri}",
            "000000000000.dkr.ecr.us-east-1.amazonaws.com/repo",
        );
        let (path, reference) = match rendered.split_once('@') {
            Some((path, digest)) => (path, Some(digest)),
            None => (rendered.as_str(), None),
        };
        let has_tag = path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'));
        let digest_ok = reference.is_none_or(|d| {
            d.strip_prefix("sha256:")
                .is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        });
        if !path.contains('/') || !(has_tag || reference.is_some()) || !digest_ok {
            self.error(
                span,
                "image.uri",
                "a container image reference: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:<64 hex digits>",
            );
        }
        text.clone()
    }

    fn runtime(&mut self, raw: RawRuntime, env: &dyn Fn(&str) -> Option<String>) -> RuntimeSpec {
        let name = self.name(&raw.name, "runtime.name", &RUNTIME_NAME);
        if !raw
            .name
            .get_ref()
            .starts_with(|c: char| c.is_ascii_alphabetic())
        {
            self.error(
                raw.name.span(),
                "runtime.name",
                "must start with a letter (AWS pattern [a-zA-Z][a-zA-Z0-9_]{0,47})",
            );
        }
        let description = raw.description.and_then(|d| {
            if d.get_ref().chars().count() > 4096 {
                self.error(d.span(), "runtime.description", "at most 4096 characters");
            }
            Some(d.into_inner()).filter(|d| !d.is_empty())
        });
        let mut environment = BTreeMap::new();
        for (key, value) in raw.environment {
            let field = format!("runtime.environment.{key}");
            if key.is_empty()
                || key.len() > 100
                || !key.chars().all(ENV_NAME.allowed)
                || key.starts_with(|c: char| c.is_ascii_digit())
            {
                self.error(value.span(), &field, "not a valid variable name: ASCII letters, digits and _, not starting with a digit");
            }
            let parsed = match value.into_inner() {
                RawEnvValue::Literal(text) => EnvValue::Plain(text),
                RawEnvValue::FromEnv(RawEnv { env: var }) => {
                    let value = env(&var).filter(|v| !v.is_empty()).map(Sensitive::new);
                    EnvValue::Secret { var, value }
                }
            };
            environment.insert(key, parsed);
        }
        let idle = raw.idle_timeout_seconds.map_or(900, |n| {
            self.range(&n, "runtime.idle_timeout_seconds", 60, 28_800)
        });
        let max = match &raw.max_lifetime_seconds {
            Some(n) => self.range(n, "runtime.max_lifetime_seconds", 60, 28_800),
            None => 28_800,
        };
        if idle > max
            && let Some(n) = &raw.max_lifetime_seconds
        {
            self.error(
                n.span(),
                "runtime.max_lifetime_seconds",
                format!("must be at least idle_timeout_seconds ({idle})"),
            );
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
        }
    }

    fn stack(&mut self, raw: RawFile, env: &dyn Fn(&str) -> Option<String>) -> Stack {
        let name = self.name(&raw.stack.name, "stack.name", &STACK_NAME);
        let region = raw.stack.region.map(|r| {
            let valid = !r.get_ref().is_empty()
                && r.get_ref()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                self.error(
                    r.span(),
                    "stack.region",
                    "not an AWS region name, such as \"us-west-2\"",
                );
            }
            r.into_inner()
        });

        let cognito = raw.cognito.unwrap_or(RawCognito {
            user_pool: None,
            client: None,
            users: Vec::new(),
        });
        let user_pool = cognito.user_pool.map(|p| self.user_pool(p.into_inner()));
        let client = cognito.client.map(|c| {
            let span = c.span();
            let spec = self.client(c.into_inner());
            if user_pool.is_none() {
                self.error(
                    span,
                    "cognito.client",
                    "an app client needs [cognito.user_pool]",
                );
            }
            spec
        });
        let mut users: Vec<UserSpec> = Vec::new();
        for u in cognito.users {
            let span = u.span();
            let user = self.user(u.into_inner(), env, user_pool.as_ref());
            if user_pool.is_none() {
                self.error(
                    span.clone(),
                    "cognito.users",
                    "users need [cognito.user_pool]",
                );
            }
            if users.iter().any(|other| other.username == user.username) {
                self.error(
                    span,
                    "cognito.users.username",
                    format!("{:?} is declared twice", user.username),
                );
            }
            users.push(user);
        }
        let repository = raw
            .ecr
            .and_then(|ecr| ecr.repository)
            .map(|r| self.repository(r.into_inner()));
        self.has_repository = repository.is_some();
        let runtime_span = raw.runtime.as_ref().map(Spanned::span);
        let runtime = raw.runtime.map(|r| self.runtime(r.into_inner(), env));
        if let (Some(span), Some(runtime)) = (&runtime_span, &runtime)
            && runtime.authorizer == Some(Authorizer::Cognito)
            && (user_pool.is_none() || client.is_none())
        {
            self.error(
                span.clone(),
                "runtime.authorizer",
                "\"cognito\" needs [cognito.user_pool] and [cognito.client]",
            );
        }
        self.runtime_name = runtime.as_ref().map(|r| r.name.clone());
        let image = raw.image.and_then(|i| {
            let span = i.span();
            match i.into_inner() {
                RawImage { uri: Some(uri), build: None, platform: None } => {
                    Some(ImageSpec::Uri(self.image_uri(&uri, span)))
                }
                RawImage { uri: None, build: Some(package), platform } => {
                    let valid = !package.get_ref().is_empty()
                        && package.get_ref().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if !valid {
                        self.error(package.span(), "image.build", "the name of a cargo package in this workspace");
                    }
                    if !self.has_repository {
                        self.error(package.span(), "image.build", "a built image is pushed to [ecr.repository]; declare one");
                    }
                    Some(ImageSpec::Build { package: package.into_inner(), platform: platform.unwrap_or_default() })
                }
                RawImage { uri: Some(_), platform: Some(_), .. } => {
                    self.error(span, "image.platform", "only with build = \"...\"; a uri names its platform itself");
                    None
                }
                _ => {
                    self.error(span, "image", "declare exactly one of uri = \"...\" (a prebuilt image) or build = \"PACKAGE\"");
                    None
                }
            }
        });
        if let (Some(span), None) = (&runtime_span, &image) {
            self.error(
                span.clone(),
                "runtime",
                "a runtime needs [image] with uri = \"...\" or build = \"PACKAGE\"",
            );
        }
        let role = raw
            .iam
            .and_then(|iam| iam.role)
            .map(|r| self.role(r.into_inner()));
        if let (Some(span), None) = (runtime_span, &role) {
            self.error(
                span,
                "runtime",
                "a runtime needs [iam.role], its execution role",
            );
        }

        Stack {
            path: self.path.to_owned(),
            name,
            region,
            user_pool,
            client,
            users,
            role,
            repository,
            image,
            runtime,
        }
    }

    fn user_pool(&mut self, raw: RawUserPool) -> UserPoolSpec {
        let name = self.name(&raw.name, "cognito.user_pool.name", &POOL_NAME);
        let mut policy = PasswordPolicy::default();
        if let Some(p) = raw.password_policy.map(Spanned::into_inner) {
            if let Some(n) = &p.minimum_length {
                policy.minimum_length =
                    self.range(n, "cognito.user_pool.password_policy.minimum_length", 6, 99);
            }
            if let Some(n) = &p.temporary_password_validity_days {
                policy.temporary_password_validity_days = self.range(
                    n,
                    "cognito.user_pool.password_policy.temporary_password_validity_days",
                    0,
                    365,
                );
            }
            policy.require_uppercase = p.require_uppercase.unwrap_or(policy.require_uppercase);
            policy.require_lowercase = p.require_lowercase.unwrap_or(policy.require_lowercase);
            policy.require_numbers = p.require_numbers.unwrap_or(policy.require_numbers);
            policy.require_symbols = p.require_symbols.unwrap_or(policy.require_symbols);
        }
        let mut username_attributes = raw
            .username_attributes
            .map(Spanned::into_inner)
            .unwrap_or_default();
        username_attributes.sort();
        username_attributes.dedup();
        UserPoolSpec {
            name,
            password_policy: policy,
            username_attributes,
            deletion_protection: raw.deletion_protection,
            adopt: raw.adopt,
        }
    }

    fn client(&mut self, raw: RawClient) -> ClientSpec {
        let name = self.name(&raw.name, "cognito.client.name", &CLIENT_NAME);
        let span = raw.explicit_auth_flows.span();
        let mut flows = raw.explicit_auth_flows.into_inner();
        if !flows.contains(&AuthFlow::AllowRefreshTokenAuth) {
            self.error(
                span,
                "cognito.client.explicit_auth_flows",
                "must include \"ALLOW_REFRESH_TOKEN_AUTH\" (Cognito requires it), plus the sign-in flows the client uses",
            );
        }
        flows.sort();
        flows.dedup();
        ClientSpec {
            name,
            explicit_auth_flows: flows,
            generate_secret: raw.generate_secret,
        }
    }

    fn user(
        &mut self,
        raw: RawUser,
        env: &dyn Fn(&str) -> Option<String>,
        pool: Option<&UserPoolSpec>,
    ) -> UserSpec {
        let username = self.name(&raw.username, "cognito.users.username", &USERNAME);
        let span = raw.password.span();
        let (password_env, password) = match raw.password.into_inner() {
            RawPassword::Literal(_) => {
                self.secret_error(
                    span,
                    "cognito.users.password",
                    "a literal password is not allowed in the stack file; \
                     write password = { env = \"VARIABLE\" } and set that variable",
                );
                (String::new(), None)
            }
            RawPassword::Env(RawEnv { env: var }) => {
                if var.is_empty() || !var.chars().all(ENV_NAME.allowed) {
                    self.error(
                        span.clone(),
                        "cognito.users.password.env",
                        format!("{var:?} is not valid; allowed: {}", ENV_NAME.described),
                    );
                }
                let value = env(&var).filter(|v| !v.is_empty());
                if let (Some(value), Some(pool)) = (&value, pool) {
                    self.check_password(value, &pool.password_policy, &var, span);
                }
                (var, value.map(Sensitive::new))
            }
        };
        UserSpec {
            username,
            password_env,
            password,
        }
    }

    /// Check a password against the declared policy without ever printing it.
    fn check_password(
        &mut self,
        value: &str,
        policy: &PasswordPolicy,
        var: &str,
        span: Range<usize>,
    ) {
        let mut missing = Vec::new();
        if value.chars().count() < policy.minimum_length as usize {
            missing.push(format!("at least {} characters", policy.minimum_length));
        }
        if policy.require_uppercase && !value.chars().any(|c| c.is_ascii_uppercase()) {
            missing.push("an uppercase letter".to_owned());
        }
        if policy.require_lowercase && !value.chars().any(|c| c.is_ascii_lowercase()) {
            missing.push("a lowercase letter".to_owned());
        }
        if policy.require_numbers && !value.chars().any(|c| c.is_ascii_digit()) {
            missing.push("a number".to_owned());
        }
        if policy.require_symbols && !value.chars().any(|c| c.is_ascii_punctuation()) {
            missing.push("a symbol".to_owned());
        }
        if !missing.is_empty() {
            self.secret_error(
                span,
                "cognito.users.password",
                format!(
                    "the value of ${var} does not meet the pool's password policy: it needs {}",
                    missing.join(", ")
                ),
            );
        }
    }

    fn role(&mut self, raw: RawRole) -> RoleSpec {
        let name = self.name(&raw.name, "iam.role.name", &ROLE_NAME);
        let path = match raw.path {
            Some(p) => {
                let s = p.get_ref();
                let valid = s.starts_with('/')
                    && s.ends_with('/')
                    && s.len() <= 512
                    && s.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
                if !valid {
                    self.error(
                        p.span(),
                        "iam.role.path",
                        "a path starts and ends with '/', up to 512 printable ASCII characters",
                    );
                }
                p.into_inner()
            }
            None => "/".to_owned(),
        };
        let description = raw.description.and_then(|d| {
            let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}');
            if d.get_ref().chars().count() > 1000 || !d.get_ref().chars().all(allowed) {
                self.error(
                    d.span(),
                    "iam.role.description",
                    "at most 1000 characters: printable ASCII, Latin-1 letters, tabs and newlines",
                );
            }
            // IAM stores an empty description as none at all.
            Some(d.into_inner()).filter(|d| !d.is_empty())
        });
        let max_session_duration = raw.max_session_duration.map_or(3600, |d| {
            self.range(&d, "iam.role.max_session_duration", 3600, 43200)
        });
        let trust_policy = match raw.trust_policy {
            Some(doc) => self.document(&doc, "iam.role.trust_policy"),
            None => DEFAULT_TRUST_POLICY.to_owned(),
        };
        let mut policies = BTreeMap::new();
        for (policy_name, p) in raw.policies {
            let field = format!("iam.role.policies.{policy_name}");
            let valid = !policy_name.is_empty()
                && policy_name.len() <= POLICY_NAME.max
                && policy_name.chars().all(POLICY_NAME.allowed);
            if !valid {
                self.error(
                    p.span(),
                    &field,
                    format!(
                        "{policy_name:?} is not a valid policy name; allowed: {}",
                        POLICY_NAME.described
                    ),
                );
            }
            let document = self.document(&p.get_ref().document, &format!("{field}.document"));
            policies.insert(policy_name, document);
        }
        RoleSpec {
            name,
            path,
            description,
            max_session_duration,
            trust_policy,
            policies,
            adopt: raw.adopt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[stack]
name = "web-search-mcp"
region = "us-west-2"

[cognito.user_pool]
name = "MCPServerPool"
password_policy = { minimum_length = 8 }

[cognito.client]
name = "MCPServerPoolClient"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[cognito.users]]
username = "testuser"
password = { env = "COGNITO_PASSWORD" }

[iam.role]
name = "agentcore-web-search-mcp-role"

[iam.role.policies.AgentCoreRuntime]
document = '''{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "arn:aws:logs:${region}:${account_id}:*" } ] }'''
"#;

    fn env_with_password(name: &str) -> Option<String> {
        (name == "COGNITO_PASSWORD").then(|| "Correct-Horse-9".to_owned())
    }

    fn errors(text: &str) -> Vec<String> {
        match Stack::parse(Path::new("stack.toml"), text, &env_with_password) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn parses_the_documented_example() {
        let stack = Stack::parse(Path::new("stack.toml"), GOOD, &env_with_password).unwrap();
        assert_eq!(stack.name, "web-search-mcp");
        assert_eq!(
            stack
                .user_pool
                .as_ref()
                .unwrap()
                .password_policy
                .minimum_length,
            8
        );
        assert_eq!(
            stack.client.as_ref().unwrap().explicit_auth_flows,
            vec![
                AuthFlow::AllowUserPasswordAuth,
                AuthFlow::AllowRefreshTokenAuth
            ]
        );
        let role = stack.role.unwrap();
        assert_eq!(role.path, "/");
        assert!(
            role.trust_policy
                .contains("bedrock-agentcore.amazonaws.com")
        );
        assert_eq!(
            stack.users[0].password.as_ref().unwrap().expose(),
            "Correct-Horse-9"
        );
    }

    #[test]
    fn unknown_key_names_line_and_allowed_keys() {
        let text = GOOD.replace("password_policy =", "pasword_policy =");
        let errs = errors(&text);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("stack.toml:8:1: unknown field `pasword_policy`"),
            "{}",
            errs[0]
        );
        assert!(errs[0].contains("password_policy"), "{}", errs[0]);
    }

    #[test]
    fn wrong_type_is_reported_with_position() {
        let errs = errors(&GOOD.replace("minimum_length = 8", "minimum_length = \"8\""));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("stack.toml:8:"), "{}", errs[0]);
        assert!(errs[0].contains("integer"), "{}", errs[0]);
    }

    #[test]
    fn names_that_break_aws_rules() {
        let long = "r".repeat(65);
        let text = GOOD
            .replace("\"agentcore-web-search-mcp-role\"", &format!("\"{long}\""))
            .replace("\"MCPServerPool\"", "\"bad/pool\"");
        let errs = errors(&text);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("stack.toml:7:8: cognito.user_pool.name: \"bad/pool\""),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].contains("iam.role.name") && errs[1].contains("1-64 characters"),
            "{}",
            errs[1]
        );
    }

    #[test]
    fn password_policy_range() {
        let errs = errors(&GOOD.replace("minimum_length = 8", "minimum_length = 5"));
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0],
            "stack.toml:8:38: cognito.user_pool.password_policy.minimum_length: 5 is out of range; allowed: 6 to 99\n  \
             8 | password_policy = { minimum_length = 5 }\n    |                                      ^"
        );
        assert_eq!(
            errors(&GOOD.replace("minimum_length = 8", "minimum_length = 100")).len(),
            1
        );
    }

    #[test]
    fn literal_password_is_refused_without_echoing_it() {
        let errs = errors(&GOOD.replace("{ env = \"COGNITO_PASSWORD\" }", "\"Sup3r-Secret\""));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].contains("stack.toml:16:12: cognito.users.password: a literal password"),
            "{}",
            errs[0]
        );
        assert!(!errs[0].contains("Sup3r-Secret"));
    }

    #[test]
    fn weak_password_is_refused_without_echoing_it() {
        let text = GOOD.replace("minimum_length = 8", "minimum_length = 20");
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("$COGNITO_PASSWORD does not meet"),
            "{}",
            errs[0]
        );
        assert!(!errs[0].contains("Correct-Horse-9"));
    }

    #[test]
    fn unset_password_variable_is_allowed_until_a_create_needs_it() {
        let stack = Stack::parse(Path::new("stack.toml"), GOOD, &|_| None).unwrap();
        assert!(stack.users[0].password.is_none());
        assert_eq!(stack.users[0].password_env, "COGNITO_PASSWORD");
    }

    #[test]
    fn unknown_auth_flow_lists_the_allowed_ones() {
        let errs = errors(&GOOD.replace("\"ALLOW_REFRESH_TOKEN_AUTH\"", "\"REFRESH_TOKEN\""));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("ALLOW_USER_SRP_AUTH"), "{}", errs[0]);
    }

    #[test]
    fn unknown_placeholder_and_bad_json() {
        let errs = errors(&GOOD.replace("${account_id}", "${acount}"));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].contains(
                "iam.role.policies.AgentCoreRuntime.document: unknown placeholder ${acount}"
            ),
            "{}",
            errs[0]
        );
        assert!(errs[0].contains("${account_id}"));
        let errs = errors(&GOOD.replace("\"Resource\"", "Resource"));
        assert!(errs[0].contains("not valid JSON"), "{}", errs[0]);
    }

    #[test]
    fn a_client_without_refresh_token_auth_is_refused() {
        let errs = errors(&GOOD.replace(", \"ALLOW_REFRESH_TOKEN_AUTH\"", ""));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains(
                "cognito.client.explicit_auth_flows: must include \"ALLOW_REFRESH_TOKEN_AUTH\""
            ),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn syntax_errors_on_a_password_line_do_not_quote_it() {
        for bad in [
            "password = \"Unterminated-S3cret",
            "password = { env = \"X\", value = \"Inline-S3cret\" }",
        ] {
            let text = GOOD.replace("password = { env = \"COGNITO_PASSWORD\" }", bad);
            let errs = errors(&text);
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(errs[0].starts_with("stack.toml:16:"), "{}", errs[0]);
            assert!(!errs[0].contains("S3cret"), "{}", errs[0]);
        }
    }

    #[test]
    fn an_empty_role_description_is_no_description() {
        let text = GOOD.replace(
            "name = \"agentcore-web-search-mcp-role\"",
            "name = \"agentcore-web-search-mcp-role\"\ndescription = \"\"",
        );
        let stack = Stack::parse(Path::new("stack.toml"), &text, &env_with_password).unwrap();
        assert_eq!(stack.role.unwrap().description, None);
    }

    #[test]
    fn image_is_a_uri_or_a_build_never_both() {
        let hosting = "\n[ecr.repository]\nname = \"web-search-mcp\"\n[image]\n";
        let stack = |image: &str| {
            Stack::parse(
                Path::new("stack.toml"),
                &format!("{GOOD}{hosting}{image}"),
                &env_with_password,
            )
        };
        let built = stack("build = \"server\"").unwrap();
        assert_eq!(
            built.image,
            Some(ImageSpec::Build {
                package: "server".into(),
                platform: Platform::LinuxArm64
            })
        );
        let amd = stack("build = \"server\"\nplatform = \"linux/amd64\"").unwrap();
        assert!(matches!(
            amd.image,
            Some(ImageSpec::Build {
                platform: Platform::LinuxAmd64,
                ..
            })
        ));
        let both = stack("build = \"server\"\nuri = \"${repository_uri}:1\"")
            .unwrap_err()
            .to_string();
        assert!(both.contains("image: declare exactly one of uri"), "{both}");
        let arch = stack("build = \"server\"\nplatform = \"linux/s390x\"")
            .unwrap_err()
            .to_string();
        assert!(
            arch.contains("linux/arm64") && arch.contains("linux/amd64"),
            "{arch}"
        );
        let bad_uri = stack("uri = \"web-search-mcp\"").unwrap_err().to_string();
        assert!(bad_uri.contains("REGISTRY/REPOSITORY:TAG"), "{bad_uri}");
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let text = GOOD
            .replace("minimum_length = 8", "minimum_length = 2")
            .replace("\"testuser\"", "\"test user\"");
        assert_eq!(errors(&text).len(), 2);
    }

    #[test]
    fn missing_stack_name() {
        let errs = errors(&GOOD.replace("name = \"web-search-mcp\"\n", ""));
        assert!(errs[0].contains("missing field `name`"), "{}", errs[0]);
    }
}
