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
    delete_runtime(cx, &r.address, id).await
}

/// `DeleteAgentRuntime`, then wait until `GetAgentRuntime` no longer finds it (AWS deletes in
/// the background and keeps the name taken until then). One already gone is no error.
pub(super) async fn delete_runtime(
    cx: &ApplyContext<'_>,
    addr: &str,
    id: &str,
) -> Result<(), Error> {
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
    wait_until_deleted(cx, addr, id).await
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
