//! `[cognito.client]`: the section as written, validated into a [`ClientSpec`].

use serde::Deserialize;
use toml::Spanned;

use super::Client;
use crate::resources::cognito_pool::UserPool;
use crate::resources::cognito_shared::COGNITO_NAME;
use crate::stack::validate::Validator;
use crate::stack::{Input, Section};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    name: Spanned<String>,
    explicit_auth_flows: Spanned<Vec<AuthFlow>>,
    #[serde(default)]
    generate_secret: bool,
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
    pub const ALL: [AuthFlow; 6] = [
        Self::AllowUserPasswordAuth,
        Self::AllowAdminUserPasswordAuth,
        Self::AllowUserSrpAuth,
        Self::AllowRefreshTokenAuth,
        Self::AllowCustomAuth,
        Self::AllowUserAuth,
    ];

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
pub struct ClientSpec {
    pub name: String,
    /// Sorted and without duplicates: Cognito treats the list as a set.
    pub explicit_auth_flows: Vec<AuthFlow>,
    pub generate_secret: bool,
}

/// `ClientName` in the API reference: the same pattern as a pool's name.
const CLIENT_NAME: crate::stack::validate::NameRule = COGNITO_NAME;

pub fn validate(v: &mut Validator, raw: RawClient) -> ClientSpec {
    let name = v.name(&raw.name, "cognito.client.name", &CLIENT_NAME);
    let span = raw.explicit_auth_flows.span();
    let mut flows = raw.explicit_auth_flows.into_inner();
    if !flows.contains(&AuthFlow::AllowRefreshTokenAuth) {
        v.error(
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

impl Section for Client {
    const PATH: &'static str = "cognito.client";
    type Raw = RawClient;
    type Spec = ClientSpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
        Some(match key {
            "" => "a table: [cognito.client] with name = \"...\" and explicit_auth_flows = [...]"
                .into(),
            "name" => format!("a string of {}", CLIENT_NAME.described),
            "explicit_auth_flows" => {
                let flows: Vec<String> = AuthFlow::ALL
                    .iter()
                    .map(|f| format!("\"{}\"", f.as_aws()))
                    .collect();
                format!(
                    "a list of {} (\"ALLOW_REFRESH_TOKEN_AUTH\" included)",
                    flows.join(", ")
                )
            }
            "generate_secret" => "true or false".into(),
            _ => return None,
        })
    }

    fn validate(v: &mut Validator, raw: Spanned<RawClient>, _: &Input) -> Option<ClientSpec> {
        let span = raw.span();
        let spec = validate(v, raw.into_inner());
        if !v.declares::<UserPool>() {
            v.error(
                span,
                "cognito.client",
                "an app client needs [cognito.user_pool]",
            );
        }
        Some(spec)
    }
}
