//! One `SdkConfig` from the standard AWS chain, the service clients, and error helpers.
//!
//! Credentials, region and endpoint come from aws-config exactly as for the AWS CLI: environment
//! variables, `AWS_PROFILE` and shared config (SSO included), instance and container roles, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` for emulators and private endpoints.

pub mod calls;
pub mod regions;
pub mod retry;

use aws_config::BehaviorVersion;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::error::Error;

/// How the caller chose to reach AWS: the command-line overrides; everything else is the chain.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// How long one AWS call may take, retries included (`None`: [`DEFAULT_CALL_TIMEOUT`]).
    pub call_timeout: Option<Duration>,
}

/// How long one AWS call may take, retries included, unless `--call-timeout` says otherwise:
/// an endpoint that accepts the connection and never answers fails the command, it never hangs.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting to an endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How independent reads are issued. Sequential exists to measure what concurrency buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    Concurrent,
    Sequential,
}

/// The clients every command shares.
#[derive(Clone)]
pub struct Aws {
    pub region: String,
    /// How long one call may take (`--call-timeout`); the image registry's requests too.
    pub call_timeout: Duration,
    pub reads: Reads,
    pub iam: aws_sdk_iam::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub sts: aws_sdk_sts::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub agentcore: aws_sdk_bedrockagentcorecontrol::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The Resource Groups Tagging API: what is tagged for the stack, across services.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

/// A service client from `config`, with the call log of [`calls::CallLog`].
macro_rules! client {
    ($sdk:ident, $config:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor(calls::CallLog)
                .retry_classifier(retry::TooManyRequests)
                .build(),
        )
    };
}

impl Aws {
    /// Load the configuration. `stack_region` applies when neither `--region` nor the chain says.
    pub async fn connect(conn: &Connection, stack_region: Option<&str>) -> anyhow::Result<Aws> {
        let call = conn.call_timeout.unwrap_or(DEFAULT_CALL_TIMEOUT);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT.min(call))
                    .operation_attempt_timeout(call)
                    .operation_timeout(call)
                    .build(),
            );
        if let Some(profile) = &conn.profile {
            // As the AWS CLI: a profile named on the command line wins over credentials in the
            // environment (the default chain would take AWS_ACCESS_KEY_ID first).
            let files = profile_files();
            if !files.iter().any(|f| declares_profile(f, profile)) {
                let looked: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                anyhow::bail!(
                    "the profile {profile:?} is not in {}; `aws configure --profile {profile}` \
                     (or `aws configure sso`) creates it",
                    looked.join(" or ")
                );
            }
            loader = loader.profile_name(profile).credentials_provider(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .profile_name(profile)
                    .build(),
            );
        }
        // --region wins, then the stack file, then the chain (AWS_REGION, profile).
        if let Some(region) = conn
            .region
            .clone()
            .or_else(|| stack_region.map(str::to_owned))
        {
            loader = loader.region(aws_config::Region::new(region));
        }
        let config = loader.load().await;
        check_credentials(&config, conn).await?;
        Aws::from_config(&config)
    }

    /// Clients for an already loaded configuration, which must name a region.
    pub fn from_config(config: &aws_config::SdkConfig) -> anyhow::Result<Aws> {
        let Some(region) = config.region().map(|r| r.as_ref().to_owned()) else {
            anyhow::bail!(
                "no AWS region: pass --region, set `region` in [stack], or set AWS_REGION / a profile region"
            );
        };
        if !regions::is_region(&region) {
            anyhow::bail!(
                "{region:?} is not an AWS region; the regions the SDK knows: {}",
                regions::KNOWN.join(", ")
            );
        }
        let call_timeout = config
            .timeout_config()
            .and_then(|t| t.operation_timeout())
            .unwrap_or(DEFAULT_CALL_TIMEOUT);
        Ok(Aws {
            region,
            call_timeout,
            reads: Reads::Concurrent,
            iam: client!(aws_sdk_iam, config),
            cognito: client!(aws_sdk_cognitoidentityprovider, config),
            sts: client!(aws_sdk_sts, config),
            ecr: client!(aws_sdk_ecr, config),
            agentcore: client!(aws_sdk_bedrockagentcorecontrol, config),
            secrets: client!(aws_sdk_secretsmanager, config),
            logs: client!(aws_sdk_cloudwatchlogs, config),
            tagging: client!(aws_sdk_resourcegroupstagging, config),
        })
    }

    /// Run independent reads: all at once, or one after another.
    pub async fn all<T, F>(&self, reads: impl IntoIterator<Item = F>) -> Result<Vec<T>, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        match self.reads {
            Reads::Concurrent => {
                futures::future::try_join_all(reads.into_iter().map(Box::pin)).await
            }
            Reads::Sequential => {
                let mut out = Vec::new();
                for read in reads {
                    out.push(read.await?);
                }
                Ok(out)
            }
        }
    }

    /// Read each of `ids` with `read`, as [`Aws::all`] does; one that is gone meanwhile (its
    /// read fails with `not_found_code`) is left out.
    pub async fn all_found<'i, T, F, Fut>(
        &self,
        ids: &'i [String],
        not_found_code: &str,
        read: F,
    ) -> Result<Vec<T>, Error>
    where
        F: Fn(&'i str) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let found = self
            .all(ids.iter().map(|id| {
                let read = read(id);
                async move { crate::error::not_found_as_none(read.await, not_found_code) }
            }))
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Run two independent reads.
    pub async fn both<A, B>(
        &self,
        a: impl Future<Output = Result<A, Error>>,
        b: impl Future<Output = Result<B, Error>>,
    ) -> Result<(A, B), Error> {
        // Boxed: SDK futures are large, and nesting them inline overflows the stack.
        let (a, b) = (Box::pin(a), Box::pin(b));
        match self.reads {
            Reads::Concurrent => futures::future::try_join(a, b).await,
            Reads::Sequential => Ok((a.await?, b.await?)),
        }
    }
}

/// Load the credentials once before any call, so a missing or broken source is one clear line
/// instead of the last provider's error (often "failed to load IMDS session token").
async fn check_credentials(
    config: &aws_config::SdkConfig,
    conn: &Connection,
) -> anyhow::Result<()> {
    use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError};
    let Some(provider) = config.credentials_provider() else {
        return Ok(());
    };
    let error = match provider.provide_credentials().await {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let explicit = conn.profile.is_some()
        || ["AWS_PROFILE", "AWS_ACCESS_KEY_ID"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    let detail = match &error {
        CredentialsError::CredentialsNotLoaded(_) => String::new(),
        other => format!(
            " (the last source tried said: {})",
            crate::error::error_chain(other)
        ),
    };
    if !explicit || matches!(error, CredentialsError::CredentialsNotLoaded(_)) {
        anyhow::bail!(
            "no AWS credentials found in {}{detail}. Provide them with --profile NAME or \
             AWS_PROFILE (a profile in ~/.aws/config or ~/.aws/credentials; for SSO run `aws sso \
             login --profile NAME` first), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            conn.credential_source()
        );
    }
    anyhow::bail!(
        "loading AWS credentials from {} failed: {}{}",
        conn.credential_source(),
        crate::error::error_chain(&error),
        if conn.profile.is_some() || std::env::var_os("AWS_PROFILE").is_some() {
            " (for an SSO profile, `aws sso login --profile NAME` renews the session)"
        } else {
            ""
        }
    )
}

/// Error codes with which AWS refuses the credentials themselves.
pub const CREDENTIAL_ERRORS: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "IncompleteSignature",
    "InvalidAccessKeyId",
];

impl Connection {
    /// Where the credentials come from, as the AWS chain picks them (without secrets).
    pub fn credential_source(&self) -> String {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(profile) = &self.profile {
            return format!("the profile {profile:?} (--profile)");
        }
        if let Some(key) = env("AWS_ACCESS_KEY_ID") {
            let tail: String = key
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return format!("the environment (AWS_ACCESS_KEY_ID ending in {tail})");
        }
        if let Some(profile) = env("AWS_PROFILE") {
            return format!("the profile {profile:?} (AWS_PROFILE)");
        }
        "the default chain (the default profile, SSO, web identity, container or instance role)"
            .to_owned()
    }
}

/// The shared config and credentials files, where the AWS CLI and SDKs look for profiles.
fn profile_files() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws").join(default))
    };
    vec![
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
}

/// Whether an INI file declares `profile`: `[profile NAME]` (or `[NAME]` for the credentials
/// file and for `default`).
fn declares_profile(file: &Path, profile: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    text.lines().any(|line| {
        let Some(section) = line
            .trim()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
        else {
            return false;
        };
        let section = section.trim();
        section == profile
            || section
                .strip_prefix("profile")
                .is_some_and(|rest| rest.starts_with(char::is_whitespace) && rest.trim() == profile)
    })
}

/// Partition of an ARN such as `arn:aws:sts::123456789012:assumed-role/x` ("aws" if unparsable).
pub fn partition_of(arn: &str) -> String {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned()
}

/// The AgentCore data plane (`bedrock-agentcore`, where clients invoke a runtime), following the
/// AWS SDKs' endpoint conventions: `AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`, else `AWS_ENDPOINT_URL`
/// (both ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the regional endpoint.
pub fn data_plane_endpoint(region: &str) -> String {
    data_plane_endpoint_from(region, &|name| std::env::var(name).ok())
}

/// [`data_plane_endpoint`] with the environment as a function, for tests.
pub fn data_plane_endpoint_from(region: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let configured = |name: &str| {
        env(name)
            .map(|v| v.trim().trim_end_matches('/').to_owned())
            .filter(|v| !v.is_empty())
    };
    (!ignore)
        .then(|| {
            configured("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE")
                .or_else(|| configured("AWS_ENDPOINT_URL"))
        })
        .flatten()
        .unwrap_or_else(|| format!("https://bedrock-agentcore.{region}.amazonaws.com"))
}
