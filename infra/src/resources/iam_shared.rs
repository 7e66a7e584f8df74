//! What the IAM kinds share: policy documents as IAM returns them and as the stack declares them.

use serde_json::Value;

use crate::engine::Error;
use crate::policy;

/// A policy document as IAM returns it (URL-encoded JSON).
pub fn decode(addr: &str, operation: &'static str, document: &str) -> Result<Value, Error> {
    policy::decode(document).map_err(|e| {
        Error::new(
            addr,
            operation,
            format!("AWS returned a policy document that is not JSON: {e}"),
        )
    })
}

/// Render a declared document with the stack's placeholders and parse it.
pub fn render_document(text: &str, vars: &policy::Vars) -> Result<Value, String> {
    serde_json::from_str(&policy::render(text, vars))
        .map_err(|e| format!("not valid JSON after substitution: {e}"))
}
