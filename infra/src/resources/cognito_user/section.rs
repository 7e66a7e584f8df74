//! `[[cognito.users]]`: the section as written, validated into a [`UserSpec`]. The password is
//! write-only: it comes from the environment and is never shown.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::User;
use crate::resources::cognito_pool::UserPool;
use crate::resources::cognito_pool::section::{PasswordPolicy, UserPoolSpec};
use crate::sensitive::Sensitive;
use crate::stack::validate::{ENV_NAME, NameRule, RawEnv, Validator, quote};
use crate::stack::{Input, Section, Stack};

/// Cognito's longest password: `PasswordType` is "Maximum length of 256" in the API reference of
/// `AdminSetUserPassword` and `AdminCreateUser`
/// (<https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminSetUserPassword.html>).
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    username: Spanned<String>,
    password: Spanned<RawPassword>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// `password = { env = "NAME" }`, or a literal string, which is rejected with a clear message.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum RawPassword {
    Env(RawEnv),
    /// Held only to be rejected; the value is never read or shown.
    #[allow(dead_code)]
    Literal(String),
}

#[derive(Debug, Clone)]
pub struct UserSpec {
    pub username: String,
    pub password_env: String,
    /// `None` when the environment variable is unset: the user's password is then not managed,
    /// and creating the user is refused.
    pub password: Option<Sensitive<String>>,
    /// `enabled` (default true): a user disabled (or enabled) outside the stack is drift.
    pub enabled: bool,
}

const USERNAME: NameRule = NameRule {
    min: 1,
    max: 128,
    allowed: |c| !c.is_whitespace() && !c.is_control(),
    described: "1-128 characters without spaces or control characters",
};

pub fn validate(
    v: &mut Validator,
    raw: RawUser,
    env: &dyn Fn(&str) -> Option<String>,
    pool: Option<&UserPoolSpec>,
) -> UserSpec {
    let username = v.name(&raw.username, "cognito.users.username", &USERNAME);
    let span = raw.password.span();
    let (password_env, password) = match raw.password.into_inner() {
        RawPassword::Literal(_) => {
            v.secret_error(
                span,
                "cognito.users.password",
                "a literal password is not allowed in the stack file; \
                 write password = { env = \"VARIABLE\" } and set that variable",
            );
            (String::new(), None)
        }
        RawPassword::Env(RawEnv { env: var }) => {
            let value = v.env_value(
                span.clone(),
                "cognito.users.password",
                &var,
                env,
                "the user's password",
                "to leave the password as it is",
            );
            if let Some(value) = &value
                && value.chars().count() > MAX_PASSWORD_CHARS
            {
                v.secret_error(
                    span.clone(),
                    "cognito.users.password",
                    format!(
                        "the value of ${var} is longer than {MAX_PASSWORD_CHARS} characters, \
                         Cognito's limit for a password"
                    ),
                );
            } else if let (Some(value), Some(pool)) = (&value, pool) {
                check_password(v, value, &pool.password_policy, &var, span);
            }
            (var, value.map(Sensitive::new))
        }
    };
    UserSpec {
        username,
        password_env,
        password,
        enabled: raw.enabled.unwrap_or(true),
    }
}

/// Check a password against the declared policy without ever printing it.
fn check_password(
    v: &mut Validator,
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
        v.secret_error(
            span,
            "cognito.users.password",
            format!(
                "the value of ${var} does not meet the pool's password policy: it needs {}",
                missing.join(", ")
            ),
        );
    }
}

impl Section for User {
    const PATH: &'static str = "cognito.users";
    const SHAPE: crate::stack::Shape = crate::stack::Shape::List;
    const SECRET_FIELDS: &'static [&'static str] = &["password"];
    type Raw = RawUser;
    type Spec = UserSpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
        Some(match key {
            "" => "a table: [[cognito.users]] with username = \"...\" and \
                   password = { env = \"VARIABLE\" }"
                .into(),
            "username" => format!("a string of {}", USERNAME.described),
            "password" => {
                "password = { env = \"VARIABLE\" }, the environment variable that holds the \
                           password (a literal password is not allowed)"
                    .into()
            }
            "password.env" => format!("a string: {}", ENV_NAME.described),
            "enabled" => "true (the default) or false: whether the user may sign in".into(),
            _ => return None,
        })
    }

    fn validate(v: &mut Validator, raw: Spanned<RawUser>, input: &Input) -> Option<UserSpec> {
        let span = raw.span();
        let pool = input.stack.one::<UserPool>();
        let user = validate(v, raw.into_inner(), input.env, pool);
        if !v.declares::<UserPool>() {
            v.error(span, "cognito.users", "users need [cognito.user_pool]");
        }
        Some(user)
    }

    /// A username is declared once.
    fn check(v: &mut Validator, stack: &mut Stack) {
        let users: Vec<String> = stack.all::<User>().map(|u| u.username.clone()).collect();
        for (i, user) in users.iter().enumerate() {
            if users[..i].contains(user)
                && let Some(span) = v.span::<User>(i)
            {
                v.error(
                    span,
                    "cognito.users.username",
                    format!("{} is declared twice", quote(user)),
                );
            }
        }
    }
}
