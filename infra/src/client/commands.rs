//! The client commands: `token`, `mcp tools|call|config`, `check`, and the check after `apply`.
//! Results go to stdout, everything else to stderr, so `$(infra token)` is just the token.

use std::io::Write;
use std::path::Path;

use rmcp::model::CallToolRequestParams;
use serde_json::json;

use super::config::{ClientConfig, assignment, command_line, server_name};
use super::mcp::{self, Called, Failure, Session, Target};
use super::{check, endpoint, takes_cognito_tokens, token as tokens};
use crate::aws::Aws;
use crate::cli::{
    CallArgs, CheckArgs, Cli, ConfigArgs, ConfigClient, EXIT_ERROR, EXIT_OK, McpArgs, McpCommand,
    TokenArgs, UserArgs, connect,
};
use crate::engine::Error;
use crate::resources::runtime::Runtime;
use crate::sensitive::Sensitive;
use crate::stack::Stack;

/// Exit status of a call that Ctrl-C ended (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

pub async fn token(cli: &Cli, stack: &Stack, args: &TokenArgs) -> Result<u8, Error> {
    let aws = connect(cli, stack).await?;
    let token = fresh_token(&aws, stack, &args.user).await?;
    let line = if args.header_json {
        json!({"Authorization": format!("Bearer {}", token.expose())}).to_string()
    } else {
        token.expose().clone()
    };
    println!("{line}");
    Ok(EXIT_OK)
}

async fn fresh_token(
    aws: &Aws,
    stack: &Stack,
    user: &UserArgs,
) -> Result<Sensitive<String>, Error> {
    let spec = tokens::user(stack, user.user.as_deref())?;
    let app = tokens::app_client(aws, stack).await?;
    tokens::access_token(aws, &app, spec, user.refresh_token_file.as_deref()).await
}

pub async fn mcp(cli: &Cli, stack: Option<&Stack>, args: &McpArgs) -> Result<u8, Error> {
    let headers = headers(&args.headers)?;
    if let Some(url) = &args.url {
        check_url(url)?;
    }
    let call = match &args.command {
        McpCommand::Config(config) => return print_config(cli, stack, args, headers, config).await,
        McpCommand::Tools => None,
        McpCommand::Call(call) => Some(call),
    };
    let target = target(cli, stack, args, headers).await?;
    let session = Session::connect(&target).await.map_err(failed)?;
    let code = match call {
        Some(call) => call_tool(&session, call).await,
        None => list_tools(&session).await,
    };
    session.close().await;
    code
}

async fn list_tools(session: &Session) -> Result<u8, Error> {
    let tools = session.tools().await.map_err(failed)?;
    for tool in &tools {
        println!("{}", mcp::describe(tool));
    }
    Ok(EXIT_OK)
}

fn failed(f: Failure) -> Error {
    Error::new("mcp", "connect", f.message)
}

/// `--header NAME: VALUE` as (name, value).
fn headers(given: &[String]) -> Result<Vec<(String, String)>, Error> {
    given
        .iter()
        .map(|header| match header.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_owned(), value.trim().to_owned()))
            }
            // Its first word only: the rest may be a secret.
            _ => Err(Error::new(
                "mcp",
                "--header",
                format!(
                    "the header starting {:?} is not `NAME: VALUE`",
                    header.split_whitespace().next().unwrap_or_default()
                ),
            )),
        })
        .collect()
}

fn is_authorization((name, _): &(String, String)) -> bool {
    name.eq_ignore_ascii_case("authorization")
}

/// `--url` must be an http(s) URL: said here, not as a transport error later.
fn check_url(url: &str) -> Result<(), Error> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        Ok(parsed) => Err(Error::new(
            "mcp",
            "--url",
            format!(
                "{url:?} is not an http:// or https:// URL (its scheme is {:?})",
                parsed.scheme()
            ),
        )),
        Err(e) => Err(Error::new(
            "mcp",
            "--url",
            format!("{url:?} is not a URL ({e})"),
        )),
    }
}

/// What is missing without a stack file.
fn no_stack(cli: &Cli, operation: &'static str, what: &str) -> Error {
    Error::new(
        "mcp",
        operation,
        format!(
            "no stack file ({} does not exist), so {what}",
            cli.stack.display()
        ),
    )
}

/// The URL, token and headers of `--url`/`--token`/`--header`, the rest from the stack.
/// Without a stack file, `--url` is needed, and the server gets what was given: a token, an
/// `Authorization` header, or no credentials (a server without auth).
async fn target(
    cli: &Cli,
    stack: Option<&Stack>,
    args: &McpArgs,
    headers: Vec<(String, String)>,
) -> Result<Target, Error> {
    let authorized = headers.iter().any(is_authorization);
    let mut token = args.token.clone().map(Sensitive::new);
    let (mut url, mut context) = (args.url.clone(), None);
    if let Some(stack) = stack
        && (url.is_none() || (token.is_none() && !authorized))
    {
        let aws = connect(cli, stack).await?;
        if url.is_none() {
            let found = endpoint(&aws, stack).await?;
            url = Some(found.url);
            context = Some(found.status);
        }
        if token.is_none() && !authorized {
            token = Some(fresh_token(&aws, stack, &args.user).await?);
        }
    }
    let Some(url) = url else {
        return Err(no_stack(
            cli,
            "connect",
            "there is no runtime to read the MCP URL from: pass --url URL (and --token TOKEN or \
             --header 'NAME: VALUE' when the server needs them), or --stack PATH",
        ));
    };
    Ok(Target {
        url,
        token,
        headers,
        context,
    })
}

async fn call_tool(session: &Session, call: &CallArgs) -> Result<u8, Error> {
    let tools = session.tools().await.map_err(failed)?;
    let Some(tool) = tools.iter().find(|t| t.name == call.tool) else {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        return Err(Error::new(
            "mcp",
            "tools/call",
            format!(
                "the server has no tool {:?} (tools: {})",
                call.tool,
                names.join(", ")
            ),
        ));
    };
    let arguments =
        mcp::arguments(tool, &call.arguments).map_err(|m| Error::new("mcp", "tools/call", m))?;
    let params = CallToolRequestParams::new(call.tool.clone()).with_arguments(arguments);
    let result = match session.call(params).await.map_err(failed)? {
        Called::Done(result) => result,
        Called::Cancelled { notified } => {
            eprintln!(
                "cancelled{}",
                if notified {
                    " (the server was told: notifications/cancelled)"
                } else {
                    " (the server could not be told in time)"
                }
            );
            return Ok(EXIT_INTERRUPTED);
        }
    };
    let failed_call = result.is_error == Some(true);
    let text = if call.json {
        let value = result
            .structured_content
            .clone()
            .unwrap_or_else(|| serde_json::to_value(&result).unwrap_or_default());
        serde_json::to_string_pretty(&value).unwrap_or_default()
    } else {
        mcp::text_of(&result)
    };
    if failed_call {
        eprintln!("error: {} failed: {text}", call.tool);
        return Ok(EXIT_ERROR);
    }
    println!("{text}");
    Ok(EXIT_OK)
}

async fn print_config(
    cli: &Cli,
    stack: Option<&Stack>,
    args: &McpArgs,
    headers: Vec<(String, String)>,
    config: &ConfigArgs,
) -> Result<u8, Error> {
    // The credentials given: `--token`, else an `Authorization` header.
    let (mut authorization, others): (Vec<_>, Vec<_>) =
        headers.into_iter().partition(is_authorization);
    if let Some(token) = &args.token {
        authorization = vec![("Authorization".to_owned(), format!("Bearer {token}"))];
    }
    let given: Vec<(String, String)> = authorization.into_iter().chain(others).collect();
    let client = match stack {
        Some(stack) => config_of_stack(cli, stack, args, given, config).await?,
        None => config_without_stack(cli, args, given, config)?,
    };
    let text = match config.client {
        ConfigClient::Claude => client.claude(),
        ConfigClient::Json => serde_json::to_string_pretty(&client.json()).unwrap_or_default(),
    };
    println!("{text}");
    Ok(EXIT_OK)
}

/// The stack's server: the URL from `--url` or live AWS; a header helper, or with
/// `--static-token` the headers given, with a fresh token when none was.
async fn config_of_stack(
    cli: &Cli,
    stack: &Stack,
    args: &McpArgs,
    mut given: Vec<(String, String)>,
    config: &ConfigArgs,
) -> Result<ClientConfig, Error> {
    // One connection, and only when AWS is asked for the URL or a token.
    let mut aws = None;
    let url = match &args.url {
        Some(url) => url.clone(),
        None => {
            let connected = connect(cli, stack).await?;
            let url = endpoint(&connected, stack).await?.url;
            aws = Some(connected);
            url
        }
    };
    if !config.static_token {
        if !given.is_empty() {
            eprintln!(
                "note: the client gets its Authorization header from `infra token`; --token and \
                 --header values are written into the configuration only with --static-token"
            );
        }
        return Ok(ClientConfig {
            name: stack.name.clone(),
            url,
            helper: Some(helper_command(cli, stack, &args.user)?),
            headers: Vec::new(),
        });
    }
    if !given.iter().any(is_authorization) {
        let aws = match aws {
            Some(aws) => aws,
            None => connect(cli, stack).await?,
        };
        let token = fresh_token(&aws, stack, &args.user).await?;
        given.insert(
            0,
            (
                "Authorization".to_owned(),
                format!("Bearer {}", token.expose()),
            ),
        );
    }
    eprintln!(
        "warning: the configuration embeds an access token; it expires (Cognito's default: \
         one hour) and whoever reads it can call the server until then. Without \
         --static-token the client runs `infra token` for fresh ones."
    );
    Ok(ClientConfig {
        name: stack.name.clone(),
        url,
        helper: None,
        headers: given,
    })
}

/// Any server, at `--url`: there is no `infra token` to run, so the configuration holds the
/// headers given (with `--static-token`), or none for a server without auth.
fn config_without_stack(
    cli: &Cli,
    args: &McpArgs,
    given: Vec<(String, String)>,
    config: &ConfigArgs,
) -> Result<ClientConfig, Error> {
    let Some(url) = &args.url else {
        return Err(no_stack(
            cli,
            "config",
            "there is no runtime to read the MCP URL from: pass --url URL, or --stack PATH",
        ));
    };
    if config.static_token {
        if given.is_empty() {
            return Err(no_stack(
                cli,
                "config",
                "infra cannot sign in for a token to embed: pass the token with --token TOKEN \
                 (or --header 'Authorization: ...')",
            ));
        }
        eprintln!(
            "warning: the configuration embeds the credentials given; whoever reads it can call \
             the server with them until they expire."
        );
    } else if !given.is_empty() {
        return Err(no_stack(
            cli,
            "config",
            "there is no `infra token` for the client to run for fresh tokens: add \
             --static-token to write the token and headers given into the configuration (a \
             token expires), or pass --stack PATH",
        ));
    } else {
        eprintln!(
            "note: no stack file and no --token: the configuration sends no Authorization \
             header (for a server without auth)"
        );
    }
    Ok(ClientConfig {
        name: server_name(url),
        url: url.clone(),
        helper: None,
        headers: given,
    })
}

/// The command a client runs for fresh headers: this binary, this stack, the same connection
/// options, and the endpoint variables in force now (a local emulator's, say), each assigned
/// for `sh` (the value quoted, whatever `&`, `?` or quotes it holds).
fn helper_command(cli: &Cli, stack: &Stack, user: &UserArgs) -> Result<String, Error> {
    let absolute = |p: &Path| -> Result<String, Error> {
        let path = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        path.to_str().map(str::to_owned).ok_or_else(|| {
            Error::new(
                "mcp",
                "config",
                format!(
                    "{} is not UTF-8: a header helper cannot name it",
                    path.display()
                ),
            )
        })
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::new("mcp", "config", format!("this program's path: {e}")))?;
    let mut variables: Vec<String> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(name, _)| name.starts_with("AWS_ENDPOINT_URL"))
        .filter_map(|(name, value)| assignment(&name, &value))
        .collect();
    variables.sort();
    let mut words = vec![absolute(&exe)?, "--stack".into(), absolute(&stack.path)?];
    if let Some(env) = &cli.env {
        words.extend(["--env".into(), env.clone()]);
    }
    if let Some(region) = &cli.region {
        words.extend(["--region".into(), region.clone()]);
    }
    if let Some(profile) = &cli.profile {
        words.extend(["--profile".into(), profile.clone()]);
    }
    words.extend(["token".into(), "--header-json".into()]);
    if let Some(user) = &user.user {
        words.extend(["--user".into(), user.clone()]);
    }
    if let Some(file) = &user.refresh_token_file {
        words.extend(["--refresh-token-file".into(), absolute(file)?]);
    }
    variables.push(command_line(&words));
    Ok(variables.join(" "))
}

pub async fn check(cli: &Cli, stack: &Stack, args: &CheckArgs) -> Result<u8, Error> {
    let aws = connect(cli, stack).await?;
    run_check(&aws, stack, &args.user, false, args.deep).await
}

/// After an apply that changed something: the same check, skipped (with a note) when it
/// cannot sign in; `deep` also calls `web_search`.
pub async fn check_after_apply(
    aws: &Aws,
    stack: &Stack,
    user: &UserArgs,
    deep: bool,
) -> Result<u8, Error> {
    run_check(aws, stack, user, true, deep).await
}

async fn run_check(
    aws: &Aws,
    stack: &Stack,
    user: &UserArgs,
    after_apply: bool,
    deep: bool,
) -> Result<u8, Error> {
    let skip = |why: &str| {
        eprintln!("Check skipped: {why}.");
        Ok(EXIT_OK)
    };
    if !stack.declares::<Runtime>() {
        return if after_apply {
            Ok(EXIT_OK)
        } else {
            skip("the stack declares no [runtime]")
        };
    }
    if !takes_cognito_tokens(stack) {
        return skip(
            "the runtime has no Cognito JWT authorizer (infra's client signs in with Cognito only)",
        );
    }
    let spec = tokens::user(stack, user.user.as_deref())?;
    let saved = user.refresh_token_file.as_deref().is_some_and(Path::exists);
    if after_apply && spec.password.is_none() && !saved {
        return skip(&format!(
            "${} is not set, so there is no password to sign in with (`infra check` runs it later)",
            spec.password_env
        ));
    }
    let found = endpoint(aws, stack).await?;
    println!(
        "Checking {} as a client: token for {} → initialize → tools/list",
        found.url, spec.username
    );
    let _ = std::io::stdout().flush();
    let app = tokens::app_client(aws, stack).await?;
    let token = tokens::access_token(aws, &app, spec, user.refresh_token_file.as_deref()).await?;
    let target = Target {
        url: found.url,
        token: Some(token),
        headers: Vec::new(),
        context: Some(found.status),
    };
    match mcp::check(&target).await {
        Ok(checked) => {
            println!(
                "✓ {} answered in {} ms with {} tool(s):",
                checked.server,
                checked.elapsed.as_millis(),
                checked.tools.len()
            );
            for tool in &checked.tools {
                println!("  {}", mcp::describe(tool));
            }
        }
        Err(failure) => {
            eprintln!("error: the MCP check failed: {failure}");
            return Ok(EXIT_ERROR);
        }
    }
    let _ = std::io::stdout().flush();
    let proven = check::prove(aws, stack, &target, &found.runtime_id, deep).await;
    for line in &proven.passed {
        println!("✓ {line}");
    }
    for warning in &proven.warnings {
        eprintln!("warning: {warning}");
    }
    match proven.failure {
        Some(failure) => {
            eprintln!("error: the check failed: {failure}");
            Ok(EXIT_ERROR)
        }
        None => Ok(EXIT_OK),
    }
}
