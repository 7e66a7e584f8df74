//! One `SdkConfig` from the standard AWS chain, the service clients, and error helpers.
//!
//! Credentials, region and endpoint come from aws-config exactly as for the AWS CLI: environment
//! variables, `AWS_PROFILE` and shared config (SSO included), instance and container roles, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` for emulators and private endpoints.

use aws_config::BehaviorVersion;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::engine::Error;

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
    /// The configuration the clients were made from, for kinds whose service has no client
    /// here (they make their own: `aws_sdk_x::Client::new(&aws.config)`).
    pub config: aws_config::SdkConfig,
    pub reads: Reads,
    pub iam: aws_sdk_iam::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub sts: aws_sdk_sts::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub agentcore: aws_sdk_bedrockagentcorecontrol::Client,
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
        Aws::from_config(&config)
    }

    /// Clients for an already loaded configuration, which must name a region.
    pub fn from_config(config: &aws_config::SdkConfig) -> anyhow::Result<Aws> {
        let Some(region) = config.region().map(|r| r.as_ref().to_owned()) else {
            anyhow::bail!(
                "no AWS region: pass --region, set `region` in [stack], or set AWS_REGION / a profile region"
            );
        };
        Ok(Aws {
            region,
            config: config.clone(),
            reads: Reads::Concurrent,
            iam: aws_sdk_iam::Client::new(config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            agentcore: aws_sdk_bedrockagentcorecontrol::Client::new(config),
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
