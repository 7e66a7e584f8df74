//! `[secrets.NAME]`: a secret the stack keeps in AWS Secrets Manager (its value from the local
//! environment, write-only), or an existing secret named by ARN. The runtime gets only ARNs.

use serde::Deserialize;
use toml::Spanned;

use super::Secret;
use crate::sensitive::Sensitive;
use crate::stack::validate::{ENV_NAME, NameRule, RawEnv, Validator, quote};
use crate::stack::{Input, Section, Shape};

/// Secrets Manager's limits: `SecretString` is at most 65,536 bytes and `Description` at most
/// 2048 characters (the `PutSecretValue` and `CreateSecret` API reference,
/// <https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html>).
const MAX_VALUE_BYTES: usize = 65_536;
const MAX_DESCRIPTION_CHARS: usize = 2048;
/// `RecoveryWindowInDays` of `DeleteSecret`.
const RECOVERY_WINDOW_DAYS: (i64, i64) = (7, 30);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    #[serde(default)]
    value: Option<Spanned<RawSecretValue>>,
    #[serde(default)]
    arn: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    kms_key: Option<Spanned<String>>,
    #[serde(default)]
    recovery_window_days: Option<Spanned<i64>>,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    protect: bool,
}

/// `value = { env = "NAME" }`, or a literal, which is refused without being shown.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum RawSecretValue {
    Env(RawEnv),
    /// Held only to be rejected; the value is never read or shown.
    #[allow(dead_code)]
    Literal(String),
}

/// Where a secret's value comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Kept by the stack: created and updated from `$var` (`None` when unset: the stored value
    /// is kept).
    Managed {
        var: String,
        value: Option<Sensitive<String>>,
    },
    /// An existing secret, read by the runtime but not managed by the stack.
    Existing { arn: String },
}

#[derive(Debug, Clone)]
pub struct SecretSpec {
    /// The table's name: `[secrets.<key>]`, what `[runtime.secrets]` refers to.
    pub key: String,
    /// The secret's name in Secrets Manager: `<stack>/<key>`.
    pub name: String,
    pub source: SecretSource,
    pub description: Option<String>,
    pub kms_key: Option<String>,
    /// How long a deleted secret can be restored (7-30 days; for destroy).
    pub recovery_window_days: i32,
    pub adopt: bool,
    /// `infra destroy` refuses while it is set.
    pub protect: bool,
}

impl SecretSpec {
    pub fn managed(&self) -> bool {
        matches!(self.source, SecretSource::Managed { .. })
    }
}

/// Secrets Manager's name characters (the key becomes part of `<stack>/<key>`).
pub const SECRET_NAME: NameRule = NameRule {
    min: 1,
    max: 256,
    allowed: |c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c),
    described: "ASCII letters, digits and /_+=.@- (Secrets Manager's secret name characters)",
};

fn validate(
    v: &mut Validator,
    key: &str,
    raw: Spanned<RawSecret>,
    stack: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> SecretSpec {
    let span = raw.span();
    let field = |name: &str| format!("secrets.{key}.{name}");
    let raw = raw.into_inner();
    let valid_key = !key.is_empty() && key.len() <= 128 && key.chars().all(SECRET_NAME.allowed);
    if !valid_key {
        v.error(
            span.clone(),
            format!("secrets.{key}"),
            format!(
                "{} is not a valid secret name; allowed: 1-128 {}",
                quote(key),
                SECRET_NAME.described
            ),
        );
    }
    let source = match (raw.value, raw.arn) {
        (Some(value), None) => {
            let value_span = value.span();
            match value.into_inner() {
                RawSecretValue::Literal(_) => {
                    v.secret_error(
                        value_span,
                        &field("value"),
                        "a literal secret is not allowed in the stack file; \
                         write value = { env = \"VARIABLE\" } and set that variable",
                    );
                    SecretSource::Managed {
                        var: String::new(),
                        value: None,
                    }
                }
                RawSecretValue::Env(RawEnv { env: var }) => {
                    let value = v.env_value(
                        value_span.clone(),
                        &field("value"),
                        &var,
                        env,
                        "the secret's value",
                        "to keep the stored value",
                    );
                    if let Some(value) = &value
                        && value.len() > MAX_VALUE_BYTES
                    {
                        v.secret_error(
                            value_span,
                            &field("value"),
                            format!(
                                "the value of ${var} is longer than {MAX_VALUE_BYTES} bytes, \
                                 Secrets Manager's limit for a secret"
                            ),
                        );
                    }
                    SecretSource::Managed {
                        var,
                        value: value.map(Sensitive::new),
                    }
                }
            }
        }
        (None, Some(arn)) => {
            let text = arn.get_ref();
            let parts: Vec<&str> = text.splitn(7, ':').collect();
            let valid = parts.len() == 7
                && parts[0] == "arn"
                && parts[2] == "secretsmanager"
                && parts[5] == "secret"
                && !parts[6].is_empty();
            if !valid {
                v.error(
                    arn.span(),
                    field("arn"),
                    "a Secrets Manager ARN: arn:<partition>:secretsmanager:<region>:<account>:secret:<name>",
                );
            }
            for (given, name) in [
                (raw.description.is_some(), "description"),
                (raw.kms_key.is_some(), "kms_key"),
                (raw.adopt, "adopt"),
            ] {
                if given {
                    v.error(
                        arn.span(),
                        field(name),
                        "only for a secret the stack keeps (value = { env = ... }); a secret named by arn is not managed",
                    );
                }
            }
            SecretSource::Existing {
                arn: arn.into_inner(),
            }
        }
        _ => {
            v.error(
                span,
                format!("secrets.{key}"),
                "declare exactly one of value = { env = \"VARIABLE\" } (a secret the stack keeps) \
                 or arn = \"arn:...:secret:...\" (an existing secret)",
            );
            SecretSource::Existing { arn: String::new() }
        }
    };
    let description = raw.description.and_then(|d| {
        if d.get_ref().chars().count() > MAX_DESCRIPTION_CHARS {
            v.error(
                d.span(),
                field("description"),
                format!("at most {MAX_DESCRIPTION_CHARS} characters (Secrets Manager's limit)"),
            );
        }
        Some(d.into_inner()).filter(|d| !d.is_empty())
    });
    let recovery_window_days = raw.recovery_window_days.map_or(30, |n| {
        let (min, max) = RECOVERY_WINDOW_DAYS;
        v.range(&n, &field("recovery_window_days"), min, max)
    });
    if let Some(kms_key) = &raw.kms_key {
        // For the runtime's check of the keys its secrets policy names.
        v.mark(&field("kms_key"), kms_key.span());
    }
    SecretSpec {
        key: key.to_owned(),
        name: format!("{stack}/{key}"),
        source,
        description,
        kms_key: raw.kms_key.map(Spanned::into_inner),
        recovery_window_days,
        adopt: raw.adopt,
        protect: raw.protect,
    }
}

impl Section for Secret {
    const PATH: &'static str = "secrets";
    const SHAPE: Shape = Shape::Map;
    const MAP_OF: &'static str = "tables [secrets.KEY] (KEY names the secret)";
    const SECRET_FIELDS: &'static [&'static str] = &["value"];
    type Raw = RawSecret;
    type Spec = SecretSpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
        Some(match key {
            "" => {
                "a table: [secrets.KEY] with value = { env = \"VARIABLE\" } or arn = \"...\"".into()
            }
            "value" => "value = { env = \"VARIABLE\" }, the environment variable that holds the \
                        secret (a literal secret is not allowed)"
                .into(),
            "value.env" => format!("a string: {}", ENV_NAME.described),
            "arn" => {
                "a string: arn:<partition>:secretsmanager:<region>:<account>:secret:<name>".into()
            }
            "description" => format!("a string of at most {MAX_DESCRIPTION_CHARS} characters"),
            "kms_key" => {
                "a string: the KMS key's ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID); an id \
                          or alias only for a secret the runtime does not read"
                    .into()
            }
            "recovery_window_days" => format!(
                "an integer from {} to {} (days)",
                RECOVERY_WINDOW_DAYS.0, RECOVERY_WINDOW_DAYS.1
            ),
            "adopt" | "protect" => "true or false".into(),
            _ => return None,
        })
    }

    /// A kept secret is named `<stack>/<key>`, so the stack's name must be one a secret name can
    /// hold.
    fn validate(v: &mut Validator, raw: Spanned<RawSecret>, input: &Input) -> Option<SecretSpec> {
        let span = raw.span();
        let (key, stack) = (input.key, input.stack.name.as_str());
        let spec = validate(v, key, raw, stack, input.env);
        if spec.managed() && !stack.chars().all(SECRET_NAME.allowed) {
            v.error(
                span,
                format!("secrets.{key}"),
                format!(
                    "the secret is named {stack}/{key} after the stack, and stack.name has \
                     characters a secret name cannot; allowed: {}",
                    SECRET_NAME.described
                ),
            );
        }
        Some(spec)
    }
}
