//! Arguments → settings → one function per command. Returns the process exit code.
//!
//! ```text
//! args.rs      the command line (clap): every command and option
//! mod.rs       run: dispatch, errors and hints, what several commands share
//! commands.rs  plan, apply (and its check), output, init
//! versions.rs  versions: the runtime's versions and which one the stack deploys
//! ```

mod args;
mod commands;
mod destroy;
mod versions;

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

pub use args::*;
use commands::*;

use crate::aws::Aws;
use crate::engine::{Error, Live, Plan, Prepared, Progress, WriteOnly};
use crate::live;
use crate::plan;
use crate::render;
use crate::stack::Stack;

pub async fn run(cli: Cli) -> u8 {
    if let Command::Init(args) = &cli.command {
        return init_command(&cli, args);
    }
    if let Command::Show(args) = &cli.command {
        return show_command(args);
    }
    // A stack file that is not there at all (a dangling symlink or a loop is there, and
    // loading it says what is wrong).
    let no_stack_file =
        std::fs::symlink_metadata(&cli.stack).is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
    // `infra mcp --url URL` talks to any server (with --token, --header or no auth): no stack
    // file needed.
    if let Command::Mcp(args) = &cli.command
        && args.url.is_some()
        && no_stack_file
    {
        return finish(&cli, crate::client::commands::mcp(&cli, None, args).await);
    }
    if no_stack_file {
        let dir = std::env::current_dir().unwrap_or_default();
        eprintln!(
            "error: no stack file: {} does not exist (in {}). Run `infra init` to write a \
             commented starter stack here, or pass --stack PATH",
            cli.stack.display(),
            dir.display()
        );
        json_apply_refused(
            &cli,
            &format!("no stack file: {} does not exist", cli.stack.display()),
        );
        return EXIT_ERROR;
    }
    // `output` uses no write-only value: there, a variable set but empty (a CI secret that is
    // not configured for that job) is ignored with a note instead of refusing the file.
    let ignore_empty = matches!(cli.command, Command::Output(_) | Command::Destroy(_));
    let ignored = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let lookup = |name: &str| match std::env::var(name) {
        Ok(value) if value.is_empty() && ignore_empty => {
            ignored.borrow_mut().insert(name.to_owned());
            None
        }
        other => other.ok(),
    };
    let loaded = crate::registry::load_environment(&cli.stack, cli.env.as_deref(), &lookup);
    for name in ignored.borrow().iter() {
        eprintln!(
            "note: ${name} is set but empty; `{}` does not use it",
            if ignore_empty && matches!(cli.command, Command::Destroy(_)) {
                "destroy"
            } else {
                "output"
            }
        );
    }
    let stack = match loaded {
        Ok(stack) => stack,
        Err(errors) => {
            let env = cli.env.as_ref().map(|e| format!(" with --env {e}"));
            eprintln!(
                "error: {}{} is not valid; nothing was read or changed:",
                cli.stack.display(),
                env.unwrap_or_default()
            );
            eprintln!("{errors}");
            json_apply_refused(
                &cli,
                &format!(
                    "{} is not valid; nothing was read or changed:\n{errors}",
                    cli.stack.display()
                ),
            );
            return EXIT_ERROR;
        }
    };
    let result = match &cli.command {
        Command::Plan(args) => plan_command(&cli, &stack, args).await,
        Command::Apply(args) => apply_command(&cli, &stack, args).await,
        Command::Output(args) => output_command(&cli, &stack, args).await,
        Command::Token(args) => crate::client::commands::token(&cli, &stack, args).await,
        Command::Mcp(args) => crate::client::commands::mcp(&cli, Some(&stack), args).await,
        Command::Check(args) => crate::client::commands::check(&cli, &stack, args).await,
        Command::Init(args) => Ok(init_command(&cli, args)),
        Command::Show(args) => Ok(show_command(args)),
        Command::Permissions(args) => crate::permissions::command(&cli, &stack, args).await,
        Command::Destroy(args) => destroy::command(&cli, &stack, args).await,
        Command::Logs(args) => crate::logs::command(&cli, &stack, args).await,
        Command::Versions(args) => versions::command(&cli, &stack, args).await,
    };
    finish(&cli, result)
}

/// `apply --json` refused before it runs (no stack file, an invalid one): as events too, so
/// its stdout always ends with the summary.
fn json_apply_refused(cli: &Cli, message: &str) {
    if let Command::Apply(args) = &cli.command
        && args.json
    {
        let events = render::Events::stdout();
        events.problem(None, message);
        events.summary(false);
    }
}

/// The exit code of a command's result; an error is printed first.
pub(super) fn finish(cli: &Cli, result: Result<u8, Error>) -> u8 {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        hints(cli, &e);
        EXIT_ERROR
    })
}

/// Errors of a step that went on with the others (apply, destroy): each on stderr with what to
/// do about it, and as an event with `--json`.
pub(super) fn report_errors(cli: &Cli, errors: &[Error], events: Option<&render::Events>) {
    for e in errors {
        eprintln!("error: {e}");
        hints(cli, e);
        if let Some(events) = events {
            events.error(e);
        }
    }
}

/// What to do about an error, when infra knows: refused credentials, an endpoint that timed out.
pub(super) fn hints(cli: &Cli, e: &Error) {
    if crate::aws::CREDENTIAL_ERRORS.iter().any(|c| e.code_is(c)) {
        eprintln!(
            "AWS refused the credentials from {}; `aws sts get-caller-identity` shows who \
             they are, `aws configure list` where they come from",
            cli.connection().credential_source()
        );
    }
    if e.message.contains("timed out") || e.message.contains("did not answer") {
        eprintln!(
            "{} did not answer in time; --call-timeout SECS sets how long one call \
             may take, retries included (default {}s)",
            stalled_endpoint(e),
            crate::aws::DEFAULT_CALL_TIMEOUT.as_secs()
        );
    }
}

/// Which endpoint stalled: the AWS calls sent and never answered (each service may have its
/// own `AWS_ENDPOINT_URL_<SERVICE>`), else the origin of a URL in the message (the registry
/// names its own), else AWS's endpoint.
fn stalled_endpoint(e: &Error) -> String {
    // `sts:GetCallerIdentity` or `GetSecretValue`: the operation is after the colon.
    let operation = e.operation.rsplit(':').next().unwrap_or_default();
    let calls = crate::aws::calls::unanswered(operation);
    if !calls.is_empty() {
        return calls.join(", ");
    }
    let url = ["https://", "http://"].iter().find_map(|scheme| {
        let start = e.message.find(scheme)?;
        let rest = &e.message[start + scheme.len()..];
        let end = rest
            .find(|c: char| c == '/' || c == '?' || c == ')' || c.is_whitespace())
            .unwrap_or(rest.len());
        Some(format!("{scheme}{}", &rest[..end]))
    });
    url.unwrap_or_else(|| "AWS's endpoint for that service".to_owned())
}

/// Local work before anything is read (the image of `[image] build`, so the plan knows its
/// digest).
pub(super) async fn prepare(stack: &Stack) -> Result<Prepared, Error> {
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
pub(super) async fn read_and_plan(
    cli: &Cli,
    stack: &Stack,
    prepared: &Prepared,
) -> Result<(Aws, Live, Plan), Error> {
    let aws = connect(cli, stack).await?;
    let (live, plan) = read_and_plan_with(&aws, stack, prepared, WriteOnly::Verify).await?;
    Ok((aws, live, plan))
}

/// Read live state and plan, over an existing connection.
pub(super) async fn read_and_plan_with(
    aws: &Aws,
    stack: &Stack,
    prepared: &Prepared,
    write_only: WriteOnly,
) -> Result<(Live, Plan), Error> {
    let live = live::read(aws, stack, write_only, prepared).await?;
    let plan = plan::plan(stack, &live);
    Ok((live, plan))
}

/// Exit 1 with a line on stderr when the plan has blockers.
pub(super) fn refuse_blocked(plan: &Plan) -> Option<u8> {
    if plan.blockers.is_empty() {
        return None;
    }
    eprintln!(
        "error: the plan has {} problem(s); nothing was changed",
        plan.blockers.len()
    );
    Some(EXIT_ERROR)
}

/// Progress on stdout: lines, and on a terminal a spinner line that the next status replaces.
pub(super) struct Printer {
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
