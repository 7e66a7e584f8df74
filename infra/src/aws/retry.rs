//! HTTP 429 is throttling, whatever its body says. The SDK's standard retry mode retries the
//! throttling *codes* each service models and the 5xx statuses, so a 429 without an AWS error
//! code (a proxy's or a load balancer's page in front of an endpoint) ended the call at once.
//! This classifier makes every 429 a throttling error ("Too Many Requests" is what the status
//! means), retried with the same bounded backoff and attempts.

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

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::interceptors::context::{Input, InterceptorContext};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
    use aws_smithy_types::body::SdkBody;

    use super::TooManyRequests;

    fn classify(status: u16) -> RetryAction {
        let mut ctx = InterceptorContext::new(Input::doesnt_matter());
        ctx.set_response(HttpResponse::new(
            status.try_into().unwrap(),
            SdkBody::from("<html>Too Many Requests</html>"),
        ));
        TooManyRequests.classify_retry(&ctx)
    }

    #[test]
    fn a_429_is_throttling_and_other_statuses_are_left_to_the_sdk() {
        assert_eq!(classify(429), RetryAction::throttling_error());
        for status in [200, 400, 403, 500, 503] {
            assert_eq!(classify(status), RetryAction::NoActionIndicated, "{status}");
        }
    }
}
