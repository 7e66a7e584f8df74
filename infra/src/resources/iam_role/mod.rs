//! `iam_role`: the runtime's execution role, found by name (unique in an account).

mod destroy;
pub mod section;

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::iam_shared::{decode, render_document};
use crate::aws::Aws;
use crate::engine::lookup::replan;
use crate::engine::{
    ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned, Planner,
    ReadContext, ResourcePlan, address, claim, not_found_as_none, owned_by, tag_changes, together,
};
use crate::stack::Stack;
use section::RoleSpec;

#[derive(Debug, Clone)]
pub struct LiveRole {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub owned: bool,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
    pub trust_policy: Value,
    pub tags: BTreeMap<String, String>,
}

impl Owned for LiveRole {
    fn identifier(&self) -> &str {
        &self.arn
    }
    fn owned(&self) -> bool {
        self.owned
    }
}

/// The kind.
pub struct Role;

/// What apply needs.
struct Step {
    spec: RoleSpec,
    trust: Value,
    live: Option<LiveRole>,
}

/// What the kinds that depend on the role know of it ([`Kind::Ref`]).
#[derive(Debug, Clone)]
pub struct RoleRef {
    pub name: String,
    pub arn: String,
}

impl Kind for Role {
    /// The role by its ARN (known from its name and path). A create with tags needs
    /// `iam:TagRole` too. The runtime's create and update pass the role to AgentCore:
    /// `iam:PassRole` on it, to that service only.
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(spec) = stack.one::<Role>() else {
            return Vec::new();
        };
        let role = role_arn(vars, spec);
        vec![
            Grant::new(Access::Read, "Read", &["iam:GetRole"], [&role]),
            Grant::new(
                Access::Write,
                "Write",
                &[
                    "iam:CreateRole",
                    "iam:TagRole",
                    "iam:UpdateRole",
                    "iam:UpdateAssumeRolePolicy",
                ],
                [&role],
            ),
            Grant::new(Access::Write, "Pass", &["iam:PassRole"], [&role]).when(
                "StringEquals",
                "iam:PassedToService",
                "bedrock-agentcore.amazonaws.com",
            ),
        ]
    }

    /// The role's ARN and trust policy (canonical).
    fn fingerprint(cx: &PlanContext<'_>) -> Vec<(String, &'static str, Value)> {
        let Lookup::Found(role) = cx.live.get::<Role>() else {
            return Vec::new();
        };
        let addr = address(Role::TYPE, &role.name);
        vec![
            (addr.clone(), "arn", role.arn.clone().into()),
            (
                addr,
                "trust_policy",
                crate::policy::keys_sorted(&role.trust_policy),
            ),
        ]
    }

    const TYPE: &'static str = "iam_role";
    type Live = Lookup<LiveRole>;
    type Ref = RoleRef;

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        use crate::resources::testing;
        testing::role(stack).map_or(Lookup::Missing, Lookup::Found)
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Lookup<LiveRole>, Error> {
        match cx.stack.one::<Role>() {
            Some(spec) => read(cx.aws, spec, &cx.stack.name).await,
            None => Ok(Lookup::Missing),
        }
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let Some(spec) = cx.stack.one::<Role>() {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        match &step.live {
            None => create(cx, &r.address, step).await,
            Some(live) => update(cx, r, step, live).await,
        }
    }

    fn plan_destroy(cx: &PlanContext<'_>, o: &crate::engine::Destroying, planner: &mut Planner) {
        destroy::plan_destroy(cx, o, planner);
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        destroy::delete(cx, r).await
    }

    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        destroy::destroy_permissions(stack, vars)
    }

    /// The role's ARN, when the stack may use the role (its own, or adopted).
    fn id(stack: &Stack, live: &Lookup<LiveRole>) -> Option<String> {
        managed(stack, live).map(|r| r.arn.clone())
    }

    /// The role's name and ARN, when the stack may look into it.
    fn reference(stack: &Stack, live: &Lookup<LiveRole>) -> Option<RoleRef> {
        managed(stack, live).map(|r| RoleRef {
            name: r.name.clone(),
            arn: r.arn.clone(),
        })
    }

    /// The declared role's name and ARN, known from its name before it exists.
    fn planned_reference(cx: &PlanContext<'_>) -> Option<RoleRef> {
        let role = cx.stack.one::<Role>()?;
        let vars = cx.vars;
        Some(RoleRef {
            name: role.name.clone(),
            arn: format!(
                "arn:{}:iam::{}:role{}{}",
                vars.partition, vars.account_id, role.path, role.name
            ),
        })
    }

    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        vec![(
            "role_arn",
            cx.live.get::<Role>().found().map(|r| r.arn.clone()),
        )]
    }
}

/// The declared role's ARN, as grants name it (its path and name).
pub fn role_arn(vars: &crate::policy::Vars, spec: &RoleSpec) -> String {
    crate::engine::kind::Grant::global_arn(vars, "iam", &format!("role{}{}", spec.path, spec.name))
}

async fn read(aws: &Aws, spec: &RoleSpec, stack: &str) -> Result<Lookup<LiveRole>, Error> {
    let addr = address(Role::TYPE, &spec.name);
    let result = aws
        .iam
        .get_role()
        .role_name(&spec.name)
        .send()
        .await
        .map_err(|e| Error::aws(&addr, "GetRole", e));
    let Some(out) = not_found_as_none(result, "NoSuchEntity")? else {
        return Ok(Lookup::Missing);
    };
    let Some(role) = out.role() else {
        return Ok(Lookup::Missing);
    };
    let tags: BTreeMap<String, String> = role
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    let trust_policy = decode(
        &addr,
        "GetRole",
        role.assume_role_policy_document().unwrap_or("{}"),
    )?;

    Ok(Lookup::Found(LiveRole {
        name: role.role_name().to_owned(),
        id: role.role_id().to_owned(),
        arn: role.arn().to_owned(),
        owned: owned_by(&tags, stack),
        path: role.path().to_owned(),
        description: role
            .description()
            .map(str::to_owned)
            .filter(|d| !d.is_empty()),
        max_session_duration: role.max_session_duration().unwrap_or(3600),
        trust_policy,
        tags,
    }))
}

/// The live role when this stack may look into it and change it (owned, or adopted).
fn managed<'a>(stack: &Stack, lookup: &'a Lookup<LiveRole>) -> Option<&'a LiveRole> {
    let spec = stack.one::<Role>()?;
    lookup.found().filter(|r| r.owned || spec.adopt)
}

const NOUN: Noun = Noun::tagged("an IAM role", "IAM roles");

fn plan(cx: &PlanContext, spec: &RoleSpec, planner: &mut Planner) {
    let addr = planner.address(&spec.name);
    let lookup = cx.live.get::<Role>();
    let Some(claim) = claim(
        planner,
        &addr,
        &spec.name,
        lookup,
        NOUN,
        spec.adopt,
        &cx.stack.name,
    ) else {
        return;
    };
    let live = claim.live;
    if let Some(role) = live
        && role.path != spec.path
    {
        planner.block(
            &addr,
            Some("path"),
            format!(
                "is {:?} in AWS and {:?} in the stack; IAM cannot move a role to another path. \
                 Keep the live path, or declare a role under another name",
                role.path, spec.path
            ),
        );
    }
    let trust = match render_document(&spec.trust_policy, cx.vars) {
        Ok(doc) => doc,
        Err(message) => {
            planner.block(&addr, Some("trust_policy"), message);
            return;
        }
    };

    let mut changes = Changes::default();
    if live.is_none() {
        changes.value("path", None, &spec.path);
    }
    changes.document("trust_policy", live.map(|r| &r.trust_policy), &trust);
    changes.value(
        "description",
        live.map(|r| r.description.clone()),
        spec.description.clone(),
    );
    changes.value(
        "max_session_duration",
        live.map(|r| r.max_session_duration),
        spec.max_session_duration,
    );
    tag_changes(&mut changes, live.map(|role| &role.tags), &cx.stack.tags());
    let planned = Planned::new(&spec.name, changes, live.map(|r| r.id.clone()));
    let reason = claim.reason(planned.action());
    planner.add(planned.with_reason(reason).with_payload(Step {
        spec: spec.clone(),
        trust,
        live: live.cloned(),
    }));
}

fn tags(stack: &Stack) -> Vec<Tag> {
    stack
        .tags()
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect()
}

/// Returns the new role's id. Role names are unique in an account: when the role exists after
/// all (another apply created it meanwhile, or a retried call whose answer was lost did), it is
/// read and, when it is this stack's, updated to match the stack.
async fn create(cx: &ApplyContext<'_>, addr: &str, step: &Step) -> Result<String, Error> {
    let spec = &step.spec;
    let result = cx
        .aws
        .iam
        .create_role()
        .role_name(&spec.name)
        .path(&spec.path)
        .assume_role_policy_document(step.trust.to_string())
        .set_description(spec.description.clone())
        .max_session_duration(spec.max_session_duration)
        .set_tags(Some(tags(cx.stack)))
        .send()
        .await
        .map_err(|e| Error::aws(addr, "CreateRole", e));
    let out = match result {
        Err(e) if e.code_is("EntityAlreadyExists") => {
            cx.found_on_create(addr, "continuing with it");
            let found = read(cx.aws, spec, &cx.stack.name).await?;
            if matches!(found, Lookup::Missing) {
                return Err(e);
            }
            let r = replan::<Role>(cx, addr, "CreateRole", found)?;
            let step: &Step = r.payload()?;
            let live = step.live.as_ref().ok_or(e)?;
            return update(cx, &r, step, live).await;
        }
        other => other?,
    };
    out.role()
        .map(|role| role.role_id().to_owned())
        .ok_or_else(|| Error::new(addr, "CreateRole", "AWS returned no role"))
}

/// Only the calls for the fields that differ, at once (they are independent).
async fn update(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
    live: &LiveRole,
) -> Result<String, Error> {
    let (addr, spec) = (&r.address, &step.spec);
    together(vec![
        Box::pin(async {
            if r.changes("trust_policy") {
                cx.aws
                    .iam
                    .update_assume_role_policy()
                    .role_name(&spec.name)
                    .policy_document(step.trust.to_string())
                    .send()
                    .await
                    .map_err(|e| Error::aws(addr, "UpdateAssumeRolePolicy", e))?;
            }
            Ok(())
        }),
        Box::pin(async {
            if r.changes("description") || r.changes("max_session_duration") {
                cx.aws
                    .iam
                    .update_role()
                    .role_name(&spec.name)
                    .description(spec.description.clone().unwrap_or_default())
                    .max_session_duration(spec.max_session_duration)
                    .send()
                    .await
                    .map_err(|e| Error::aws(addr, "UpdateRole", e))?;
            }
            Ok(())
        }),
        Box::pin(async {
            if r.changes("tags") {
                cx.aws
                    .iam
                    .tag_role()
                    .role_name(&spec.name)
                    .set_tags(Some(tags(cx.stack)))
                    .send()
                    .await
                    .map_err(|e| Error::aws(addr, "TagRole", e))?;
            }
            Ok(())
        }),
    ])
    .await?;
    Ok(live.id.clone())
}

#[cfg(test)]
mod tests;
