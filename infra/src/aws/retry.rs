//! HTTP 429 is throttling whatever its body says. The SDK's standard retry mode retries the
//! throttling *codes* each service models and the 5xx statuses, so a 429 without an AWS error
//! code (a proxy's or a load balancer's page in front of an endpoint) would end the call at
//! once; this classifier makes it a throttling error, retried with the same bounded backoff.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

#[derive(Debug, Default)]
pub struct TooManyRequests;

impl ClassifyRetry for TooManyRequests {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response().map(|r| r.status().as_u16()) {
            Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "infra::TooManyRequests"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::http_status_code_classifier()
    }
}
