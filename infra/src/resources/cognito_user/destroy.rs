//! `infra destroy` of the declared users in the pool destroy deletes (`AdminDeleteUser`):
//! inside the stack's own pool they are the stack's. Needs no password.

use super::User;
use crate::engine::kind::{Access, Grant};
use crate::engine::{
    ApplyContext, Destroying, Error, PlanContext, Planned, Planner, ResourcePlan, not_found_as_none,
};
use crate::resources::cognito_pool::UserPool;
use crate::stack::Stack;

/// What deleting needs.
struct Doomed {
    pool_id: String,
}

pub(super) fn plan_destroy(cx: &PlanContext<'_>, _: &Destroying, planner: &mut Planner) {
    let Some(pool_id) = cx.id_of::<UserPool>() else {
        return;
    };
    if !planner.deleting::<UserPool>() {
        return;
    }
    for (username, live) in cx.live.get::<User>() {
        if live.is_some() {
            planner.add(
                Planned::destroyed(username, username.clone()).with_payload(Doomed {
                    pool_id: pool_id.clone(),
                }),
            );
        }
    }
}

pub(super) async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let Doomed { pool_id } = r.payload()?;
    let deleted = cx
        .aws
        .cognito
        .admin_delete_user()
        .user_pool_id(pool_id)
        .username(&r.name)
        .send()
        .await
        .map_err(|e| Error::aws(&r.address, "AdminDeleteUser", e));
    // A user already gone, or a pool already gone.
    match not_found_as_none(deleted, "UserNotFoundException") {
        Err(e) if e.code_is("ResourceNotFoundException") => Ok(()),
        other => other.map(|_| ()),
    }
}

pub(super) fn destroy_permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<Grant> {
    if stack.all::<User>().next().is_none() {
        return Vec::new();
    }
    vec![
        Grant::new(
            Access::Write,
            "Delete",
            &["cognito-idp:AdminDeleteUser"],
            [Grant::arn(vars, "cognito-idp", "userpool/*")],
        )
        .on_stack_tagged(&stack.name),
    ]
}
