//! `stack.toml`: parse (`parse`: syntax, then each section's serde type, unknown keys rejected)
//! → validate → [`Stack`], typed and resolved.
//!
//! Everything here happens before any AWS call. Errors name the file, line, column and field, and
//! say what is allowed; all problems in a file are reported at once, type errors included, in
//! the order of the file. Each section's raw form, what its fields accept, its resolved spec and
//! validation live with its resource kind (`resources/<kind>/section.rs`); this module holds the
//! file's top-level shape, what is declared (computed first, from the file as written, so no
//! section's checks depend on validation order), and the checks across sections (among them the
//! size of the role's inline policies together, as IAM counts it).

mod parse;
pub mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::policy::Vars;
pub use crate::resources::cognito_client::section::{AuthFlow, ClientSpec};
pub use crate::resources::cognito_pool::section::{
    PasswordPolicy, UserPoolSpec, UsernameAttribute,
};
pub use crate::resources::cognito_user::section::UserSpec;
pub use crate::resources::ecr_repository::section::{Encryption, RepositorySpec, TagMutability};
pub use crate::resources::iam_role::section::{DEFAULT_TRUST_POLICY, RoleSpec};
pub use crate::resources::image::section::{ImageSpec, Platform};
pub use crate::resources::runtime::section::{
    Authorizer, EnvValue, NetworkMode, RuntimeSpec, ServerProtocol,
};
pub use crate::resources::secret::section::{SecretSource, SecretSpec};
use crate::resources::{
    cognito_client, cognito_pool, cognito_user, ecr_repository, iam_role, image, runtime, secret,
};
use validate::{STACK_NAME, Validator, quote};
pub use validate::{StackError, StackErrors};

/// Tag keys this tool puts on everything it creates.
pub const TAG_STACK: &str = "infra:stack";
pub const TAG_MANAGED_BY: &str = "infra:managed-by";

// ---------------------------------------------------------------------------------------------
// The file as written: one key per section, each section's type with its kind.

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
    image: Option<Spanned<image::section::RawImage>>,
    #[serde(default)]
    runtime: Option<Spanned<runtime::section::RawRuntime>>,
    #[serde(default)]
    secrets: BTreeMap<String, Spanned<secret::section::RawSecret>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStack {
    name: Spanned<String>,
    region: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCognito {
    user_pool: Option<Spanned<cognito_pool::section::RawUserPool>>,
    client: Option<Spanned<cognito_client::section::RawClient>>,
    #[serde(default)]
    users: Vec<Spanned<cognito_user::section::RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIam {
    role: Option<Spanned<iam_role::section::RawRole>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEcr {
    repository: Option<Spanned<ecr_repository::section::RawRepository>>,
}

// ---------------------------------------------------------------------------------------------
// The stack, validated.

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
    /// `[secrets.KEY]`, by key.
    pub secrets: Vec<SecretSpec>,
}

/// The inline policy infra adds to the runtime's role when `[runtime.secrets]` is declared: it
/// grants reading exactly those secrets (and decrypting them with their declared KMS keys).
pub const SECRETS_POLICY: &str = "infra-secrets";

impl Stack {
    /// A declared secret, by its `[secrets.KEY]` key.
    pub fn secret(&self, key: &str) -> Option<&SecretSpec> {
        self.secrets.iter().find(|s| s.key == key)
    }

    /// The tags everything this stack creates carries.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_STACK.to_owned(), self.name.clone()),
            (TAG_MANAGED_BY.to_owned(), "infra".to_owned()),
        ])
    }

    /// The values of the placeholders in policy documents and the image URI, once the
    /// caller's region, account and partition are known.
    pub fn vars(&self, region: &str, account_id: &str, partition: &str) -> Vars {
        Vars::new(
            region,
            account_id,
            partition,
            &self.name,
            self.repository.as_ref().map(|r| r.name.as_str()),
            self.runtime.as_ref().map(|r| r.name.as_str()),
        )
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
        let loose = parse::parse::<RawFile>(path, text, &accepts);
        let mut v = Validator::new(path, text, loose.declared, loose.vars);
        for error in loose.errors {
            v.push(error);
        }
        for (field, offset) in loose.reported {
            v.reported(field, offset);
        }
        match loose.raw {
            Some(raw) => {
                let stack = validate_file(&mut v, raw, env);
                v.finish().map(|()| stack)
            }
            None => Err(v.failed()),
        }
    }
}

/// What the field at a dotted path accepts, for the messages of the first pass (a value of the
/// wrong type, a missing field). Each section says it for its own fields.
fn accepts(path: &str) -> Option<String> {
    let under = |prefix: &str| match path.strip_prefix(prefix) {
        Some("") => Some(""),
        Some(rest) => rest.strip_prefix('.'),
        None => None,
    };
    if let Some(rest) = under("stack") {
        return match rest {
            "" => Some("a table: [stack] with name = \"...\"".into()),
            "name" => Some(format!("a string of {}", STACK_NAME.described)),
            "region" => Some("an AWS region name, such as \"us-west-2\"".into()),
            _ => None,
        };
    }
    type Accepts = fn(&str) -> Option<String>;
    let sections: [(&str, Accepts); 7] = [
        ("cognito.user_pool", cognito_pool::section::accepts),
        ("cognito.client", cognito_client::section::accepts),
        ("cognito.users", cognito_user::section::accepts),
        ("iam.role", iam_role::section::accepts),
        ("ecr.repository", ecr_repository::section::accepts),
        ("image", image::section::accepts),
        ("runtime", runtime::section::accepts),
    ];
    for (prefix, accepts) in sections {
        if let Some(rest) = under(prefix) {
            return accepts(rest);
        }
    }
    match path {
        "cognito" => {
            Some("a table: [cognito.user_pool], [cognito.client], [[cognito.users]]".into())
        }
        "iam" => Some("a table: [iam.role]".into()),
        "ecr" => Some("a table: [ecr.repository]".into()),
        "secrets" => Some("tables [secrets.KEY] (KEY names the secret)".into()),
        _ => {
            // `secrets.KEY` and `secrets.KEY.field`.
            let rest = path.strip_prefix("secrets.")?;
            secret::section::accepts(rest.split_once('.').map_or("", |(_, field)| field))
        }
    }
}

/// Validate every section, then the checks across sections.
fn validate_file(v: &mut Validator, raw: RawFile, env: &dyn Fn(&str) -> Option<String>) -> Stack {
    let declared = v.declared;
    let name = v.name(&raw.stack.name, "stack.name", &STACK_NAME);
    let region = raw.stack.region.map(|r| {
        let valid = !r.get_ref().is_empty()
            && r.get_ref()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            v.error(
                r.span(),
                "stack.region",
                "not an AWS region name, such as \"us-west-2\"",
            );
        }
        r.into_inner()
    });

    let cognito = raw.cognito.unwrap_or_default();
    let user_pool = cognito
        .user_pool
        .map(|p| cognito_pool::section::validate(v, p.into_inner()));
    let client = cognito.client.map(|c| {
        let span = c.span();
        let spec = cognito_client::section::validate(v, c.into_inner());
        if !declared.user_pool {
            v.error(
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
        let user = cognito_user::section::validate(v, u.into_inner(), env, user_pool.as_ref());
        if !declared.user_pool {
            v.error(
                span.clone(),
                "cognito.users",
                "users need [cognito.user_pool]",
            );
        }
        if users.iter().any(|other| other.username == user.username) {
            v.error(
                span,
                "cognito.users.username",
                format!("{} is declared twice", quote(&user.username)),
            );
        }
        users.push(user);
    }
    let repository = raw
        .ecr
        .and_then(|ecr| ecr.repository)
        .map(|r| ecr_repository::section::validate(v, r.into_inner()));
    let runtime_span = raw.runtime.as_ref().map(Spanned::span);
    let runtime = raw
        .runtime
        .map(|r| runtime::section::validate(v, r.into_inner(), env));
    if let (Some(span), Some(runtime)) = (&runtime_span, &runtime)
        && runtime.authorizer == Some(Authorizer::Cognito)
        && !(declared.user_pool && declared.client)
    {
        v.error(
            span.clone(),
            "runtime.authorizer",
            "\"cognito\" needs [cognito.user_pool] and [cognito.client]",
        );
    }
    let image = raw.image.and_then(|i| image::section::validate(v, i));
    if let (Some(span), false) = (&runtime_span, declared.image) {
        v.error(
            span.clone(),
            "runtime",
            "a runtime needs [image] with uri = \"...\" or build = \"PACKAGE\"",
        );
    }
    let role_span = raw
        .iam
        .as_ref()
        .and_then(|i| i.role.as_ref())
        .map(Spanned::span);
    let mut role = raw
        .iam
        .and_then(|iam| iam.role)
        .map(|r| iam_role::section::validate(v, r.into_inner()));
    if let (Some(span), false) = (&runtime_span, declared.role) {
        v.error(
            span.clone(),
            "runtime",
            "a runtime needs [iam.role], its execution role",
        );
    }
    let secrets = validate_secrets(v, raw.secrets, &name, env);
    if let (Some(runtime), Some(span)) = (&runtime, &runtime_span) {
        for (variable, key) in &runtime.secrets {
            if !secrets.iter().any(|s| &s.key == key) {
                v.error(
                    span.clone(),
                    format!("runtime.secrets.{variable}"),
                    format!("{} is not declared; declare [secrets.{key}]", quote(key)),
                );
            }
        }
        if let Some(role) = &mut role {
            if role.policies.contains_key(SECRETS_POLICY) {
                v.error(
                    span.clone(),
                    format!("iam.role.policies.{SECRETS_POLICY}"),
                    "this policy name is reserved: infra writes it for [runtime.secrets]",
                );
            } else if let Some(document) = secrets_policy(runtime, &secrets) {
                role.policies.insert(SECRETS_POLICY.to_owned(), document);
            }
        }
    }

    if let (Some(role), Some(span)) = (&role, role_span) {
        role_policy_size(v, role, span);
    }

    Stack {
        path: v.path().to_owned(),
        name,
        region,
        user_pool,
        client,
        users,
        role,
        repository,
        image,
        runtime,
        secrets,
    }
}

/// IAM's quota on a role's inline policies: "Role policy size cannot exceed 10,240 characters",
/// all inline policies of the role together, and "IAM does not count white space when
/// calculating the size of a policy against these limits"
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>, character
/// limits). Not adjustable.
pub const ROLE_POLICY_SIZE: usize = 10_240;

/// The role's inline policies, `infra-secrets` included, against [`ROLE_POLICY_SIZE`], with
/// their placeholders filled in as IAM will get them (the stack's names; the longest account,
/// region and partition values when the stack does not say).
fn role_policy_size(v: &mut Validator, role: &RoleSpec, span: std::ops::Range<usize>) {
    let sizes: Vec<(&String, usize)> = role
        .policies
        .iter()
        .map(|(name, document)| (name, v.policy_size(document)))
        .collect();
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    if total > ROLE_POLICY_SIZE {
        let each: Vec<String> = sizes
            .iter()
            .map(|(name, n)| format!("{} {n}", validate::clip(name, 60)))
            .collect();
        v.error(
            span,
            "iam.role.policies",
            format!(
                "the role's inline policies come to {total} characters, more than IAM's \
                 {ROLE_POLICY_SIZE} for all of a role's inline policies together (counted as IAM \
                 does: placeholders filled in, whitespace left out; {}): move statements to a \
                 managed policy or narrow them",
                each.join(", ")
            ),
        );
    }
}

/// `[secrets.KEY]` tables; a kept secret is named `<stack>/<key>`, so the stack's name must be
/// one a secret name can hold.
fn validate_secrets(
    v: &mut Validator,
    raw: BTreeMap<String, Spanned<secret::section::RawSecret>>,
    stack: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<SecretSpec> {
    let mut secrets = Vec::new();
    for (key, raw) in raw {
        let span = raw.span();
        let spec = secret::section::validate(v, &key, raw, stack, env);
        if spec.managed() && !stack.chars().all(secret::section::SECRET_NAME.allowed) {
            v.error(
                span,
                format!("secrets.{key}"),
                format!(
                    "the secret is named {stack}/{key} after the stack, and stack.name has \
                     characters a secret name cannot; allowed: {}",
                    secret::section::SECRET_NAME.described
                ),
            );
        }
        secrets.push(spec);
    }
    secrets
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

#[cfg(test)]
mod tests;
