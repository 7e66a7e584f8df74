//! The command line: every command and option, with clap; `--help` is made from these.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::aws::Connection;
use crate::render::Style;

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
    /// The environment: merge `stack.NAME.toml` (beside the stack file) over the stack file.
    #[arg(long, global = true, env = "INFRA_ENV", value_name = "NAME",
          value_parser = crate::stack::environment_name)]
    pub env: Option<String>,
    /// AWS region; overrides the stack file and the AWS chain.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Named profile from the AWS config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// How long one AWS call may take, retries included, in seconds (default 60): an endpoint
    /// that never answers fails the command instead of hanging it.
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=MAX_CALL_TIMEOUT))]
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
    /// Print a plan saved by `plan --out FILE` (text, or `--json`).
    Show(ShowArgs),
    /// Print the IAM policy the identity that runs `plan`, `apply` or `destroy` needs for this
    /// stack.
    Permissions(PermissionsArgs),
    /// Delete what the stack owns (and only that), in reverse dependency order, after a plan
    /// of the deletions and a confirmation. Needs no secret value.
    Destroy(DestroyArgs),
    /// Print the runtime's log (CloudWatch Logs): every stream, merged by time.
    Logs(LogsArgs),
    /// List the runtime's versions, newest first: when each was made, its status, the image it
    /// runs, the endpoints serving it, and which one the stack deploys now.
    Versions(VersionsArgs),
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Destroy without asking. Required when stdin is not a terminal (CI).
    #[arg(long, short = 'y', alias = "auto-approve")]
    pub yes: bool,
    /// Print one JSON document (the plan of deletions, then what was deleted and kept) instead
    /// of text; needs `--yes`.
    #[arg(long)]
    pub json: bool,
    /// Delete the stack's repository even when it holds images the stack did not push (tagged
    /// ones), with them.
    #[arg(long)]
    pub force_delete_images: bool,
    /// How long to wait for the runtime to be gone, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1200,
          value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// How far back to start: a whole number and a unit, `30s`, `10m`, `2h` or `1d`.
    #[arg(long, value_name = "AGE", default_value = "10m", value_parser = crate::logs::since)]
    pub since: std::time::Duration,
    /// Keep printing new events as they arrive (a poll every 2 s) until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Print each event's line exactly as the server wrote it (its JSON), one per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// Print one JSON document (runtime, the stack's image, and each version) instead of a
    /// table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PermissionsArgs {
    /// The command the policy is for: `plan` (read-only), `apply` or `destroy`.
    #[arg(value_enum)]
    pub command: PermissionsFor,
    /// Print JSON: the policy, with the command, stack, account, partition and region it is for.
    #[arg(long)]
    pub json: bool,
    /// With `plan`: for `plan --skip-password-check` (signs nobody in, reads no secret value).
    #[arg(long, env = "INFRA_SKIP_PASSWORD_CHECK",
          value_parser = clap::builder::FalseyValueParser::new())]
    pub skip_password_check: bool,
    /// Write the account and partition as `${AWS::AccountId}` and `${AWS::Partition}` (and an
    /// unknown region as `${AWS::Region}`) instead of asking STS (CloudFormation's `Fn::Sub`
    /// fills them in).
    #[arg(long)]
    pub placeholders: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionsFor {
    Plan,
    Apply,
    Destroy,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The saved plan.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Print the plan as JSON, as `plan --json` printed it.
    #[arg(long)]
    pub json: bool,
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
    /// Also call `web_search` once (a short query: one OpenAI request) and fail on a tool error.
    #[arg(long)]
    pub deep: bool,
}

/// How far the check after apply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckDepth {
    /// initialize, tools/list, and the server's secret read in the runtime's log.
    Basic,
    /// Also one `web_search` call.
    Deep,
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
    /// Print the plan as JSON (for pipelines) instead of text: short for `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// How to print the plan: `text`, `json` (docs/plan.schema.json) or `markdown` (for a
    /// pull-request comment). Default: text.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<PlanFormat>,
    /// Also save the plan, with a fingerprint of what it read, for `infra apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Plan without signing users in and without secret values (passwords and secret values
    /// are "not checked"): what a pull-request job with read-only credentials can run.
    #[arg(long, env = "INFRA_SKIP_PASSWORD_CHECK",
          value_parser = clap::builder::FalseyValueParser::new())]
    pub skip_password_check: bool,
}

/// How `plan` prints the plan (docs/plan-format.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

impl PlanArgs {
    /// `--format`, or `json` for `--json`; text by default.
    pub fn format(&self) -> PlanFormat {
        match (self.json, self.format) {
            (true, _) => PlanFormat::Json,
            (false, format) => format.unwrap_or(PlanFormat::Text),
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan --out FILE`: applied exactly, without a prompt, while live AWS
    /// still matches what it was made from (else exit 1: the plan is stale).
    #[arg(value_name = "FILE")]
    pub plan_file: Option<std::path::PathBuf>,
    /// Apply without asking. Required when stdin is not a terminal (CI).
    #[arg(long, short = 'y', alias = "auto-approve")]
    pub yes: bool,
    /// How long to wait for the runtime to become READY, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1200,
          value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT))]
    pub timeout: u64,
    /// Skip the check that connects to the runtime as a client after an apply that changed
    /// something (also `INFRA_CHECK=0`).
    #[arg(long)]
    pub no_check: bool,
    /// How far the check after apply goes: `basic` (initialize, tools/list, the server's secret
    /// read in its log) or `deep` (also one `web_search` call). Default: basic, or deep with
    /// `INFRA_CHECK=deep`.
    #[arg(long, value_enum, value_name = "DEPTH", conflicts_with = "no_check")]
    pub check: Option<CheckDepth>,
    /// Print one JSON event per line instead of text (docs/plan-format.md); needs `--yes` or
    /// a saved plan, as no plan is shown to confirm.
    #[arg(long)]
    pub json: bool,
    /// Also delete, after the other changes, what is tagged for the stack but no longer
    /// declared (a renamed pool), as `infra destroy` deletes: only what the stack owns.
    #[arg(long, conflicts_with = "plan_file")]
    pub prune: bool,
    #[command(flatten)]
    pub user: UserArgs,
}

/// The longest `--call-timeout`: an hour (no AWS call takes that long; a larger number is a
/// typo, and would overflow the clock).
pub const MAX_CALL_TIMEOUT: u64 = 3600;
/// The longest `apply --timeout`: a day.
pub const MAX_WAIT: u64 = 86_400;

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

    pub(crate) fn style(&self) -> Style {
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

    pub(crate) fn connection(&self) -> Connection {
        Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            call_timeout: self.call_timeout.map(std::time::Duration::from_secs),
        }
    }
}
