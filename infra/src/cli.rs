//! Arguments → settings → one function per command. Returns the process exit code.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::apply;
use crate::aws::{Aws, Connection};
use crate::engine::{Live, Plan, Prepared, Progress, WriteOnly};
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
    match &cli.command {
        Command::Plan(args) => plan_command(&cli, &stack, args).await,
        Command::Apply(args) => apply_command(&cli, &stack, args).await,
        Command::Output(args) => output_command(&cli, &stack, args).await,
    }
}

/// Local work before anything is read (the image of `[image] build`, so the plan knows its
/// digest).
async fn prepare(stack: &Stack) -> Result<Prepared, u8> {
    let owned = stack.clone();
    let say = |line: &str| eprintln!("{line}");
    match tokio::task::spawn_blocking(move || live::prepare(&owned, &say)).await {
        Ok(Ok(prepared)) => Ok(prepared),
        Ok(Err(e)) => {
            eprintln!("error: building the image: {e:#}");
            Err(EXIT_ERROR)
        }
        Err(e) => {
            eprintln!("error: building the image: {e}");
            Err(EXIT_ERROR)
        }
    }
}

/// Connect, read live state and plan.
async fn read_and_plan(
    cli: &Cli,
    stack: &Stack,
    prepared: &Prepared,
) -> Result<(Aws, Live, Plan), u8> {
    let aws = Aws::connect(&cli.connection(), stack.region.as_deref())
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            EXIT_ERROR
        })?;
    let live = live::read(&aws, stack, WriteOnly::Verify, prepared)
        .await
        .map_err(|e| {
            eprintln!("error: reading live state: {e}");
            EXIT_ERROR
        })?;
    let plan = plan::plan(stack, &live);
    Ok((aws, live, plan))
}

async fn plan_command(cli: &Cli, stack: &Stack, args: &PlanArgs) -> u8 {
    let prepared = match prepare(stack).await {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let plan = match read_and_plan(cli, stack, &prepared).await {
        Ok((_, _, plan)) => plan,
        Err(code) => return code,
    };
    let mut out = io::stdout().lock();
    let written = if args.json {
        render::json(&plan, &mut out)
    } else {
        render::text(&plan, cli.style(), &mut out)
    };
    if written.and_then(|()| out.flush()).is_err() {
        return EXIT_ERROR;
    }
    if !plan.blockers.is_empty() {
        eprintln!(
            "error: the plan has {} problem(s); nothing was changed",
            plan.blockers.len()
        );
        return EXIT_ERROR;
    }
    if args.detailed_exitcode && plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
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

async fn apply_command(cli: &Cli, stack: &Stack, args: &ApplyArgs) -> u8 {
    if !args.yes && !io::stdin().is_terminal() {
        eprintln!(
            "error: apply needs confirmation, and stdin is not a terminal. \
             Run `infra plan` to review, then `infra apply --yes` to apply without a prompt"
        );
        return EXIT_ERROR;
    }
    let prepared = match prepare(stack).await {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let (aws, live, plan) = match read_and_plan(cli, stack, &prepared).await {
        Ok(read) => read,
        Err(code) => return code,
    };
    let style = cli.style();
    if render::text(&plan, style, &mut io::stdout().lock()).is_err() {
        return EXIT_ERROR;
    }
    if !plan.blockers.is_empty() {
        eprintln!(
            "error: the plan has {} problem(s); nothing was changed",
            plan.blockers.len()
        );
        return EXIT_ERROR;
    }
    if !plan.has_changes() {
        return EXIT_OK;
    }
    if !args.yes && !confirm() {
        eprintln!("Apply cancelled; nothing was changed.");
        return EXIT_ERROR;
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
            return EXIT_ERROR;
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

    // Prove it: read everything again; the new plan must be empty. IAM and Cognito are
    // eventually consistent, so a fresh write may take a moment to show: retry briefly.
    let mut verified = read_and_plan(cli, stack, &prepared).await;
    for delay in [1, 2, 4] {
        match &verified {
            Ok((_, _, after)) if after.has_changes() || !after.blockers.is_empty() => {
                tokio::time::sleep(std::time::Duration::from_secs(delay)).await;
                verified = read_and_plan(cli, stack, &prepared).await;
            }
            _ => break,
        }
    }
    match verified {
        Ok((_, _, after)) if !after.has_changes() && after.blockers.is_empty() => {
            println!("Verified: live AWS matches the stack.");
            EXIT_OK
        }
        Ok((_, _, after)) => {
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
            EXIT_ERROR
        }
        Err(code) => code,
    }
}

async fn output_command(cli: &Cli, stack: &Stack, args: &OutputArgs) -> u8 {
    let aws = match Aws::connect(&cli.connection(), stack.region.as_deref()).await {
        Ok(aws) => aws,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    let live = match live::read(&aws, stack, WriteOnly::Skip, &Prepared::default()).await {
        Ok(live) => live,
        Err(e) => {
            eprintln!("error: reading live state: {e}");
            return EXIT_ERROR;
        }
    };
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
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

fn confirm() -> bool {
    print!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}
