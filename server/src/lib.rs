//! MCP server exposing OpenAI web search over stateless Streamable HTTP,
//! built for AgentCore Runtime.
//!
//! `config` resolves the environment, `openai` talks to the Responses API,
//! `secret` reads its key from AWS Secrets Manager when so configured (over
//! `aws_http`, the SDK's HTTP client on reqwest),
//! `tools` holds the MCP tools, `cancel` the in-flight calls that
//! `notifications/cancelled` can reach, `health` what `GET /ping` reports,
//! `http` the axum router, and [`serve`] runs it with graceful shutdown.

pub mod aws_http;
pub mod cancel;
pub mod config;
pub mod health;
pub mod http;
pub mod openai;
pub mod secret;
pub mod tools;

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
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(stop_accepting.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => {
            mcp_cancel.cancel();
            return result;
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
        Ok(result) => {
            tracing::info!("drained, exiting");
            mcp_cancel.cancel();
            result
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
