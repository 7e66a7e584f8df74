//! Where the OpenAI API key comes from: `OPENAI_API_KEY` directly, or the
//! `SecretString` of an AWS Secrets Manager secret named by
//! `OPENAI_API_KEY_SECRET_ARN`.
//!
//! The secret is read with the official SDK (`aws-sdk-secretsmanager`) and
//! the credential providers a container can get its role from (see
//! `build_client`):
//!
//! - in the background at startup ([`SecretKey::start`]), so `tools/list` and
//!   `/ping` never wait for AWS; a search that arrives before the first read
//!   has finished waits for it (within the search's deadline), and starts it
//!   if it has not started yet; its outcome is logged once, as the line
//!   [`STARTUP_MESSAGE`] with `outcome` `ok` or AWS's error code (what
//!   `infra check` looks for in the runtime's log);
//! - again when the cached key is older than `SECRET_REFRESH_SECS`: the call
//!   that notices goes on with the cached key while a background read
//!   replaces it (at most one read at a time);
//! - again, awaited, when OpenAI answers 401 (see `openai.rs`, which then
//!   retries once if the key changed).
//!
//! Reads are single-flight: callers that need a read while one runs wait for
//! its result instead of starting another. A failed read leaves the last good
//! key in place; without one, the error (secret ARN and AWS error code, never
//! the value) goes to the caller, and the next call reads again.
//!
//! Every read runs on a thread of its own ([`aws_runtime`]), not on the
//! server's workers: building the HTTPS client loads the system's root
//! certificates (about 3.5 ms of CPU) and the SDK signs requests; on a
//! one-vCPU runtime (one worker) that would hold up the first `tools/list`
//! and `/ping`. A caller that gives up (timeout, cancellation) does not abort
//! the read either: its result is kept for the next caller.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use aws_config::{
    BehaviorVersion, Region, ecs::EcsCredentialsProvider,
    environment::EnvironmentVariableCredentialsProvider,
    imds::credentials::ImdsCredentialsProvider, meta::credentials::CredentialsProviderChain,
    provider_config::ProviderConfig, timeout::TimeoutConfig,
};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager::{
    error::{ProvideErrorMetadata, SdkError},
    operation::get_secret_value::GetSecretValueError,
};

use crate::config::ApiKey;

/// Time limits of one `GetSecretValue`: a hung endpoint must not hold the
/// single read (and every search waiting for it) forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long after startup the first read begins when no search asks for the
/// key sooner. Its few milliseconds of CPU (loading the root certificates,
/// signing) then do not compete with the first `/ping` and `tools/list` on a
/// one-vCPU runtime.
pub const STARTUP_READ_DELAY: Duration = Duration::from_millis(200);

/// The message of the line logged once at startup with the outcome of the
/// first read of the secret (see [`SecretKey::start`]).
pub const STARTUP_MESSAGE: &str = "secret read at startup";

/// The AWS SDK's HTTP client: see [`crate::aws_http`]. Serves HTTPS (Secrets
/// Manager) and plain HTTP (the container credentials endpoint, the metadata
/// service, local emulators).
pub fn aws_http_client() -> aws_sdk_secretsmanager::config::SharedHttpClient {
    crate::aws_http::ReqwestHttpClient::shared()
}

/// Why the key could not be read. Carries AWS's error code and message, never
/// the secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError {
    /// AWS's error code (`ResourceNotFoundException`, `AccessDeniedException`…),
    /// or what kind of failure it was when AWS did not answer with one
    /// (`DispatchFailure`, `TimeoutError`, `ConstructionFailure`, `EmptySecretString`…).
    pub code: String,
    pub message: String,
}

impl SecretError {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        // AWS's messages end with a period; ours are followed by more text.
        message.truncate(message.trim_end_matches(['.', ' ']).len());
        Self {
            code: code.into(),
            message,
        }
    }
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

/// A key read from the secret, with the generation of the read that produced it.
#[derive(Debug, Clone)]
pub struct ReadKey {
    pub key: ApiKey,
    pub generation: u64,
}

#[derive(Debug, Default)]
struct State {
    /// The last good key; kept when a later read fails.
    key: Option<ApiKey>,
    /// Incremented by every finished read, good or failed.
    generation: u64,
    /// The result of the latest finished read.
    latest: Option<Result<ApiKey, SecretError>>,
    /// When the latest read finished; the next periodic read is due
    /// `refresh` later.
    checked_at: Option<Instant>,
}

/// The OpenAI key held in a Secrets Manager secret. Share it in an `Arc`.
#[derive(Debug)]
pub struct SecretKey {
    secret_id: String,
    refresh: Duration,
    client: std::sync::OnceLock<aws_sdk_secretsmanager::Client>,
    state: Mutex<State>,
    /// Held for the duration of a read: reads are single-flight.
    read_lock: tokio::sync::Mutex<()>,
    /// A periodic background read is scheduled or running.
    refreshing: AtomicBool,
}

impl SecretKey {
    pub fn new(secret_id: impl Into<String>, refresh: Duration) -> Arc<Self> {
        Arc::new(Self {
            secret_id: secret_id.into(),
            refresh,
            client: std::sync::OnceLock::new(),
            state: Mutex::default(),
            read_lock: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        })
    }

    /// The secret's ARN (or name), as configured.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// Starts the first read in the background and returns at once. The read
    /// begins [`STARTUP_READ_DELAY`] later, out of the way of the platform's
    /// first requests, unless a search needs the key before that: then that
    /// search starts it and this one joins it.
    pub fn start(self: &Arc<Self>) {
        let this = self.clone();
        aws_runtime().spawn(async move {
            tokio::time::sleep(STARTUP_READ_DELAY).await;
            let result = this.read_on_this_thread(0).await;
            this.log_startup_outcome(&result);
        });
    }

    /// The one line at startup that says whether the secret could be read
    /// ([`STARTUP_MESSAGE`]): `outcome` is `ok` or AWS's error code, with the
    /// secret's ARN (or name) and, on failure, AWS's message; never the value.
    /// What `infra check` looks for in the runtime's log.
    fn log_startup_outcome(&self, result: &Result<ReadKey, SecretError>) {
        match result {
            Ok(_) => tracing::info!(secret = %self.secret_id, outcome = "ok", "{STARTUP_MESSAGE}"),
            Err(error) => tracing::error!(
                secret = %self.secret_id,
                outcome = %error.code,
                error = %error.message,
                "{STARTUP_MESSAGE}"
            ),
        }
    }

    /// The current key. Waits for a read only when no key has been read yet
    /// (joining the one in progress, or starting one); a key older than the
    /// refresh interval is returned at once and replaced in the background.
    pub async fn key(self: &Arc<Self>) -> Result<ReadKey, SecretError> {
        let (key, generation, due) = {
            let state = self.state.lock().expect("secret state lock");
            let due = state
                .checked_at
                .is_none_or(|at| at.elapsed() >= self.refresh);
            (state.key.clone(), state.generation, due)
        };
        match key {
            Some(key) => {
                if due {
                    self.refresh_in_background(generation);
                }
                Ok(ReadKey { key, generation })
            }
            None => self.read_after(generation).await,
        }
    }

    /// Reads the secret again unless a read has finished since `generation`
    /// (then that read's result is the answer). For a 401 with a key of that
    /// generation.
    pub async fn reread(self: &Arc<Self>, generation: u64) -> Result<ReadKey, SecretError> {
        self.read_after(generation).await
    }

    fn refresh_in_background(self: &Arc<Self>, generation: u64) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        aws_runtime().spawn(async move {
            let _ = this.read_on_this_thread(generation).await;
            this.refreshing.store(false, Ordering::Release);
        });
    }

    /// [`Self::read_on_this_thread`] on the AWS thread.
    async fn read_after(self: &Arc<Self>, generation: u64) -> Result<ReadKey, SecretError> {
        let this = self.clone();
        aws_runtime()
            .spawn(async move { this.read_on_this_thread(generation).await })
            .await
            .unwrap_or_else(|error| {
                Err(SecretError::new(
                    "InternalError",
                    format!("the read did not finish: {error}"),
                ))
            })
    }

    /// One read at a time; a caller that waited while another read ran takes
    /// that read's result instead of reading again.
    async fn read_on_this_thread(&self, generation: u64) -> Result<ReadKey, SecretError> {
        let _reading = self.read_lock.lock().await;
        {
            let state = self.state.lock().expect("secret state lock");
            if state.generation != generation
                && let Some(latest) = &state.latest
            {
                return Self::with_generation(latest.clone(), state.generation);
            }
        }
        let started = Instant::now();
        let result = self.read().await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut state = self.state.lock().expect("secret state lock");
        state.generation += 1;
        state.checked_at = Some(Instant::now());
        match &result {
            Ok(key) => {
                let rotated = state.key.as_ref().is_some_and(|old| old != key);
                tracing::info!(
                    secret = %self.secret_id,
                    elapsed_ms,
                    rotated,
                    "read the OpenAI API key from Secrets Manager"
                );
                state.key = Some(key.clone());
            }
            Err(error) => tracing::warn!(
                secret = %self.secret_id,
                elapsed_ms,
                code = %error.code,
                error = %error.message,
                keeps_previous_key = state.key.is_some(),
                "cannot read the OpenAI API key from Secrets Manager"
            ),
        }
        state.latest = Some(result.clone());
        Self::with_generation(result, state.generation)
    }

    fn with_generation(
        result: Result<ApiKey, SecretError>,
        generation: u64,
    ) -> Result<ReadKey, SecretError> {
        result.map(|key| ReadKey { key, generation })
    }

    async fn read(&self) -> Result<ApiKey, SecretError> {
        let client = self.client.get_or_init(|| build_client(&self.secret_id));
        let output = client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(sdk_error)?;
        match output.secret_string().map(str::trim) {
            Some(value) if !value.is_empty() => Ok(ApiKey::new(value)),
            Some(_) => Err(SecretError::new(
                "EmptySecretString",
                "the secret's SecretString is empty; store the OpenAI API key itself as its value",
            )),
            None => Err(SecretError::new(
                "NoSecretString",
                "the secret has no SecretString (binary secrets are not supported); store the \
                 OpenAI API key itself as its SecretString",
            )),
        }
    }
}

/// The runtime of the thread every Secrets Manager read (and the credential
/// providers' requests) runs on: one current-thread Tokio runtime, started on
/// first use and kept for the life of the process.
fn aws_runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime for the AWS SDK");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("aws-secrets".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("a thread for the AWS SDK");
        handle
    })
}

/// The region in a Secrets Manager ARN
/// (`arn:aws:secretsmanager:us-east-1:123456789012:secret:name-AbCdEf`).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some("secretsmanager"), Some(region)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!region.is_empty()).then_some(region)
}

/// The SDK client, configured from the environment the way a container
/// gets it. Credentials: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
/// (`AWS_SESSION_TOKEN`), then the ECS/container credentials endpoint
/// (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`/`_FULL_URI`), then the instance
/// metadata service (IMDSv2; AgentCore Runtime serves the execution role's
/// credentials through its microVM metadata service, MMDS). Region: the
/// secret's own when it is an ARN (a full ARN must be asked of its region),
/// else `AWS_REGION`/`AWS_DEFAULT_REGION`. Endpoint:
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` or `AWS_ENDPOINT_URL` when set
/// (emulators). Not aws-config's full loader: its profile files, SSO, web
/// identity and STS role chains serve nothing in a container, and linking them
/// costs 0.8 MB of binary (BENCHMARKS.md).
fn build_client(secret_id: &str) -> aws_sdk_secretsmanager::Client {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let http = aws_http_client();
    let region = region_of_arn(secret_id)
        .map(str::to_owned)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .map(Region::new);
    let providers = ProviderConfig::without_region()
        .with_http_client(http.clone())
        .with_region(region.clone());
    let credentials = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "EcsContainer",
        EcsCredentialsProvider::builder()
            .configure(&providers)
            .build(),
    )
    .or_else(
        "Ec2InstanceMetadata",
        ImdsCredentialsProvider::builder()
            .configure(&providers)
            .build(),
    );
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(url) = env("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| env("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(url);
    }
    aws_sdk_secretsmanager::Client::from_conf(config.build())
}

fn sdk_error<R>(error: SdkError<GetSecretValueError, R>) -> SecretError
where
    R: std::fmt::Debug + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            SecretError::new(
                err.code().unwrap_or("UnknownError"),
                err.message().unwrap_or_default(),
            )
        }
        SdkError::TimeoutError(_) => {
            SecretError::new("TimeoutError", "Secrets Manager did not answer in time")
        }
        SdkError::DispatchFailure(_) => match credentials_error(&error) {
            Some(credentials) => SecretError::new(
                "CredentialsError",
                format!(
                    "no AWS credentials (environment, container endpoint, instance metadata): {}",
                    error_chain(credentials)
                ),
            ),
            None => SecretError::new(
                "DispatchFailure",
                format!("no answer from Secrets Manager: {}", error_chain(&error)),
            ),
        },
        // e.g. no region.
        SdkError::ConstructionFailure(_) => {
            SecretError::new("ConstructionFailure", error_chain(&error))
        }
        // The body of an unreadable response is not repeated: it could hold the value.
        SdkError::ResponseError(_) => SecretError::new(
            "ResponseError",
            "Secrets Manager's response could not be read",
        ),
        _ => SecretError::new("UnknownError", "the request to Secrets Manager failed"),
    }
}

/// The credential provider's failure inside an SDK error, if that is what it was.
fn credentials_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(credentials) = error.downcast_ref::<CredentialsError>() {
            return Some(credentials);
        }
        current = error.source();
    }
    None
}

/// An error and its sources, `: `-separated, by their `Display` only (the
/// SDK's `Debug` output includes raw responses).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_arn() {
        assert_eq!(
            region_of_arn("arn:aws:secretsmanager:eu-west-3:123456789012:secret:openai-AbCdEf"),
            Some("eu-west-3")
        );
        assert_eq!(
            region_of_arn("arn:aws-cn:secretsmanager:cn-north-1:1:secret:x"),
            Some("cn-north-1")
        );
        assert_eq!(region_of_arn("openai-key"), None);
        assert_eq!(region_of_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(region_of_arn("arn:aws:secretsmanager::1:secret:x"), None);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf";
        let secret = SecretKey::new(arn, Duration::from_secs(300));
        {
            let mut state = secret.state.lock().unwrap();
            state.key = Some(ApiKey::new("sk-sentinel-value"));
            state.latest = Some(Ok(ApiKey::new("sk-sentinel-value")));
        }
        let shown = format!("{secret:?}");
        assert!(!shown.contains("sk-sentinel-value"), "{shown}");
        assert!(
            shown.contains(arn) && shown.contains("(sensitive)"),
            "{shown}"
        );
    }

    #[test]
    fn errors_print_code_and_message() {
        let error = SecretError::new(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        );
        assert_eq!(
            error.to_string(),
            "ResourceNotFoundException: Secrets Manager can't find the specified secret"
        );
        assert_eq!(SecretError::new("X", "").to_string(), "X");
    }
}
