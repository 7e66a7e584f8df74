//! Test support for the kinds' apply tests: a kind's `apply`, in process, against SDK clients
//! that answer from [`aws_smithy_mocks`] rules instead of AWS.
//!
//! An apply test reads as "given this stack and this live state, apply makes these calls with
//! these inputs, and then ...":
//!
//! ```ignore
//! let create = mock!(aws_sdk_iam::Client::create_role)
//!     .match_requests(|req| req.role_name() == Some("role"))
//!     .then_output(|| CreateRoleOutput::builder().role(new_role()).build());
//! let applied = apply_mocked::<Role>(&stack, &LiveBuilder::new().build(), ROLE, &[&create]).await;
//! assert_eq!(applied.id(), "AROANEW");
//! assert_eq!(create.num_calls(), 1);
//! ```
//!
//! Every client gets every rule (a rule only matches its own operation's requests). A call that
//! no rule matches fails the test, naming the request: a test lists exactly the calls apply may
//! make, and `match_requests` says with which inputs. Retries are off, so each call takes one
//! answer. The clients are the production ones ([`Aws::from_config`]: the call log, the retry
//! classifier) with the mock interceptor added; `mock_client!` would replace that setup with
//! its own test defaults (and needs every SDK crate's `test-util` feature).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client};
pub use aws_smithy_mocks::{Rule, RuleBuilder, mock};
use aws_smithy_runtime_api::client::result::CreateUnhandledError;
use aws_smithy_types::error::ErrorMetadata;

use super::testing::{REGION, plan_of, resource};
use crate::aws::Aws;
use crate::engine::{ApplyContext, Error, Kind, Live, Progress};
use crate::stack::Stack;

/// How long a runtime's apply may wait for READY (the mocks answer at once).
const TIMEOUT: Duration = Duration::from_secs(30);

/// `client`, answering from `rules` only.
macro_rules! mocked {
    ($sdk:ident, $client:expr, $rules:expr) => {
        $sdk::Client::from_conf(
            $client
                .config()
                .to_builder()
                .interceptor(interceptor($rules))
                .build(),
        )
    };
}

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    let each = rules.iter();
    each.fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |interceptor, rule| interceptor.with_rule(rule),
    )
}

/// The clients of every service, each answering from `rules` only, in [`REGION`].
pub fn aws(rules: &[&Rule]) -> Aws {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDMOCKED",
            "mocked",
            None,
            None,
            "mocked",
        )))
        .retry_config(RetryConfig::disabled())
        .http_client(create_mock_http_client())
        .build();
    let aws = Aws::from_config(&config).expect("a region the SDK knows");
    Aws {
        iam: mocked!(aws_sdk_iam, aws.iam, rules),
        cognito: mocked!(aws_sdk_cognitoidentityprovider, aws.cognito, rules),
        sts: mocked!(aws_sdk_sts, aws.sts, rules),
        ecr: mocked!(aws_sdk_ecr, aws.ecr, rules),
        agentcore: mocked!(aws_sdk_bedrockagentcorecontrol, aws.agentcore, rules),
        secrets: mocked!(aws_sdk_secretsmanager, aws.secrets, rules),
        logs: mocked!(aws_sdk_cloudwatchlogs, aws.logs, rules),
        ..aws
    }
}

/// An error as the SDK reads it from AWS's answer: AWS's code and message. Any operation's
/// error type: `.then_error(|| aws_error("AccessDenied", "..."))`.
pub fn aws_error<E: CreateUnhandledError>(code: &str, message: &str) -> E {
    let meta = ErrorMetadata::builder().code(code).message(message).build();
    E::create_unhandled_error(Box::new(meta.clone()), Some(meta))
}

/// Whether `tags` are exactly the stack's (`[stack] name = "demo"`), as every create sends them.
pub fn stack_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let tags: BTreeMap<&str, &str> = tags.into_iter().collect();
    tags == BTreeMap::from([("infra:managed-by", "infra"), ("infra:stack", "demo")])
}

/// A JSON document a request carries (a policy, a lifecycle policy), parsed; `None` when it is
/// not JSON.
pub fn json_of(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text).ok()
}

/// Records the progress lines apply reports.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Progress for Lines {
    fn line(&self, text: &str) {
        self.0.lock().expect("lines lock").push(text.to_owned());
    }
}

/// What applying one resource did.
#[derive(Debug)]
pub struct Applied {
    /// What the kind's apply returned: the resource's id, or the error.
    pub result: Result<String, Error>,
    /// The progress lines it reported, in order.
    pub lines: Vec<String>,
}

impl Applied {
    /// The id apply returned; panics with the error when it failed.
    #[track_caller]
    pub fn id(&self) -> &str {
        match &self.result {
            Ok(id) => id,
            Err(e) => panic!("apply failed: {e}"),
        }
    }

    /// The error apply returned; panics when it succeeded.
    #[track_caller]
    pub fn error(&self) -> &Error {
        match &self.result {
            Ok(id) => panic!("apply succeeded [id={id}]; lines: {:?}", self.lines),
            Err(e) => e,
        }
    }

    /// Whether a progress line contains `text`.
    pub fn said(&self, text: &str) -> bool {
        self.lines.iter().any(|line| line.contains(text))
    }
}

/// Asserts that apply failed as the user reads it: `ADDRESS: OPERATION failed: CODE: MESSAGE`
/// (the resource, the AWS operation, and AWS's code and message).
#[track_caller]
pub fn assert_failed(applied: &Applied, address: &str, operation: &str, code: &str, message: &str) {
    let e = applied.error();
    assert_eq!(
        (e.resource.as_str(), e.operation, e.code.as_deref()),
        (address, operation, Some(code))
    );
    assert_eq!(
        e.to_string(),
        format!("{address}: {operation} failed: {code}: {message}")
    );
}

/// Plan `stack` against `live` (as `infra plan` does), then apply the resource at `address` with
/// its kind `K` against clients that answer from `rules` only. The ids known to apply are the
/// plan's, as in `infra apply`.
pub async fn apply_mocked<K: Kind>(
    stack: &Stack,
    live: &Live,
    address: &str,
    rules: &[&Rule],
) -> Applied {
    let plan = plan_of(stack, live);
    let r = resource(&plan, address);
    assert_eq!(r.type_name, K::TYPE, "{address} is not a {}", K::TYPE);
    let aws = aws(rules);
    let lines = Lines::default();
    let result = {
        let cx = ApplyContext::new(&aws, stack, live, &lines, TIMEOUT, &plan);
        K::apply(&cx, r).await
    };
    Applied {
        result,
        lines: lines.0.into_inner().expect("lines lock"),
    }
}
