//! One `SdkConfig` from the standard AWS chain, the service clients, and error helpers.
//!
//! Credentials, region and endpoint come from aws-config exactly as for the AWS CLI: environment
//! variables, `AWS_PROFILE` and shared config (SSO included), instance and container roles, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` for emulators and private endpoints.

use std::fmt;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_iam::error::ProvideErrorMetadata;

/// How the caller chose to reach AWS: the command-line overrides; everything else is the chain.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
}

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
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5));
        if let Some(profile) = &conn.profile {
            loader = loader.profile_name(profile);
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
            reads: Reads::Concurrent,
            iam: aws_sdk_iam::Client::new(config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            agentcore: aws_sdk_bedrockagentcorecontrol::Client::new(config),
        })
    }

    /// Run independent reads: all at once, or one after another.
    pub async fn all<T, F>(&self, reads: impl IntoIterator<Item = F>) -> Result<Vec<T>, AwsError>
    where
        F: Future<Output = Result<T, AwsError>>,
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
        a: impl Future<Output = Result<A, AwsError>>,
        b: impl Future<Output = Result<B, AwsError>>,
    ) -> Result<(A, B), AwsError> {
        // Boxed: SDK futures are large, and nesting them inline overflows the stack.
        let (a, b) = (Box::pin(a), Box::pin(b));
        match self.reads {
            Reads::Concurrent => futures::future::try_join(a, b).await,
            Reads::Sequential => Ok((a.await?, b.await?)),
        }
    }
}

/// A failed AWS call: which resource, which operation, and what AWS said.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub resource: String,
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} failed: ", self.resource, self.operation)?;
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    pub fn new<E>(resource: &str, operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = match (&code, err.message()) {
            (Some(_), Some(message)) => message.to_owned(),
            _ => error_chain(&err),
        };
        AwsError {
            resource: resource.to_owned(),
            operation,
            code,
            message,
        }
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// An error and its sources, joined by ": ", each message once (the SDK nests many layers that
/// repeat each other). Unlike `DisplayErrorContext`, no `Debug` dump at the end.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `Ok(None)` for the service's "not found" error, so callers never match on error codes twice.
pub fn not_found_as_none<T>(
    result: Result<T, AwsError>,
    not_found_code: &str,
) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code_is(not_found_code) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Partition of an ARN such as `arn:aws:sts::123456789012:assumed-role/x` ("aws" if unparsable).
pub fn partition_of(arn: &str) -> String {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned()
}
