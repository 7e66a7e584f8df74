//! `infra destroy` of the runtime: `DeleteAgentRuntime` (its endpoints go with it), then wait
//! until `GetAgentRuntime` no longer finds it, so the role and the image it runs are deleted
//! only once nothing runs as them.

use super::*;
use crate::engine::kind::{Access, Grant};
use crate::engine::{Destroying, doomed, not_found_as_none};

const NOT_FOUND: &str = "ResourceNotFoundException";

/// What deleting needs: the runtime's id.
struct Doomed {
    id: String,
}

pub(super) fn plan_destroy(cx: &PlanContext<'_>, _: &Destroying, planner: &mut Planner) {
    let Some(spec) = cx.stack.one::<Runtime>() else {
        return;
    };
    let found = &cx.live.get::<Runtime>().runtime;
    let protect = spec.protect.then_some("[runtime]");
    if let Some(runtime) = doomed(planner, &spec.name, found, protect) {
        planner.add(
            Planned::destroyed(&spec.name, &runtime.arn).with_payload(Doomed {
                id: runtime.id.clone(),
            }),
        );
    }
}

pub(super) async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let Doomed { id } = r.payload()?;
    let addr = r.address.as_str();
    let deleted = cx
        .aws
        .agentcore
        .delete_agent_runtime()
        .agent_runtime_id(id)
        .send()
        .await;
    let deleted = deleted.map_err(|e| Error::aws(addr, "DeleteAgentRuntime", e));
    if not_found_as_none(deleted, NOT_FOUND)?.is_none() {
        return Ok(());
    }
    let started = Instant::now();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let read = cx
            .aws
            .agentcore
            .get_agent_runtime()
            .agent_runtime_id(id)
            .send()
            .await;
        let read = read.map_err(|e| Error::aws(addr, "GetAgentRuntime", e));
        let Some(out) = not_found_as_none(read, NOT_FOUND)? else {
            return Ok(());
        };
        let status = out.status().as_str();
        if status == "DELETE_FAILED" {
            return Err(Error::new(
                addr,
                "DeleteAgentRuntime",
                out.failure_reason()
                    .unwrap_or("AWS gave no failureReason")
                    .to_owned(),
            )
            .with_code(status));
        }
        let waited = started.elapsed();
        if waited >= cx.timeout {
            return Err(Error::new(
                addr,
                "DeleteAgentRuntime",
                format!(
                    "still {status} after {}s (--timeout); run destroy again later to continue",
                    waited.as_secs()
                ),
            )
            .with_code("Timeout"));
        }
        cx.progress.transient(&format!(
            "{addr}: {status}, waiting until it is gone ({}s)",
            waited.as_secs()
        ));
        backoff.sleep().await;
    }
}

/// Deleting reads the runtime (the kind's `Read` grants) and deletes it.
pub(super) fn destroy_permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<Grant> {
    let Some(spec) = stack.one::<Runtime>() else {
        return Vec::new();
    };
    let runtimes = Grant::arn(
        vars,
        "bedrock-agentcore",
        &format!("runtime/{}-*", spec.name),
    );
    vec![
        Grant::new(
            Access::Write,
            "Delete",
            &["bedrock-agentcore:DeleteAgentRuntime"],
            [runtimes],
        )
        .on_stack_tagged(&stack.name),
    ]
}
