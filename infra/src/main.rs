use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = infra::cli::Cli::parse();
    cli.init_logging();
    ExitCode::from(infra::cli::run(cli).await)
}
