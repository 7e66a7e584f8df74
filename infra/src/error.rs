//! The one error type of infra: which resource, which operation, AWS's (or the registry's) code,
//! and the message.

use std::fmt;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;

/// The HTTP status and request id of the answer an SDK error came with, if one came.
pub trait AnswerStatus {
    fn answer_status(&self) -> Option<(u16, Option<String>)>;
}

impl<E> AnswerStatus for SdkError<E, HttpResponse> {
    fn answer_status(&self) -> Option<(u16, Option<String>)> {
        let answer = self.raw_response()?;
        let request_id = ["x-amzn-requestid", "x-amz-request-id"]
            .iter()
            .find_map(|name| answer.headers().get(*name))
            .map(str::to_owned);
        Some((answer.status().as_u16(), request_id))
    }
}

/// A failed step: which resource, which operation, and what the service said.
#[derive(Debug, Clone)]
pub struct Error {
    pub resource: String,
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} failed: ", self.resource, self.operation)?;
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An error without a service code.
    pub fn new(resource: &str, operation: &'static str, message: impl Into<String>) -> Self {
        Error {
            resource: resource.to_owned(),
            operation,
            code: None,
            message: message.into(),
        }
    }

    /// An error with a code: AWS's, or a state such as `UPDATE_FAILED` or `Timeout`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// An AWS SDK error: its code and message; an answer without an AWS error code (an HTTP
    /// 500 with an empty body) as its status and request id; the chain of its sources when
    /// no answer came (connection errors, timeouts).
    pub fn aws<E>(resource: &str, operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + AnswerStatus + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = match (&code, err.message(), err.answer_status()) {
            (Some(_), Some(message), _) => message.to_owned(),
            (None, _, Some((status, request_id))) => {
                let request = request_id
                    .map(|id| format!(", request id {id}"))
                    .unwrap_or_default();
                let side = if status >= 500 {
                    "AWS's side failed; apply again later (it resumes), and give the request id \
                     to AWS support if it persists"
                } else {
                    "something between infra and AWS (a proxy?) may have answered instead"
                };
                format!("HTTP {status} with no AWS error code in the answer{request}: {side}")
            }
            _ => error_chain(&err),
        };
        Error {
            resource: resource.to_owned(),
            operation,
            code,
            message,
        }
    }

    /// An error from anything else (registry, JSON), with its whole chain of causes.
    pub fn other(resource: &str, operation: &'static str, err: &anyhow::Error) -> Self {
        Error::new(resource, operation, format!("{err:#}"))
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// An error and its sources, joined by ": ", each message once (the SDK nests many layers that
/// repeat each other). Unlike `DisplayErrorContext`, no `Debug` dump at the end.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
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
    result: Result<T, Error>,
    not_found_code: &str,
) -> Result<Option<T>, Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code_is(not_found_code) => Ok(None),
        Err(e) => Err(e),
    }
}
