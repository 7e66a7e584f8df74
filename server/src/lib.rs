//! MCP server exposing OpenAI web search over stateless Streamable HTTP,
//! built for AgentCore Runtime.
//!
//! `config` resolves the environment, `openai` talks to the Responses API,
//! `secret` reads its key from AWS Secrets Manager when so configured (over
//! `aws_http`, the SDK's HTTP client on reqwest),
//! `tools` holds the MCP tools, `cancel` the in-flight calls that
//! `notifications/cancelled` can reach, `health` what `GET /ping` reports,
//! `http` the axum router, `limits` the connection cap and request read
//! deadlines, and [`serve`] runs it with graceful shutdown.

pub mod aws_http;
pub mod cancel;
pub mod config;
pub mod health;
pub mod http;
pub mod limits;
pub mod openai;
pub mod responses;
pub mod secret;
pub mod tools;
mod upstream_body;

use std::{future::Future, sync::Arc};

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use cancel::InFlight;
pub use config::Settings;
use health::Activity;
use tools::AppState;

/// Builds the shared state from settings.
pub fn app_state(settings: &Settings) -> Arc<AppState> {
    Arc::new(AppState {
        openai: openai::OpenAi::new(settings.openai.clone()),
        progress_interval: settings.progress_interval,
        in_flight: InFlight::default(),
        activity: Activity::default(),
    })
}

/// Serves until `shutdown` resolves, then stops accepting connections, lets
/// in-flight requests finish for up to `SHUTDOWN_GRACE_SECS`, and only then
/// cancels what is left.
///
/// At most `MAX_CONNECTIONS` connections are served at once (fewer if the
/// open-file limit is lower, see [`limits::fd_budget`]); more get a 503 and
/// are closed, except that `GET /ping` is still answered (see [`limits`]).
/// Request headers must arrive within `HEADER_READ_TIMEOUT_SECS` and bodies
/// within `BODY_READ_TIMEOUT_SECS` ([`limits`]).
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match (
        &settings.openai.api_key,
        &settings.openai.api_key_secret_arn,
    ) {
        (None, None) => tracing::warn!(
            "OPENAI_API_KEY is not set: the server runs and lists its tools, but web_search \
             returns an error until the key is configured"
        ),
        (Some(_), Some(secret)) => tracing::warn!(
            %secret,
            "OPENAI_API_KEY and OPENAI_API_KEY_SECRET_ARN are both set: OPENAI_API_KEY is used \
             and the secret is not read"
        ),
        (None, Some(secret)) => tracing::info!(
            %secret,
            refresh_secs = settings.openai.secret_refresh.as_secs_f64(),
            "reading the OpenAI API key from AWS Secrets Manager in the background"
        ),
        (Some(_), None) => {}
    }
    let state = app_state(&settings);
    // In the background: tools/list and /ping do not wait for AWS.
    state.openai.start_key_read();
    let mcp_cancel = CancellationToken::new();
    let app = http::router(&settings, state.clone(), mcp_cancel.clone());
    let stop_accepting = CancellationToken::new();
    // SSE responses go out as several small writes: without TCP_NODELAY,
    // Nagle's algorithm and delayed ACKs add ~40 ms to every call.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let limits = connection_limits(&settings);
    // What `GET /ping` says, for the pings answered above the connection cap.
    let ping: limits::PingBody = {
        let state = state.clone();
        Arc::new(move || state.activity.ping_body().to_string())
    };
    let server = limits::serve_connections(listener, app, limits, ping, stop_accepting.clone());
    tokio::pin!(server);
    tokio::select! {
        () = &mut server => {
            mcp_cancel.cancel();
            return Ok(());
        }
        () = shutdown => {}
    }
    let in_flight = state.in_flight.len();
    tracing::info!(
        in_flight,
        grace_secs = settings.shutdown_grace.as_secs_f64(),
        "shutdown requested: no new connections, draining in-flight requests"
    );
    stop_accepting.cancel();
    match tokio::time::timeout(settings.shutdown_grace, &mut server).await {
        Ok(()) => {
            tracing::info!("drained, exiting");
            mcp_cancel.cancel();
            Ok(())
        }
        Err(_) => {
            tracing::warn!(
                in_flight = state.in_flight.len(),
                "grace period over, cancelling remaining requests"
            );
            mcp_cancel.cancel();
            Ok(())
        }
    }
}

/// The limits from `settings`, the connection cap lowered to what the
/// process's open-file limit can hold (logged either way).
fn connection_limits(settings: &Settings) -> limits::ConnectionLimits {
    let nofile = limits::open_file_limit();
    let budget = nofile.map(limits::fd_budget);
    let max_connections = match budget {
        Some(budget) if budget < settings.max_connections => {
            tracing::warn!(
                max_connections = settings.max_connections,
                open_file_limit = nofile,
                lowered_to = budget,
                "MAX_CONNECTIONS is more than the open-file limit can hold (2 per connection \
                 plus a reserve): lowered; raise `ulimit -n` to serve more"
            );
            budget
        }
        _ => settings.max_connections,
    };
    tracing::info!(
        max_connections,
        open_file_limit = nofile,
        header_read_timeout_secs = settings.header_read_timeout.as_secs_f64(),
        body_read_timeout_secs = settings.body_read_timeout.as_secs_f64(),
        "connection limits"
    );
    limits::ConnectionLimits {
        header_read_timeout: settings.header_read_timeout,
        max_connections,
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "signal received"),
        () = term => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}
