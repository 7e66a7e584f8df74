//! `stack.toml`: parse (serde, unknown keys rejected) → validate → [`Stack`], typed and resolved.
//!
//! Everything here happens before any AWS call. Errors name the file, line, column and field, and
//! say what is allowed; all problems in a file are reported at once. Each section's raw form,
//! resolved spec and validation live with its resource kind (`resources/<kind>/section.rs`);
//! this module holds the file's top-level shape, what is declared (computed first, so no
//! section's checks depend on validation order), and the checks across sections.

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
use validate::{Declared, STACK_NAME, Validator, humanize, line_col, may_hold_a_secret, snippet};
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
        let mut v = Validator::new(path, text, declared(&raw));
        let stack = validate_file(&mut v, raw, env);
        v.finish().map(|()| stack)
    }
}

/// What the file declares: the first pass, before any section is validated.
fn declared(raw: &RawFile) -> Declared {
    let cognito = raw.cognito.as_ref();
    Declared {
        user_pool: cognito.is_some_and(|c| c.user_pool.is_some()),
        client: cognito.is_some_and(|c| c.client.is_some()),
        role: raw.iam.as_ref().is_some_and(|i| i.role.is_some()),
        repository: raw.ecr.as_ref().is_some_and(|e| e.repository.is_some()),
        image: raw.image.is_some(),
        runtime: raw.runtime.is_some(),
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
                format!("{:?} is declared twice", user.username),
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
    if let (Some(span), None) = (&runtime_span, &image) {
        v.error(
            span.clone(),
            "runtime",
            "a runtime needs [image] with uri = \"...\" or build = \"PACKAGE\"",
        );
    }
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
                    format!("{key:?} is not declared; declare [secrets.{key}]"),
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
                platform: Platform::LinuxArm64,
                format: crate::container::ImageFormat::Docker,
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

    const RUNTIME: &str = "\n[ecr.repository]\nname = \"web-search-mcp\"\n[image]\nbuild = \"server\"\n[runtime]\nname = \"web_search\"\n";

    #[test]
    fn with_a_runtime_the_image_must_be_arm64() {
        let text = format!("{GOOD}{RUNTIME}").replace(
            "build = \"server\"",
            "build = \"server\"\nplatform = \"linux/amd64\"",
        );
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("image.platform: AgentCore Runtime runs linux/arm64 only"),
            "{}",
            errs[0]
        );
        assert!(errors(&format!("{GOOD}{RUNTIME}")).is_empty());
    }

    #[test]
    fn runtime_environment_within_aws_limits() {
        let many: String = (0..51).map(|i| format!("V{i:02} = \"x\"\n")).collect();
        let errs = errors(&format!("{GOOD}{RUNTIME}[runtime.environment]\n{many}"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("runtime.environment: at most 50 variables"),
            "{}",
            errs[0]
        );

        let long = "y".repeat(5001);
        let errs = errors(&format!(
            "{GOOD}{RUNTIME}[runtime.environment]\nLONG = \"{long}\"\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("runtime.environment.LONG: at most 5000 characters"),
            "{}",
            errs[0]
        );

        // A secret from the environment: refused without quoting it.
        let text = format!("{GOOD}{RUNTIME}[runtime.environment]\nKEY = {{ env = \"BIG\" }}\n");
        let secret = "s".repeat(5001);
        let env = |name: &str| match name {
            "BIG" => Some(secret.clone()),
            other => env_with_password(other),
        };
        let err = Stack::parse(Path::new("stack.toml"), &text, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the value of $BIG is longer than 5000"),
            "{err}"
        );
        assert!(!err.contains("sss"), "{err}");
    }

    #[test]
    fn jwt_lists_need_the_authorizer_and_headers_follow_aws_pattern() {
        let errs = errors(&format!(
            "{GOOD}{RUNTIME}allowed_scopes = [\"mcp/invoke\"]\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("runtime.allowed_scopes: only with authorizer"),
            "{}",
            errs[0]
        );
        let errs = errors(&format!(
            "{GOOD}{RUNTIME}request_header_allowlist = [\"X-Ok\", \"9-bad\"]\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("runtime.request_header_allowlist: 1 to 20 header names"),
            "{}",
            errs[0]
        );
        assert!(
            errors(&format!(
                "{GOOD}{RUNTIME}request_header_allowlist = [\"X-Ok\"]\n"
            ))
            .is_empty()
        );
    }

    #[test]
    fn a_repository_name_has_at_least_two_characters() {
        let text = format!("{GOOD}\n[ecr.repository]\nname = \"r\"\n");
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("2-256 characters"), "{}", errs[0]);
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
