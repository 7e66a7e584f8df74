//! From a deployed stack to an answering MCP client: a bearer token for a stack user
//! ([`token`]), the runtime's MCP URL on the AgentCore data plane, an MCP client that lists the
//! tools, calls one, or checks the deployment as a client would ([`mcp`]; what the check proves
//! beyond the round trip: [`check`]), and the configuration other clients need ([`config`]).

pub mod check;
pub mod commands;
pub mod config;
mod diagnose;
pub mod mcp;
pub mod token;

use crate::aws::{Aws, data_plane_endpoint};
use crate::engine::{Error, Prepared, ReadContext, WriteOnly};
use crate::registry::KINDS;
use crate::resources::runtime::section::Authorizer;
use crate::resources::runtime::{Runtime, mcp_url};
use crate::stack::Stack;

/// The deployed runtime as a client sees it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its MCP URL on the data plane.
    pub url: String,
    /// `runtime NAME: STATUS, version N` (and AWS's failure reason), shown with failures.
    pub status: String,
    /// The runtime's id (its log group is named after it).
    pub runtime_id: String,
}

/// The runtime's MCP URL and status, read from live AWS (the runtime only).
pub async fn endpoint(aws: &Aws, stack: &Stack) -> Result<Endpoint, Error> {
    let Some(spec) = stack.one::<Runtime>() else {
        return Err(Error::new(
            "mcp",
            "stack",
            format!("{} declares no [runtime]", stack.path.display()),
        ));
    };
    let prepared = Prepared::default();
    let cx = ReadContext::new(aws, stack, WriteOnly::Skip, &prepared, KINDS);
    let found = cx.get::<Runtime>().await?;
    let Some(runtime) = found.runtime.found() else {
        return Err(Error::new(
            "mcp",
            "read",
            format!(
                "the runtime {:?} does not exist (yet): run `infra apply` first",
                spec.name
            ),
        ));
    };
    let mut status = format!(
        "runtime {}: {}, version {}",
        spec.name, runtime.status, runtime.version
    );
    if let Some(reason) = &runtime.failure_reason {
        status.push_str(&format!(" ({reason})"));
    }
    Ok(Endpoint {
        url: mcp_url(&data_plane_endpoint(&aws.region), &runtime.arn),
        status,
        runtime_id: runtime.id.clone(),
    })
}

/// Whether the stack's runtime takes the stack's Cognito tokens (its JWT authorizer).
pub fn takes_cognito_tokens(stack: &Stack) -> bool {
    stack
        .one::<Runtime>()
        .is_some_and(|r| matches!(r.authorizer, Some(Authorizer::Cognito)))
}
