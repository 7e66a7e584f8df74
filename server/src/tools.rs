//! The MCP tools: `web_search` and `greet_user`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{
        common::schema_for_output, router::tool::ToolRouter, tool::ToolCallContext,
        wrapper::Parameters,
    },
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ProgressNotificationParam, ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::{
    cancel::{InFlight, session_of},
    health::Activity,
    openai::{OpenAi, SearchAnswer, SearchContextSize, SearchRequest},
};

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub openai: OpenAi,
    pub progress_interval: Duration,
    pub in_flight: InFlight,
    /// Tool calls running, for `GET /ping` (`HealthyBusy`).
    pub activity: Activity,
}

/// Arguments of `web_search`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WebSearchArgs {
    /// The question or search query, in natural language. The answer comes back in the same language.
    pub query: String,
    /// How much web content the search may read: `low` is fastest and cheapest, `high` is most thorough. Defaults to the API's default (medium).
    #[serde(default)]
    pub search_context_size: Option<SearchContextSize>,
    /// Restrict the search to these domains, e.g. ["arxiv.org", "nature.com"] (no scheme). Empty or absent searches the whole web.
    #[serde(default)]
    pub allowed_domains: Option<Vec<String>>,
}

/// Arguments of `greet_user`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GreetArgs {
    /// The name of the person to greet.
    pub name: String,
}

/// The MCP server handler. Cloning is cheap (two `Arc`s): the HTTP transport
/// builds one per request.
#[derive(Clone)]
pub struct WebSearchServer {
    state: Arc<AppState>,
    tool_router: Arc<ToolRouter<Self>>,
}

/// How a tool call ended, for the per-call log line.
enum Outcome<'a> {
    Ok,
    Error(&'a str),
    Cancelled,
}

fn log_call(tool: &str, started: Instant, outcome: Outcome<'_>) {
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Outcome::Ok => tracing::info!(tool, duration_ms, outcome = "ok", "tool call"),
        Outcome::Error(kind) => {
            tracing::warn!(
                tool,
                duration_ms,
                outcome = "error",
                error = kind,
                "tool call"
            )
        }
        Outcome::Cancelled => {
            tracing::info!(tool, duration_ms, outcome = "cancelled", "tool call")
        }
    }
}

fn text_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// The tool result of a successful search: readable text and `{answer, citations}`.
pub fn answer_result(answer: &SearchAnswer) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(answer.to_text())]);
    result.structured_content =
        Some(serde_json::to_value(answer).expect("SearchAnswer serializes"));
    result
}

#[tool_router]
impl WebSearchServer {
    pub fn new(state: Arc<AppState>) -> Self {
        Self {
            state,
            tool_router: Arc::new(Self::tool_router()),
        }
    }

    /// Search the web and answer a question, with cited sources.
    #[tool(
        name = "web_search",
        description = "Search the web with OpenAI web search and answer the question, citing sources. \
Use it for current events, facts that may have changed, and anything that needs a source. \
Returns the answer followed by numbered sources, and structured content {answer, citations: [{url, title}]}. \
A search can take a minute or more.",
        annotations(
            title = "Web search",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        ),
        output_schema = schema_for_output::<SearchAnswer>()
    )]
    pub async fn web_search(
        &self,
        Parameters(args): Parameters<WebSearchArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let started = Instant::now();
        let session = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| session_of(&parts.headers));
        let _registered = self
            .state
            .in_flight
            .register(session, &context.id, context.ct.clone());
        // Progress only when the client asked for it (sent a progress token).
        let on_progress = context.meta.get_progress_token().map(|token| {
            let peer = context.peer.clone();
            move |elapsed: Duration| {
                let peer = peer.clone();
                let token = token.clone();
                async move {
                    let secs = elapsed.as_secs();
                    let mut param = ProgressNotificationParam::new(token, secs as f64);
                    param.message = Some(format!("searching the web ({secs}s)"));
                    if let Err(error) = peer.notify_progress(param).await {
                        tracing::debug!(%error, "progress notification not delivered");
                    }
                }
            }
        });
        let result = self.run_search(args, context.ct.clone(), on_progress).await;
        let outcome = match &result {
            SearchOutcome::Answer(_) => Outcome::Ok,
            SearchOutcome::Failed(kind, _) => Outcome::Error(kind),
            SearchOutcome::Cancelled => Outcome::Cancelled,
        };
        log_call("web_search", started, outcome);
        Ok(result.into_tool_result())
    }

    /// Greet a user by name (a connectivity check).
    #[tool(
        name = "greet_user",
        description = "Greet a user by name. A trivial tool to check that the server is reachable.",
        annotations(
            title = "Greet user",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn greet_user(
        &self,
        Parameters(GreetArgs { name }): Parameters<GreetArgs>,
    ) -> String {
        let started = Instant::now();
        let name = name.trim();
        let greeting = if name.is_empty() {
            "Hello!".to_owned()
        } else {
            format!("Hello, {name}! Welcome.")
        };
        log_call("greet_user", started, Outcome::Ok);
        greeting
    }
}

/// The result of [`WebSearchServer::run_search`].
#[derive(Debug)]
pub enum SearchOutcome {
    Answer(SearchAnswer),
    /// The error kind and the message for the caller.
    Failed(&'static str, String),
    Cancelled,
}

impl SearchOutcome {
    pub fn into_tool_result(self) -> CallToolResult {
        match self {
            SearchOutcome::Answer(answer) => answer_result(&answer),
            SearchOutcome::Failed(_, message) => text_error(message),
            SearchOutcome::Cancelled => text_error("web_search was cancelled"),
        }
    }
}

impl WebSearchServer {
    /// The search itself, independent of the MCP context: validates the
    /// arguments, calls OpenAI, reports progress every `progress_interval`
    /// through `on_progress` (if any), and stops (dropping the upstream
    /// request) as soon as `cancel` fires.
    pub async fn run_search<F, Fut>(
        &self,
        args: WebSearchArgs,
        cancel: CancellationToken,
        on_progress: Option<F>,
    ) -> SearchOutcome
    where
        F: Fn(Duration) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let query = args.query.trim();
        if query.is_empty() {
            return SearchOutcome::Failed("invalid_arguments", "query must not be empty".into());
        }
        let allowed_domains: Vec<String> = args
            .allowed_domains
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .collect();
        let request = SearchRequest {
            query: query.to_owned(),
            search_context_size: args.search_context_size,
            allowed_domains,
        };
        let started = tokio::time::Instant::now();
        let interval = self.state.progress_interval;
        let mut ticker = on_progress.as_ref().map(|_| {
            let mut ticker = tokio::time::interval_at(started + interval, interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker
        });
        let search = self.state.openai.search(&request);
        tokio::pin!(search);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return SearchOutcome::Cancelled,
                result = &mut search => {
                    return match result {
                        Ok(answer) => SearchOutcome::Answer(answer),
                        Err(error) => SearchOutcome::Failed(error.kind(), error.to_string()),
                    };
                }
                () = tick(&mut ticker) => {
                    if let Some(on_progress) = &on_progress {
                        on_progress(started.elapsed()).await;
                    }
                }
            }
        }
    }
}

/// The next tick of `ticker`, or never without one.
async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WebSearchServer {
    /// Every tool call, whatever its tool, counts as in flight (`GET /ping`
    /// says `HealthyBusy`) from here until its result is produced, it fails,
    /// or its future is dropped.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let _busy = self.state.activity.begin();
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("web-search", env!("CARGO_PKG_VERSION"))
                    .with_title("Web search (OpenAI)"),
            )
            .with_instructions(
                "Use web_search to answer questions that need current or sourced information \
                 from the web; the answer cites its sources.",
            )
    }
}
