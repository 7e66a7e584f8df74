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
}

pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

impl Cli {
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
    let stack = match Stack::load(&cli.stack, &|name| std::env::var(name).ok()) {
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
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        if e.message.contains("timed out") {
            let endpoint = std::env::var("AWS_ENDPOINT_URL")
                .unwrap_or_else(|_| "AWS's endpoint for that service".to_owned());
            eprintln!(
                "{endpoint} did not answer in time; --call-timeout SECS sets how long one call \
                 may take, retries included (default {}s)",
                crate::aws::DEFAULT_CALL_TIMEOUT.as_secs()
            );
        }
        EXIT_ERROR
    })
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

async fn connect(cli: &Cli, stack: &Stack) -> Result<Aws, Error> {
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
            }
            eprintln!(
                "Apply stopped. Resources not listed as complete above were not changed; \
                 fix the cause and run apply again: it continues from the live state."
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
    verify(&aws, stack, &prepared).await
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
    Ok(if written.is_err() {
        EXIT_ERROR
    } else {
        EXIT_OK
    })
}

fn confirm() -> bool {
    print!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}
