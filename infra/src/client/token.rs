//! `infra token`: a fresh Cognito **access** token for a user of the stack: the bearer token the
//! runtime's JWT authorizer accepts. (An ID token carries `aud`, not `client_id`, so AgentCore
//! refuses it when the authorizer lists allowed clients.)
//!
//! The user signs in through the stack's app client with the password from its environment
//! variable. With `--refresh-token-file`, a refresh token is kept in a file the user names (never
//! inside a git work tree), and later runs renew the access token from it without a password.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, AuthenticationResultType};

use crate::aws::Aws;
use crate::engine::{Error, Prepared, ReadContext, WriteOnly};
use crate::registry::KINDS;
use crate::resources::cognito_client::{Client, LiveClient};
use crate::resources::cognito_pool::UserPool;
use crate::resources::cognito_user::User;
use crate::resources::cognito_user::section::UserSpec;
use crate::sensitive::Sensitive;
use crate::stack::Stack;

const WHAT: &str = "token";

/// The stack's app client, as deployed.
#[derive(Debug, Clone)]
pub struct AppClient {
    pub pool_id: String,
    pub client: LiveClient,
}

/// What a sign-in gives.
pub struct Tokens {
    pub access: Sensitive<String>,
    pub refresh: Option<Sensitive<String>>,
}

/// The declared user named `name`, or the first declared user.
pub fn user<'a>(stack: &'a Stack, name: Option<&str>) -> Result<&'a UserSpec, Error> {
    let declared = || {
        stack
            .all::<User>()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => stack
            .all::<User>()
            .find(|u| u.username == name)
            .ok_or_else(|| {
                Error::new(
                    WHAT,
                    "--user",
                    format!(
                        "{} declares no user {name:?} (declared: {})",
                        stack.path.display(),
                        declared()
                    ),
                )
            }),
        None => stack.all::<User>().next().ok_or_else(|| {
            Error::new(
                WHAT,
                "--user",
                format!(
                    "{} declares no [[cognito.users]]: add one, or pass a token of your own",
                    stack.path.display()
                ),
            )
        }),
    }
}

/// The deployed pool and app client of the stack (reads only those).
pub async fn app_client(aws: &Aws, stack: &Stack) -> Result<AppClient, Error> {
    let (Some(pool_spec), Some(client_spec)) = (stack.one::<UserPool>(), stack.one::<Client>())
    else {
        return Err(Error::new(
            WHAT,
            "stack",
            format!(
                "{} declares no [cognito.user_pool] and [cognito.client]",
                stack.path.display()
            ),
        ));
    };
    let prepared = Prepared::default();
    let cx = ReadContext::new(aws, stack, WriteOnly::Skip, &prepared, KINDS);
    let not_deployed = |what: &str| {
        Error::new(
            WHAT,
            "read",
            format!("{what} does not exist (yet): run `infra apply` first"),
        )
    };
    let pool_id = cx
        .id_of::<UserPool>()
        .await?
        .ok_or_else(|| not_deployed(&format!("the user pool {:?}", pool_spec.name)))?;
    let client = cx
        .get::<Client>()
        .await?
        .found()
        .ok_or_else(|| not_deployed(&format!("the app client {:?}", client_spec.name)))?;
    Ok(AppClient {
        pool_id,
        client: client.clone(),
    })
}

/// Sign `user` in with the password from its environment variable.
pub async fn sign_in(aws: &Aws, app: &AppClient, user: &UserSpec) -> Result<Tokens, Error> {
    let addr = format!("user {:?}", user.username);
    let Some(password) = &user.password else {
        return Err(Error::new(
            &addr,
            "sign in",
            format!(
                "${} is not set: export the user's password in it (or use --refresh-token-file \
                 with a saved refresh token)",
                user.password_env
            ),
        ));
    };
    if app.client.has_secret {
        return Err(Error::new(
            &addr,
            "sign in",
            "the app client has a secret; infra signs in only through clients without one",
        ));
    }
    let result = if app.client.allows("ALLOW_USER_PASSWORD_AUTH") {
        aws.cognito
            .initiate_auth()
            .client_id(&app.client.id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &user.username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map(|out| (out.challenge_name().cloned(), out.authentication_result))
            .map_err(|e| Error::aws(&addr, "InitiateAuth", e))?
    } else if app.client.allows("ALLOW_ADMIN_USER_PASSWORD_AUTH") {
        aws.cognito
            .admin_initiate_auth()
            .user_pool_id(&app.pool_id)
            .client_id(&app.client.id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", &user.username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map(|out| (out.challenge_name().cloned(), out.authentication_result))
            .map_err(|e| Error::aws(&addr, "AdminInitiateAuth", e))?
    } else {
        return Err(Error::new(
            &addr,
            "sign in",
            "the app client allows neither ALLOW_USER_PASSWORD_AUTH nor \
             ALLOW_ADMIN_USER_PASSWORD_AUTH: add one to explicit_auth_flows",
        ));
    };
    match result {
        (None, Some(tokens)) => tokens_of(&addr, tokens),
        (Some(challenge), _) => Err(Error::new(
            &addr,
            "sign in",
            format!(
                "Cognito asks for the {} challenge; `infra apply` sets the declared password \
                 (NEW_PASSWORD_REQUIRED), other challenges (MFA) need an interactive sign-in",
                challenge.as_str()
            ),
        )),
        (None, None) => Err(Error::new(&addr, "sign in", "Cognito returned no tokens")),
    }
}

/// New tokens from a refresh token (no password).
pub async fn refresh(aws: &Aws, app: &AppClient, refresh_token: &str) -> Result<Tokens, Error> {
    let out = aws
        .cognito
        .initiate_auth()
        .client_id(&app.client.id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh_token)
        .send()
        .await
        .map_err(|e| Error::aws(WHAT, "InitiateAuth REFRESH_TOKEN_AUTH", e))?;
    let tokens = out
        .authentication_result
        .ok_or_else(|| Error::new(WHAT, "refresh", "Cognito returned no tokens"))?;
    tokens_of(WHAT, tokens)
}

fn tokens_of(addr: &str, tokens: AuthenticationResultType) -> Result<Tokens, Error> {
    let access = tokens
        .access_token
        .ok_or_else(|| Error::new(addr, "sign in", "Cognito returned no access token"))?;
    Ok(Tokens {
        access: Sensitive::new(access),
        refresh: tokens.refresh_token.map(Sensitive::new),
    })
}

/// An access token for `user`: from the refresh token in `file` when it holds a valid one,
/// else by signing in (and then the new refresh token is kept in `file`).
pub async fn access_token(
    aws: &Aws,
    app: &AppClient,
    user: &UserSpec,
    file: Option<&Path>,
) -> Result<Sensitive<String>, Error> {
    let Some(file) = file else {
        return Ok(sign_in(aws, app, user).await?.access);
    };
    let file = refresh_token_file(file)?;
    if let Ok(saved) = std::fs::read_to_string(&file) {
        let saved = saved.trim();
        if !saved.is_empty() {
            match refresh(aws, app, saved).await {
                Ok(tokens) => return Ok(tokens.access),
                // Expired or revoked: sign in again below, when a password is available.
                Err(e) if e.code_is("NotAuthorizedException") && user.password.is_some() => {}
                Err(e) => return Err(e),
            }
        }
    }
    let tokens = sign_in(aws, app, user).await?;
    if let Some(refresh) = &tokens.refresh {
        save(&file, refresh.expose())?;
    }
    Ok(tokens.access)
}

/// The absolute path of a refresh-token file, refused inside a git work tree: a token that can
/// mint access tokens for weeks must not end up in a commit.
fn refresh_token_file(path: &Path) -> Result<PathBuf, Error> {
    let absolute = std::path::absolute(path)
        .map_err(|e| Error::new(WHAT, "--refresh-token-file", e.to_string()))?;
    if let Some(repo) = absolute
        .ancestors()
        .skip(1)
        .find(|dir| dir.join(".git").exists())
    {
        return Err(Error::new(
            WHAT,
            "--refresh-token-file",
            format!(
                "{} is inside the git work tree {}; keep refresh tokens outside any repository \
                 (e.g. ~/.config/infra/refresh-token)",
                absolute.display(),
                repo.display()
            ),
        ));
    }
    Ok(absolute)
}

/// Write `token` to `file`, readable by its owner only.
fn save(file: &Path, token: &str) -> Result<(), Error> {
    let fail = |e: std::io::Error| {
        Error::new(
            WHAT,
            "--refresh-token-file",
            format!("{}: {e}", file.display()),
        )
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(file).map_err(fail)?;
    f.write_all(token.as_bytes()).map_err(fail)
}
