//! Arguments → settings → one function per command. Returns the process exit code.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::apply;
use crate::aws::{Aws, Connection};
use crate::engine::{Error, Live, Plan, Prepared, Progress, WriteOnly};
use crate::live;
use crate::plan;
use crate::render::{self, Style};
use crate::stack::Stack;

/// Declarative, in-place deployment of an MCP server to Amazon Bedrock AgentCore Runtime.
///
/// Reads live AWS, compares it with the stack file, and changes only what differs. There is no
/// state file: live AWS is the truth. Credentials, region and endpoint come from the standard
/// AWS chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, SSO, instance roles, ...).
#[derive(Debug, Parser)]
#[command(name = "infra", version)]
pub struct Cli {
    /// The stack file.
    #[arg(long, global = true, default_value = "stack.toml", value_name = "PATH")]
    pub stack: PathBuf,
    /// AWS region; overrides the stack file and the AWS chain.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Named profile from the AWS config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// How long one AWS call may take, retries included, in seconds (default 60): an endpoint
    /// that never answers fails the command instead of hanging it.
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub call_timeout: Option<u64>,
    /// Log each AWS call (service, operation, status, time; retries too) on stderr. `RUST_LOG`
    /// (e.g. `infra=debug`) selects logs the same way.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
    /// When to use colour. `auto`: only on a terminal, and only when NO_COLOR is unset.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change. Makes only read calls.
    Plan(PlanArgs),
    /// Show the plan, ask for confirmation, change live AWS in place, then verify.
    Apply(ApplyArgs),
    /// Print the deployment's identifiers and endpoints, read from live AWS.
    Output(OutputArgs),
    /// Print a fresh Cognito access token for a stack user (stdout: the token alone).
    Token(TokenArgs),
    /// Talk to the deployed MCP server: list its tools, call one, or configure a client.
    Mcp(McpArgs),
    /// Connect to the deployed runtime as a client would (token, initialize, tools/list).
    Check(CheckArgs),
    /// Write a commented starter stack file (never over an existing one).
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The stack's name, from which every resource's name is derived (default: the directory's
    /// name).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub user: UserArgs,
    /// Print `{"Authorization": "Bearer <token>"}` instead (for a client's header helper).
    #[arg(long)]
    pub header_json: bool,
}

/// Which stack user signs in, and how.
#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    /// The `[[cognito.users]]` user to sign in as (default: the first). Its password comes
    /// from the environment variable the stack names.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Keep a refresh token in this file (created 0600; refused inside a git work tree) and
    /// renew the access token from it, so later runs need no password.
    #[arg(long, value_name = "PATH", env = "INFRA_REFRESH_TOKEN_FILE")]
    pub refresh_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
    /// The MCP URL (default: the stack's runtime, read from live AWS).
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// The bearer token (default: a fresh one for the stack's user).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "INFRA_MCP_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// A further request header, `NAME: VALUE` (repeatable).
    #[arg(long = "header", global = true, value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    #[command(flatten)]
    pub user: UserArgs,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// List the tools: name, parameters (`?` when optional) and description.
    Tools,
    /// Call a tool with `key=value` arguments and print its text (or `--json`).
    Call(CallArgs),
    /// Print a client configuration for the deployed server.
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The tool's name.
    pub tool: String,
    /// Arguments as `key=value`; a string parameter takes the text as is, others take JSON.
    #[arg(value_name = "KEY=VALUE")]
    pub arguments: Vec<String>,
    /// Print the structured content (or the whole result) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Which client: `claude` (the `claude mcp` command) or `json` (`mcpServers` JSON).
    #[arg(value_enum)]
    pub client: ConfigClient,
    /// Embed a fresh token instead of a header helper (it expires, typically in an hour).
    #[arg(long)]
    pub static_token: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigClient {
    Claude,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub user: UserArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print JSON instead of `name = value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as JSON (for pipelines) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Apply without asking. Required when stdin is not a terminal (CI).
    #[arg(long, short = 'y', alias = "auto-approve")]
    pub yes: bool,
    /// How long to wait for the runtime to become READY, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1200)]
    pub timeout: u64,
    /// Skip the check that connects to the runtime as a client after an apply that changed
    /// something (also `INFRA_CHECK=0`).
    #[arg(long)]
    pub no_check: bool,
    #[command(flatten)]
    pub user: UserArgs,
}

pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

impl Cli {
    /// Logs on stderr: `-v` shows infra's debug lines (each AWS call), `RUST_LOG` anything.
    /// Without either, nothing is logged. The SDK's own trace output is capped at debug, where
    /// it logs no request or response bodies (a sign-in carries a password).
    pub fn init_logging(&self) {
        use tracing_subscriber::EnvFilter;
        let directives = match (self.verbose, std::env::var("RUST_LOG")) {
            (true, Ok(env)) if !env.trim().is_empty() => format!("infra=debug,{env}"),
            (true, _) => "infra=debug".to_owned(),
            (false, Ok(env)) if !env.trim().is_empty() => env,
            (false, _) => return,
        };
        let mut filter = EnvFilter::new(directives);
        for capped in [
            "aws_smithy_runtime",
            "aws_smithy_runtime_api",
            "aws_smithy_http_client",
            "aws_smithy_http",
            "hyper",
            "hyper_util",
            "h2",
            "reqwest",
            "rustls",
        ] {
            if let Ok(directive) = format!("{capped}=info").parse() {
                filter = filter.add_directive(directive);
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(io::stderr)
            .with_ansi(
                io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            )
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .try_init();
    }

    fn style(&self) -> Style {
        let color = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        Style { color }
    }

    fn connection(&self) -> Connection {
        Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            call_timeout: self.call_timeout.map(std::time::Duration::from_secs),
        }
    }
}

pub async fn run(cli: Cli) -> u8 {
    if let Command::Init(args) = &cli.command {
        return init_command(&cli, args);
    }
    // `infra mcp --url URL --token TOKEN` talks to any server: no stack file needed.
    if let Command::Mcp(args) = &cli.command
        && args.url.is_some()
        && args.token.is_some()
        && !cli.stack.exists()
    {
        return finish(&cli, crate::client::commands::mcp(&cli, None, args).await);
    }
    if !cli.stack.exists() {
        let dir = std::env::current_dir().unwrap_or_default();
        eprintln!(
            "error: no stack file: {} does not exist (in {}). Run `infra init` to write a \
             commented starter stack here, or pass --stack PATH",
            cli.stack.display(),
            dir.display()
        );
        return EXIT_ERROR;
    }
    // `output` uses no write-only value: there, a variable set but empty (a CI secret that is
    // not configured for that job) is ignored with a note instead of refusing the file.
    let ignore_empty = matches!(cli.command, Command::Output(_));
    let ignored = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let lookup = |name: &str| match std::env::var(name) {
        Ok(value) if value.is_empty() && ignore_empty => {
            ignored.borrow_mut().insert(name.to_owned());
            None
        }
        other => other.ok(),
    };
    let loaded = crate::registry::load_stack(&cli.stack, &lookup);
    for name in ignored.borrow().iter() {
        eprintln!("note: ${name} is set but empty; `output` does not use it");
    }
    let stack = match loaded {
        Ok(stack) => stack,
        Err(errors) => {
            eprintln!(
                "error: {} is not valid; nothing was read or changed:",
                cli.stack.display()
            );
            eprintln!("{errors}");
            return EXIT_ERROR;
        }
    };
    let result = match &cli.command {
        Command::Plan(args) => plan_command(&cli, &stack, args).await,
        Command::Apply(args) => apply_command(&cli, &stack, args).await,
        Command::Output(args) => output_command(&cli, &stack, args).await,
        Command::Token(args) => crate::client::commands::token(&cli, &stack, args).await,
        Command::Mcp(args) => crate::client::commands::mcp(&cli, Some(&stack), args).await,
        Command::Check(args) => crate::client::commands::check(&cli, &stack, &args.user).await,
        Command::Init(args) => Ok(init_command(&cli, args)),
    };
    finish(&cli, result)
}

/// The exit code of a command's result; an error is printed first.
fn finish(cli: &Cli, result: Result<u8, Error>) -> u8 {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        hints(cli, &e);
        EXIT_ERROR
    })
}

/// What to do about an error, when infra knows: refused credentials, an endpoint that timed out.
fn hints(cli: &Cli, e: &Error) {
    if crate::aws::CREDENTIAL_ERRORS.iter().any(|c| e.code_is(c)) {
        eprintln!(
            "AWS refused the credentials from {}; `aws sts get-caller-identity` shows who \
             they are, `aws configure list` where they come from",
            cli.connection().credential_source()
        );
    }
    if e.message.contains("timed out") {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .unwrap_or_else(|_| "AWS's endpoint for that service".to_owned());
        eprintln!(
            "{endpoint} did not answer in time; --call-timeout SECS sets how long one call \
             may take, retries included (default {}s)",
            crate::aws::DEFAULT_CALL_TIMEOUT.as_secs()
        );
    }
}

/// Local work before anything is read (the image of `[image] build`, so the plan knows its
/// digest).
async fn prepare(stack: &Stack) -> Result<Prepared, Error> {
    let owned = stack.clone();
    let say = |line: &str| eprintln!("{line}");
    tokio::task::spawn_blocking(move || live::prepare(&owned, &say))
        .await
        .map_err(|e| Error::new("stack", "prepare", e.to_string()))?
}

pub(crate) async fn connect(cli: &Cli, stack: &Stack) -> Result<Aws, Error> {
    Aws::connect(&cli.connection(), stack.region.as_deref())
        .await
        .map_err(|e| Error::other("aws", "load configuration", &e))
}

/// Connect, read live state and plan.
async fn read_and_plan(
    cli: &Cli,
    stack: &Stack,
    prepared: &Prepared,
) -> Result<(Aws, Live, Plan), Error> {
    let aws = connect(cli, stack).await?;
    let (live, plan) = read_and_plan_with(&aws, stack, prepared).await?;
    Ok((aws, live, plan))
}

/// Read live state and plan, over an existing connection.
async fn read_and_plan_with(
    aws: &Aws,
    stack: &Stack,
    prepared: &Prepared,
) -> Result<(Live, Plan), Error> {
    let live = live::read(aws, stack, WriteOnly::Verify, prepared).await?;
    let plan = plan::plan(stack, &live);
    Ok((live, plan))
}

/// Exit 1 with a line on stderr when the plan has blockers.
fn refuse_blocked(plan: &Plan) -> Option<u8> {
    if plan.blockers.is_empty() {
        return None;
    }
    eprintln!(
        "error: the plan has {} problem(s); nothing was changed",
        plan.blockers.len()
    );
    Some(EXIT_ERROR)
}

async fn plan_command(cli: &Cli, stack: &Stack, args: &PlanArgs) -> Result<u8, Error> {
    let prepared = prepare(stack).await?;
    let (_, _, plan) = read_and_plan(cli, stack, &prepared).await?;
    let mut out = io::stdout().lock();
    let written = if args.json {
        render::json(&plan, &mut out)
    } else {
        render::text(&plan, cli.style(), &mut out)
    };
    if written.and_then(|()| out.flush()).is_err() {
        return Ok(EXIT_ERROR);
    }
    if let Some(code) = refuse_blocked(&plan) {
        return Ok(code);
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

/// Progress on stdout: lines, and on a terminal a spinner line that the next status replaces.
struct Printer {
    out: Mutex<(io::Stdout, usize)>,
    terminal: bool,
}

impl Printer {
    fn new() -> Printer {
        Printer {
            out: Mutex::new((io::stdout(), 0)),
            terminal: io::stdout().is_terminal(),
        }
    }
}

impl Progress for Printer {
    fn line(&self, text: &str) {
        let guard = self.out.lock().expect("stdout lock");
        let clear = if self.terminal { "\r\x1b[2K" } else { "" };
        let mut out = guard.0.lock();
        let _ = writeln!(out, "{clear}{text}");
        let _ = out.flush();
    }

    fn transient(&self, text: &str) {
        if !self.terminal {
            return;
        }
        let mut guard = self.out.lock().expect("stdout lock");
        guard.1 = (guard.1 + 1) % 10;
        let frame = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'][guard.1];
        let mut out = guard.0.lock();
        let _ = write!(out, "\r\x1b[2K{frame} {text}");
        let _ = out.flush();
    }
}

async fn apply_command(cli: &Cli, stack: &Stack, args: &ApplyArgs) -> Result<u8, Error> {
    if !args.yes && !io::stdin().is_terminal() {
        eprintln!(
            "error: apply needs confirmation, and stdin is not a terminal. \
             Run `infra plan` to review, then `infra apply --yes` to apply without a prompt"
        );
        return Ok(EXIT_ERROR);
    }
    let prepared = prepare(stack).await?;
    let (aws, live, plan) = read_and_plan(cli, stack, &prepared).await?;
    let style = cli.style();
    if render::text(&plan, style, &mut io::stdout().lock()).is_err() {
        return Ok(EXIT_ERROR);
    }
    if let Some(code) = refuse_blocked(&plan) {
        return Ok(code);
    }
    if !plan.has_changes() {
        return Ok(EXIT_OK);
    }
    if !args.yes && !confirm() {
        eprintln!("Apply cancelled; nothing was changed.");
        return Ok(EXIT_ERROR);
    }

    let printer = Printer::new();
    let timeout = std::time::Duration::from_secs(args.timeout);
    let applied = match apply::apply(&aws, stack, &live, &plan, &printer, timeout).await {
        Ok(applied) => applied,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
                hints(cli, e);
            }
            eprintln!(
                "Apply stopped. What is listed as complete above is done; the resources named \
                 in the errors may be partly changed, and those not started were not changed. \
                 Fix the cause and run apply again: it continues from the live state."
            );
            return Ok(EXIT_ERROR);
        }
    };
    println!();
    println!(
        "{} Resources: {} created, {} updated, {} deleted.",
        style.green(&style.bold("Apply complete!")),
        applied.created,
        applied.updated,
        applied.deleted
    );
    let verified = verify(&aws, stack, &prepared).await?;
    if verified != EXIT_OK || args.no_check || check_disabled() {
        return Ok(verified);
    }
    crate::client::commands::check_after_apply(&aws, stack, &args.user).await
}

/// `INFRA_CHECK=0` (or `false`, `no`, `off`) turns the post-apply check off.
fn check_disabled() -> bool {
    std::env::var("INFRA_CHECK").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        )
    })
}

/// Prove an apply: read everything again; the new plan must be empty. IAM and Cognito are
/// eventually consistent, so a fresh write may take a moment to show: retry briefly.
async fn verify(aws: &Aws, stack: &Stack, prepared: &Prepared) -> Result<u8, Error> {
    let converged = |plan: &Plan| !plan.has_changes() && plan.blockers.is_empty();
    let (_, mut after) = read_and_plan_with(aws, stack, prepared).await?;
    for delay in [1, 2, 4] {
        if converged(&after) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(delay)).await;
        (_, after) = read_and_plan_with(aws, stack, prepared).await?;
    }
    if converged(&after) {
        println!("Verified: live AWS matches the stack.");
        return Ok(EXIT_OK);
    }
    eprintln!("error: apply did not converge; a fresh plan still shows changes:");
    for r in after.changed() {
        let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
        eprintln!(
            "  {} {} ({})",
            r.action.glyph(),
            r.address,
            fields.join(", ")
        );
    }
    for b in &after.blockers {
        eprintln!("  ✗ {}: {}", b.address, b.message);
    }
    Ok(EXIT_ERROR)
}

async fn output_command(cli: &Cli, stack: &Stack, args: &OutputArgs) -> Result<u8, Error> {
    let aws = connect(cli, stack).await?;
    let live = live::read(&aws, stack, WriteOnly::Skip, &Prepared::default()).await?;
    let outputs = crate::output::Outputs::from_live(stack, &live);
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &outputs)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        outputs.write_text(&mut out)
    };
    if written.is_err() {
        return Ok(EXIT_ERROR);
    }
    // Not deployed, or broken: say which resources and why, and exit 1 (scripts that read the
    // values must not go on with half of them).
    let broken: Vec<_> = outputs.broken().collect();
    if broken.is_empty() {
        return Ok(EXIT_OK);
    }
    let missing = broken.iter().filter(|s| s.status == "missing").count();
    if missing == broken.len() && missing == outputs.statuses().len() {
        eprintln!(
            "error: the stack is not deployed: none of its {missing} resources exists; run `infra apply`"
        );
        return Ok(EXIT_ERROR);
    }
    eprintln!("error: the stack is not fully deployed or is broken:");
    for s in broken {
        match &s.detail {
            Some(detail) => eprintln!("  {} {}: {detail}", s.address, s.status),
            None => eprintln!("  {} {}", s.address, s.status),
        }
    }
    Ok(EXIT_ERROR)
}

fn init_command(cli: &Cli, args: &InitArgs) -> u8 {
    let raw = args.name.clone().unwrap_or_else(|| {
        let dir = std::path::absolute(&cli.stack)
            .ok()
            .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            .unwrap_or_default();
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let name = crate::init::stack_name(&raw);
    if args.name.as_deref().is_some_and(|given| given != name) {
        eprintln!("note: the stack is named {name:?} (AWS names allow a-z, 0-9 and -)");
    }
    match crate::init::write(&cli.stack, &name) {
        Ok(()) => {
            println!(
                "Wrote {} for the stack {name:?}. Next: export COGNITO_PASSWORD and \
                 OPENAI_API_KEY, then `infra plan`.",
                cli.stack.display()
            );
            EXIT_OK
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} already exists; infra init never overwrites a stack file (pass \
                 --stack NEW_PATH to write another)",
                cli.stack.display()
            );
            EXIT_ERROR
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", cli.stack.display());
            EXIT_ERROR
        }
    }
}

fn confirm() -> bool {
    print!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}
