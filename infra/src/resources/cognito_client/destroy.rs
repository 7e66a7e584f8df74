//! `infra destroy` of the app client (and any same-named duplicates) in the pool destroy
//! deletes: a client has no tags, so inside the stack's own pool it is the stack's. In a pool
//! destroy keeps (not the stack's), nothing is touched.

use super::{Client, delete};
use crate::engine::kind::{Access, Grant};
use crate::engine::{ApplyContext, Destroying, Error, PlanContext, Planned, Planner, ResourcePlan};
use crate::resources::cognito_pool::UserPool;
use crate::stack::Stack;

/// What deleting needs.
struct Doomed {
    pool_id: String,
    id: String,
}

pub(super) fn plan_destroy(cx: &PlanContext<'_>, _: &Destroying, planner: &mut Planner) {
    let (Some(spec), Some(pool_id)) = (cx.stack.one::<Client>(), cx.id_of::<UserPool>()) else {
        return;
    };
    if !planner.deleting::<UserPool>() {
        return;
    }
    let Some(client) = cx.live.get::<Client>().found() else {
        return;
    };
    let doomed = |id: &str| Doomed {
        pool_id: pool_id.clone(),
        id: id.to_owned(),
    };
    planner.add(Planned::destroyed(&spec.name, &client.id).with_payload(doomed(&client.id)));
    for d in &client.duplicates {
        planner.add(
            Planned::destroyed(format!("{}[{}]", spec.name, d.id), &d.id)
                .with_reason("a same-named duplicate in the stack's pool")
                .with_payload(doomed(&d.id)),
        );
    }
}

pub(super) async fn delete_doomed(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let Doomed { pool_id, id } = r.payload()?;
    delete(cx, &r.address, pool_id, id).await
}

pub(super) fn destroy_permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<Grant> {
    if stack.one::<Client>().is_none() {
        return Vec::new();
    }
    vec![
        Grant::new(
            Access::Write,
            "Delete",
            &["cognito-idp:DeleteUserPoolClient"],
            [Grant::arn(vars, "cognito-idp", "userpool/*")],
        )
        .on_stack_tagged(&stack.name),
    ]
}
