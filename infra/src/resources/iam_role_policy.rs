//! `iam_role_policy`: the role's inline policies. The declared set is the whole set: an inline
//! policy on the stack's role that the stack does not declare is removed.

use super::cognito_pool::default_reason;
use super::iam_role::{self, managed, render_document};
use crate::apply::ApplyContext;
use crate::aws::AwsError;
use crate::plan::{Action, Changes, Kind, PlanContext, Planner, ResourcePlan, Shown};

pub fn address(policy_name: &str) -> String {
    format!("iam_role_policy.{policy_name}")
}

pub fn plan(cx: &PlanContext, planner: &mut Planner) {
    let Some(spec) = &cx.stack.role else { return };
    let role_addr = iam_role::address(spec);
    if planner.is_blocked(&role_addr) {
        return; // a foreign or ambiguous role: its policies are not ours to plan
    }
    let live_role = managed(cx);
    for (name, text) in &spec.policies {
        let addr = address(name);
        let document = match render_document(text, cx.vars) {
            Ok(doc) => doc,
            Err(message) => {
                planner.block(&addr, Some("document"), message);
                continue;
            }
        };
        let live = live_role.and_then(|r| r.policies.get(name));
        let mut changes = Changes::default();
        changes.document("document", live, &document);
        let action = changes.action(live.is_some());
        planner.resources.push(resource(
            addr,
            name,
            action,
            changes,
            &role_addr,
            live.is_some(),
        ));
    }
    for (name, document) in live_role.map(|r| &r.policies).into_iter().flatten() {
        if spec.policies.contains_key(name) {
            continue;
        }
        let mut changes = Changes::default();
        changes.push("document", Shown::Document(document.clone()), Shown::Absent);
        let mut r = resource(
            address(name),
            name,
            Action::Delete,
            changes,
            &role_addr,
            true,
        );
        r.reason = "an inline policy on the stack's role that the stack does not declare".into();
        planner.resources.push(r);
    }
}

fn resource(
    address: String,
    name: &str,
    action: Action,
    changes: Changes,
    role: &str,
    exists: bool,
) -> ResourcePlan {
    ResourcePlan {
        address,
        name: name.to_owned(),
        kind: Kind::RolePolicy(name.to_owned()),
        action,
        id: exists.then(|| name.to_owned()),
        reason: default_reason(action),
        changes: changes.into_vec(),
        notes: Vec::new(),
        depends_on: vec![role.to_owned()],
    }
}

pub async fn apply(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    name: &str,
) -> Result<String, AwsError> {
    let spec = cx
        .stack
        .role
        .as_ref()
        .expect("planned policies belong to a declared role");
    if r.action == Action::Delete {
        cx.aws
            .iam
            .delete_role_policy()
            .role_name(&spec.name)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| AwsError::new(&r.address, "DeleteRolePolicy", e))?;
        return Ok(name.to_owned());
    }
    let text = &spec.policies[name];
    let document = render_document(text, &cx.vars).expect("plan checked the document");
    cx.aws
        .iam
        .put_role_policy()
        .role_name(&spec.name)
        .policy_name(name)
        .policy_document(document.to_string())
        .send()
        .await
        .map_err(|e| AwsError::new(&r.address, "PutRolePolicy", e))?;
    Ok(name.to_owned())
}
