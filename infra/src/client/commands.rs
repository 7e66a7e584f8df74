//! The client commands: `token`, `mcp tools|call|config`, `check`, and the check after `apply`.
//! Results go to stdout, everything else to stderr, so `$(infra token)` is just the token.

use std::io::Write;
use std::path::Path;

use rmcp::model::CallToolRequestParams;
use serde_json::json;

use super::config::{Auth, ClientConfig, command_line};
use super::mcp::{self, Called, Failure, Session, Target};
use super::{endpoint, takes_cognito_tokens, token as tokens};
use crate::aws::Aws;
use crate::cli::{
    CallArgs, Cli, ConfigArgs, ConfigClient, EXIT_ERROR, EXIT_OK, McpArgs, McpCommand, TokenArgs,
    UserArgs, connect,
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
    if let McpCommand::Config(config) = &args.command {
        let stack = stack.expect("a stack file: only `--url` with `--token` runs without one");
        return print_config(cli, stack, args, config).await;
    }
    let target = target(cli, stack, args).await?;
    let session = Session::connect(&target).await.map_err(failed)?;
    let code = match &args.command {
        McpCommand::Tools => {
            let tools = session.tools().await.map_err(failed)?;
            for tool in &tools {
                println!("{}", mcp::describe(tool));
            }
            EXIT_OK
        }
        McpCommand::Call(call) => call_tool(&session, call).await?,
        McpCommand::Config(_) => unreachable!("handled above"),
    };
    session.close().await;
    Ok(code)
}

fn failed(f: Failure) -> Error {
    Error::new("mcp", "connect", f.message)
}

/// The URL, token and headers of `--url`/`--token`/`--header`, the rest from the stack.
async fn target(cli: &Cli, stack: Option<&Stack>, args: &McpArgs) -> Result<Target, Error> {
    let mut headers = Vec::new();
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Error::new(
                "mcp",
                "--header",
                format!("{header:?} is not `NAME: VALUE`"),
            ));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let authorized = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
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
    Ok(Target {
        url: url.expect("a URL: from --url or the stack"),
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
    stack: &Stack,
    args: &McpArgs,
    config: &ConfigArgs,
) -> Result<u8, Error> {
    // One connection, and only when AWS is asked for the URL or a token.
    let needs_token = config.static_token && args.token.is_none();
    let aws = if args.url.is_none() || needs_token {
        Some(connect(cli, stack).await?)
    } else {
        None
    };
    let url = match (&args.url, &aws) {
        (Some(url), _) => url.clone(),
        (None, Some(aws)) => endpoint(aws, stack).await?.url,
        (None, None) => unreachable!("connected when there is no --url"),
    };
    let auth = if config.static_token {
        let token = match (&args.token, &aws) {
            (Some(token), _) => token.clone(),
            (None, Some(aws)) => fresh_token(aws, stack, &args.user).await?.expose().clone(),
            (None, None) => unreachable!("connected when there is no --token"),
        };
        eprintln!(
            "warning: the configuration embeds an access token; it expires (Cognito's default: \
             one hour) and whoever reads it can call the server until then. Without \
             --static-token the client runs `infra token` for fresh ones."
        );
        Auth::Static(token)
    } else {
        Auth::Helper(helper_command(cli, stack, &args.user)?)
    };
    let client = ClientConfig {
        name: stack.name.clone(),
        url,
        auth,
    };
    let text = match config.client {
        ConfigClient::Claude => client.claude(),
        ConfigClient::Json => serde_json::to_string_pretty(&client.json()).unwrap_or_default(),
    };
    println!("{text}");
    Ok(EXIT_OK)
}

/// The command a client runs for fresh headers: this binary, this stack, the same connection
/// options, and the endpoint variables in force now (a local emulator's, say).
fn helper_command(cli: &Cli, stack: &Stack, user: &UserArgs) -> Result<String, Error> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let exe = std::env::current_exe()
        .map_err(|e| Error::new("mcp", "config", format!("this program's path: {e}")))?;
    let mut words: Vec<String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("AWS_ENDPOINT_URL"))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    words.sort();
    words.push(exe.display().to_string());
    words.extend([
        "--stack".into(),
        absolute(&stack.path).display().to_string(),
    ]);
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
        words.extend([
            "--refresh-token-file".into(),
            absolute(file).display().to_string(),
        ]);
    }
    Ok(command_line(&words))
}

pub async fn check(cli: &Cli, stack: &Stack, user: &UserArgs) -> Result<u8, Error> {
    let aws = connect(cli, stack).await?;
    run_check(&aws, stack, user, false).await
}

/// After an apply that changed something: the same check, skipped (with a note) when it
/// cannot sign in.
pub async fn check_after_apply(aws: &Aws, stack: &Stack, user: &UserArgs) -> Result<u8, Error> {
    run_check(aws, stack, user, true).await
}

async fn run_check(
    aws: &Aws,
    stack: &Stack,
    user: &UserArgs,
    after_apply: bool,
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
            Ok(EXIT_OK)
        }
        Err(failure) => {
            eprintln!("error: the MCP check failed: {failure}");
            Ok(EXIT_ERROR)
        }
    }
}
