//! `[cognito.user_pool]`: the section as written, validated into a [`UserPoolSpec`].

use serde::Deserialize;
use toml::Spanned;

use super::UserPool;
use crate::resources::cognito_shared::COGNITO_NAME;
use crate::stack::validate::{NameRule, Validator};
use crate::stack::{Input, Section};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUserPool {
    name: Spanned<String>,
    #[serde(default)]
    password_policy: Option<Spanned<RawPasswordPolicy>>,
    #[serde(default)]
    username_attributes: Option<Spanned<Vec<UsernameAttribute>>>,
    #[serde(default)]
    deletion_protection: bool,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    protect: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPasswordPolicy {
    minimum_length: Option<Spanned<i64>>,
    require_uppercase: Option<bool>,
    require_lowercase: Option<bool>,
    require_numbers: Option<bool>,
    require_symbols: Option<bool>,
    temporary_password_validity_days: Option<Spanned<i64>>,
}

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
    /// `infra destroy` refuses while it is set.
    pub protect: bool,
}

/// `PoolName` in the API reference: `[\w\s+=,.@-]+`, 1-128 characters.
pub const POOL_NAME: NameRule = COGNITO_NAME;

/// Cognito's ranges (`PasswordPolicyType` in its API reference).
const MINIMUM_LENGTH: (i64, i64) = (6, 99);
const TEMPORARY_PASSWORD_VALIDITY_DAYS: (i64, i64) = (0, 365);

impl Section for UserPool {
    const PATH: &'static str = "cognito.user_pool";
    const UNIQUE_NAMES: &'static [crate::stack::UniqueName] = &[crate::stack::UniqueName {
        field: "name",
        what: "user pool name",
        why: "a stack finds its pool by name, and a pool of that name tagged for another stack \
                  is foreign to it (the plan stops; `adopt = true` would take it over)",
        any_case: false,
    }];
    type Raw = RawUserPool;
    type Spec = UserPoolSpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
        let flag = || "true or false".to_owned();
        Some(match key {
            "" => "a table: [cognito.user_pool] with name = \"...\"".into(),
            "name" => format!("a string of {}", POOL_NAME.described),
            "password_policy" => {
                "a table such as { minimum_length = 12, require_symbols = true }".into()
            }
            "password_policy.minimum_length" => {
                format!(
                    "an integer from {} to {}",
                    MINIMUM_LENGTH.0, MINIMUM_LENGTH.1
                )
            }
            "password_policy.temporary_password_validity_days" => format!(
                "an integer from {} to {} (days)",
                TEMPORARY_PASSWORD_VALIDITY_DAYS.0, TEMPORARY_PASSWORD_VALIDITY_DAYS.1
            ),
            "password_policy.require_uppercase"
            | "password_policy.require_lowercase"
            | "password_policy.require_numbers"
            | "password_policy.require_symbols"
            | "deletion_protection"
            | "adopt"
            | "protect" => flag(),
            "username_attributes" => {
                "a list of \"email\" and \"phone_number\", such as [\"email\"]".into()
            }
            _ => return None,
        })
    }

    fn validate(v: &mut Validator, raw: Spanned<RawUserPool>, _: &Input) -> Option<UserPoolSpec> {
        let raw = raw.into_inner();
        let name = v.name(&raw.name, "cognito.user_pool.name", &POOL_NAME);
        let mut policy = PasswordPolicy::default();
        if let Some(p) = raw.password_policy.map(Spanned::into_inner) {
            if let Some(n) = &p.minimum_length {
                let (min, max) = MINIMUM_LENGTH;
                policy.minimum_length = v.range(
                    n,
                    "cognito.user_pool.password_policy.minimum_length",
                    min,
                    max,
                );
            }
            if let Some(n) = &p.temporary_password_validity_days {
                let (min, max) = TEMPORARY_PASSWORD_VALIDITY_DAYS;
                policy.temporary_password_validity_days = v.range(
                    n,
                    "cognito.user_pool.password_policy.temporary_password_validity_days",
                    min,
                    max,
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
        Some(UserPoolSpec {
            name,
            password_policy: policy,
            username_attributes,
            deletion_protection: raw.deletion_protection,
            adopt: raw.adopt,
            protect: raw.protect,
        })
    }
}
