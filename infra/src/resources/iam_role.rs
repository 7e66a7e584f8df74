//! `iam_role`: the runtime's execution role, found by name (unique in an account).

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::cognito_pool::default_reason;
use super::iam_role_policy;
use super::{Lookup, claim, owned_by, tag_changes};
use crate::apply::ApplyContext;
use crate::aws::{Aws, AwsError, not_found_as_none};
use crate::plan::{Action, Changes, Kind, PlanContext, Planner, ResourcePlan};
use crate::policy;
use crate::stack::RoleSpec;

#[derive(Debug, Clone)]
pub struct LiveRole {
    pub id: String,
    pub arn: String,
    pub owned: bool,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
    pub trust_policy: Value,
    pub tags: BTreeMap<String, String>,
    /// Inline policies by name, decoded.
    pub policies: BTreeMap<String, Value>,
}

pub fn address(spec: &RoleSpec) -> String {
    format!("iam_role.{}", spec.name)
}

pub async fn read(aws: &Aws, spec: &RoleSpec, stack: &str) -> Result<Lookup<LiveRole>, AwsError> {
    let addr = address(spec);
    let result = aws
        .iam
        .get_role()
        .role_name(&spec.name)
        .send()
        .await
        .map_err(|e| AwsError::new(&addr, "GetRole", e));
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

    let mut names = Vec::new();
    let mut pages = aws
        .iam
        .list_role_policies()
        .role_name(&spec.name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(&addr, "ListRolePolicies", e))?;
        names.extend(page.policy_names().iter().cloned());
    }
    let documents = aws
        .all(names.iter().map(|name| {
            let addr = &addr;
            async move {
                let out = aws
                    .iam
                    .get_role_policy()
                    .role_name(&spec.name)
                    .policy_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(addr, "GetRolePolicy", e))?;
                decode(
                    &iam_role_policy::address(name),
                    "GetRolePolicy",
                    out.policy_document(),
                )
            }
        }))
        .await?;

    Ok(Lookup::Found(LiveRole {
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
        policies: names.into_iter().zip(documents).collect(),
    }))
}

fn decode(addr: &str, operation: &'static str, document: &str) -> Result<Value, AwsError> {
    policy::decode(document).map_err(|e| AwsError {
        resource: addr.to_owned(),
        operation,
        code: None,
        message: format!("AWS returned a policy document that is not JSON: {e}"),
    })
}

/// The live role when this stack may change it (owned, or adopted).
pub fn managed<'a>(cx: &PlanContext<'a>) -> Option<&'a LiveRole> {
    let spec = cx.stack.role.as_ref()?;
    cx.live.role.found().filter(|r| r.owned || spec.adopt)
}

/// Render a declared document with the stack's placeholders and parse it.
pub fn render_document(text: &str, vars: &policy::Vars) -> Result<Value, String> {
    serde_json::from_str(&policy::render(text, vars))
        .map_err(|e| format!("not valid JSON after substitution: {e}"))
}

pub fn plan(cx: &PlanContext, planner: &mut Planner) {
    let Some(spec) = &cx.stack.role else { return };
    let addr = address(spec);
    let Some(live) = claim(
        planner,
        &addr,
        &cx.live.role,
        "an IAM role",
        spec.adopt,
        &cx.stack.name,
        |r| (r.arn.as_str(), r.owned),
    ) else {
        return;
    };
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
    let desired_tags = cx.stack.tags();
    tag_changes(&mut changes, live.map(|role| &role.tags), &desired_tags);
    let action = changes.action(live.is_some());
    let reason = match live {
        Some(role) if !role.owned && action == Action::Update => {
            "adopting: tags it for this stack".into()
        }
        _ => default_reason(action),
    };
    planner.resources.push(ResourcePlan {
        address: addr,
        name: spec.name.clone(),
        kind: Kind::Role,
        action,
        id: live.map(|r| r.id.clone()),
        reason,
        changes: changes.into_vec(),
        notes: Vec::new(),
        depends_on: Vec::new(),
    });
}

pub async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, AwsError> {
    let spec = cx.stack.role.as_ref().expect("planned roles are declared");
    let addr = &r.address;
    let trust =
        render_document(&spec.trust_policy, &cx.vars).expect("plan checked the trust policy");
    let tags: Vec<Tag> = cx
        .stack
        .tags()
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect();
    let Some(live) = cx.live.role.found() else {
        let out = cx
            .aws
            .iam
            .create_role()
            .role_name(&spec.name)
            .path(&spec.path)
            .assume_role_policy_document(trust.to_string())
            .set_description(spec.description.clone())
            .max_session_duration(spec.max_session_duration)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::new(addr, "CreateRole", e))?;
        return Ok(out
            .role()
            .map(|role| role.role_id().to_owned())
            .unwrap_or_default());
    };
    let changed = |field: &str| r.changes.iter().any(|c| c.field == field);
    if changed("trust_policy") {
        cx.aws
            .iam
            .update_assume_role_policy()
            .role_name(&spec.name)
            .policy_document(trust.to_string())
            .send()
            .await
            .map_err(|e| AwsError::new(addr, "UpdateAssumeRolePolicy", e))?;
    }
    if changed("description") || changed("max_session_duration") {
        cx.aws
            .iam
            .update_role()
            .role_name(&spec.name)
            .description(spec.description.clone().unwrap_or_default())
            .max_session_duration(spec.max_session_duration)
            .send()
            .await
            .map_err(|e| AwsError::new(addr, "UpdateRole", e))?;
    }
    if changed("tags") {
        cx.aws
            .iam
            .tag_role()
            .role_name(&spec.name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::new(addr, "TagRole", e))?;
    }
    Ok(live.id.clone())
}
