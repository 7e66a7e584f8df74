//! `infra destroy` of the role: its managed policies detached (the attachments go with the
//! role; the policies stay), then `DeleteRole`. Its inline policies are the role policy kind's,
//! deleted before it.

use super::Role;
use crate::engine::kind::{Access, Grant};
use crate::engine::{
    ApplyContext, Destroying, Error, PlanContext, Planned, Planner, ResourcePlan, doomed,
    not_found_as_none,
};
use crate::stack::Stack;

/// What deleting needs: the role's name.
struct Doomed {
    name: String,
}

pub(super) fn plan_destroy(cx: &PlanContext<'_>, _: &Destroying, planner: &mut Planner) {
    let Some(spec) = cx.stack.one::<Role>() else {
        return;
    };
    let found = cx.live.get::<Role>();
    let protect = spec.protect.then_some("[iam.role]");
    if let Some(role) = doomed(planner, &spec.name, found, protect) {
        planner.add(
            Planned::destroyed(&spec.name, &role.arn).with_payload(Doomed {
                name: role.name.clone(),
            }),
        );
    }
}

pub(super) async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let Doomed { name } = r.payload()?;
    let addr = r.address.as_str();
    let iam = &cx.aws.iam;
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    for policy in attached {
        let policy = policy.map_err(|e| Error::aws(addr, "ListAttachedRolePolicies", e));
        let Some(policy) = not_found_as_none(policy, "NoSuchEntity")? else {
            return Ok(());
        };
        let Some(arn) = policy.policy_arn() else {
            continue;
        };
        let detached = iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| Error::aws(addr, "DetachRolePolicy", e));
        not_found_as_none(detached, "NoSuchEntity")?;
    }
    let deleted = iam
        .delete_role()
        .role_name(name)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "DeleteRole", e));
    not_found_as_none(deleted, "NoSuchEntity")?;
    Ok(())
}

pub(super) fn destroy_permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<Grant> {
    let Some(spec) = stack.one::<Role>() else {
        return Vec::new();
    };
    let role = super::role_arn(vars, spec);
    vec![
        Grant::new(
            Access::Write,
            "Delete",
            &[
                "iam:ListAttachedRolePolicies",
                "iam:DetachRolePolicy",
                "iam:DeleteRole",
            ],
            [role],
        )
        .on_stack_tagged(&stack.name),
    ]
}
