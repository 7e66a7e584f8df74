//! `iam_role_policy`: the role's inline policies. The declared set is the whole set: an inline
//! policy on the stack's role that the stack does not declare is removed.

pub mod section;

use std::collections::BTreeMap;

use serde_json::Value;

use super::iam_role::Role;
use super::iam_shared::{decode, render_document};
use crate::engine::{
    Action, ApplyContext, Changes, Error, Kind, PlanContext, Planned, Planner, ReadContext,
    ResourcePlan, Shown, address,
};

/// The kind.
pub struct RolePolicy;

/// What apply needs: the role, and the document to put (`None`: delete the policy).
struct Step {
    role: String,
    document: Option<Value>,
}

impl Kind for RolePolicy {
    /// The inline policies of the stack's role, by the role's ARN (the role's section: its
    /// name and path).
    fn permissions(
        stack: &crate::stack::Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(role) = stack.one::<Role>() else {
            return Vec::new();
        };
        let role = super::iam_role::role_arn(vars, role);
        vec![
            Grant::new(
                Access::Read,
                "Read",
                &["iam:ListRolePolicies", "iam:GetRolePolicy"],
                [&role],
            ),
            Grant::new(
                Access::Write,
                "Write",
                &["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
                [&role],
            ),
        ]
    }

    /// Every inline policy of the role, in canonical form (the plan shows only those it changes).
    fn fingerprint(cx: &PlanContext<'_>) -> Vec<(String, &'static str, Value)> {
        cx.live
            .get::<RolePolicy>()
            .iter()
            .map(|(name, document)| {
                let document = crate::policy::keys_sorted(document);
                (address(RolePolicy::TYPE, name), "document", document)
            })
            .collect()
    }

    const TYPE: &'static str = "iam_role_policy";
    const DEPENDS_ON: &'static [&'static str] = &[Role::TYPE];
    /// The inline policies of the stack's role, by name, decoded.
    type Live = BTreeMap<String, Value>;
    type Ref = ();

    #[cfg(test)]
    fn converged(stack: &crate::stack::Stack) -> Self::Live {
        use crate::resources::testing;
        testing::policies(stack)
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Self::Live, Error> {
        // A role that is not the stack's (and not being adopted) is not looked into.
        let Some(role) = &cx.reference::<Role>().await? else {
            return Ok(BTreeMap::new());
        };
        let addr = address(Role::TYPE, &role.name);
        let mut names = Vec::new();
        let mut pages = cx
            .aws
            .iam
            .list_role_policies()
            .role_name(&role.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws(&addr, "ListRolePolicies", e))?;
            names.extend(page.policy_names().iter().cloned());
        }
        let documents = cx
            .aws
            .all(names.iter().map(|name| async move {
                let policy = address(RolePolicy::TYPE, name);
                let out = cx
                    .aws
                    .iam
                    .get_role_policy()
                    .role_name(&role.name)
                    .policy_name(name)
                    .send()
                    .await
                    .map_err(|e| Error::aws(&policy, "GetRolePolicy", e))?;
                decode(&policy, "GetRolePolicy", out.policy_document())
            }))
            .await?;
        Ok(names.into_iter().zip(documents).collect())
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        let Some(role) = cx.reference::<Role>() else {
            return;
        };
        let live = cx.live.get::<RolePolicy>();
        let mut declared: Vec<(&String, &String)> = cx
            .stack
            .all::<RolePolicy>()
            .map(|p| (&p.name, &p.document))
            .collect();
        declared.sort();
        for (name, text) in declared {
            let addr = planner.address(name);
            let document = match render_document(text, cx.vars) {
                Ok(doc) => doc,
                Err(message) => {
                    planner.block(&addr, Some("document"), message);
                    continue;
                }
            };
            let before = live.get(name);
            let mut changes = Changes::default();
            changes.document("document", before, &document);
            planner.add(
                Planned::new(name, changes, before.map(|_| name.clone())).with_payload(Step {
                    role: role.name.clone(),
                    document: Some(document),
                }),
            );
        }
        for (name, document) in live {
            if cx.stack.all::<RolePolicy>().any(|p| p.name == *name) {
                continue;
            }
            let mut changes = Changes::default();
            changes.push("document", Shown::Document(document.clone()), Shown::Absent);
            planner.add(
                Planned::new(name, changes, Some(name.clone()))
                    .with_action(Action::Delete)
                    .with_reason(
                        "an inline policy on the stack's role that the stack does not declare",
                    )
                    .with_payload(Step {
                        role: role.name.clone(),
                        document: None,
                    }),
            );
        }
    }

    /// Every inline policy of a role destroy deletes (a role is deleted only without them).
    fn plan_destroy(cx: &PlanContext<'_>, _: &crate::engine::Destroying, planner: &mut Planner) {
        let Some(role) = cx.reference::<Role>() else {
            return;
        };
        if !planner.deleting::<Role>() {
            return;
        }
        for name in cx.live.get::<RolePolicy>().keys() {
            planner.add(Planned::destroyed(name, name.clone()).with_payload(Step {
                role: role.name.clone(),
                document: None,
            }));
        }
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        let step: &Step = r.payload()?;
        let deleted = cx
            .aws
            .iam
            .delete_role_policy()
            .role_name(&step.role)
            .policy_name(&r.name)
            .send()
            .await
            .map_err(|e| Error::aws(&r.address, "DeleteRolePolicy", e));
        crate::engine::not_found_as_none(deleted, "NoSuchEntity")?;
        Ok(())
    }

    /// Listing and deleting the inline policies of the stack's role (only while it is tagged
    /// for the stack).
    fn destroy_permissions(
        stack: &crate::stack::Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(role) = stack.one::<Role>() else {
            return Vec::new();
        };
        let role = super::iam_role::role_arn(vars, role);
        vec![
            Grant::new(Access::Write, "Delete", &["iam:DeleteRolePolicy"], [role])
                .on_stack_tagged(&stack.name),
        ]
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        match &step.document {
            None => {
                cx.aws
                    .iam
                    .delete_role_policy()
                    .role_name(&step.role)
                    .policy_name(&r.name)
                    .send()
                    .await
                    .map_err(|e| Error::aws(&r.address, "DeleteRolePolicy", e))?;
            }
            Some(document) => {
                cx.aws
                    .iam
                    .put_role_policy()
                    .role_name(&step.role)
                    .policy_name(&r.name)
                    .policy_document(document.to_string())
                    .send()
                    .await
                    .map_err(|e| Error::aws(&r.address, "PutRolePolicy", e))?;
            }
        }
        Ok(r.name.clone())
    }
}

#[cfg(test)]
mod tests;
