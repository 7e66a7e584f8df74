//! Execute a plan: level by level in dependency order, concurrently inside a level; each
//! resource is handed to its kind in the registry.
//!
//! A failure lets the other calls of its level finish, stops before the next level, and names
//! the resource, the operation and AWS's message. Every step is idempotent against live
//! state, so a re-run converges from wherever a failure left things.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::aws::Aws;
use crate::engine::{Action, ApplyContext, Error, Live, Plan, Progress, ResourcePlan};
use crate::registry::KINDS;
use crate::stack::Stack;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
}

/// The dependency level of each resource: 0 for none, else one more than its deepest dependency.
pub fn levels(plan: &Plan) -> Vec<Vec<&ResourcePlan>> {
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    // Resources are planned after their dependencies, so one pass in plan order suffices.
    for r in &plan.resources {
        let l = r
            .depends_on
            .iter()
            .filter_map(|d| level.get(d.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(&r.address, l);
    }
    let depth = level.values().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); depth];
    for r in plan.changed() {
        out[level[r.address.as_str()]].push(r);
    }
    out.retain(|l| !l.is_empty());
    out
}

pub async fn apply(
    aws: &Aws,
    stack: &Stack,
    live: &Live,
    plan: &Plan,
    progress: &dyn Progress,
    timeout: Duration,
) -> Result<Applied, Vec<Error>> {
    let cx = ApplyContext::new(aws, stack, live, progress, timeout, plan);
    let mut applied = Applied::default();
    for level in levels(plan) {
        let results = join_all(level.iter().map(|r| run(&cx, r))).await;
        let mut errors = Vec::new();
        for (r, result) in level.iter().zip(results) {
            match result {
                Ok(id) => {
                    cx.set_id(&r.address, id);
                    match r.action {
                        Action::Create => applied.created += 1,
                        Action::Update => applied.updated += 1,
                        Action::Delete => applied.deleted += 1,
                        Action::NoOp => {}
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    Ok(applied)
}

async fn run(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
    let kind = kind_of(r)?;
    reported(cx, r, kind.apply(cx, r)).await
}

/// The registered kind of a planned resource.
pub(crate) fn kind_of(r: &ResourcePlan) -> Result<&'static dyn crate::engine::DynKind, Error> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.type_name() == r.type_name)
        .ok_or_else(|| {
            Error::new(
                &r.address,
                "apply",
                format!("no resource kind is registered as {:?}", r.type_name),
            )
        })
}

/// Run one resource's step (`work`: the kind's apply or delete, which returns its id), with
/// its start and end reported to the progress.
pub(crate) async fn reported(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    work: impl std::future::Future<Output = Result<String, Error>>,
) -> Result<String, Error> {
    cx.progress.resource_started(&r.address, r.action);
    let started = Instant::now();
    let result = work.await;
    match &result {
        Ok(id) => cx
            .progress
            .resource_done(&r.address, r.action, id, started.elapsed()),
        Err(e) => cx
            .progress
            .resource_failed(&r.address, r.action, e, started.elapsed()),
    }
    result
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::levels;
    use crate::engine::Live;
    use crate::registry::KINDS;

    #[test]
    fn from_nothing_the_repositorys_stack_is_applied_in_dependency_order() {
        let text = include_str!("../../stack.toml");
        let stack = crate::registry::parse_stack(Path::new("stack.toml"), text, &|_| {
            Some("Str0ng-Passw0rd!".to_owned())
        })
        .unwrap();
        let live = Live::empty("us-west-2", "111122223333", "aws", KINDS);
        let plan = crate::plan::plan(&stack, &live);
        let levels: Vec<Vec<&str>> = levels(&plan)
            .iter()
            .map(|l| l.iter().map(|r| r.address.as_str()).collect())
            .collect();
        assert_eq!(
            levels,
            [
                vec![
                    "cognito_user_pool.MCPServerPool",
                    "iam_role.agentcore-web-search-mcp-role",
                    "ecr_repository.web-search-mcp",
                    "secret.openai_api_key",
                ],
                vec![
                    "cognito_user_pool_client.MCPServerPoolClient",
                    // The policies the runtime needs are in place before the runtime is created.
                    "iam_role_policy.AgentCoreRuntime",
                    "iam_role_policy.infra-secrets",
                ],
                vec!["cognito_user.testuser", "agentcore_runtime.web_search_mcp"],
            ]
        );
    }

    #[test]
    fn a_runtime_waits_for_its_roles_inline_policies_even_without_cognito() {
        let text = r#"
[stack]
name = "demo"
[iam.role]
name = "role"
[iam.role.policies.Pull]
document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}]}'
[ecr.repository]
name = "repo"
[image]
uri = "${repository_uri}@sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
[runtime]
name = "svc"
"#;
        let stack = crate::registry::parse_stack(Path::new("stack.toml"), text, &|_| None).unwrap();
        let live = Live::empty("us-west-2", "111122223333", "aws", KINDS);
        let plan = crate::plan::plan(&stack, &live);
        let levels = levels(&plan);
        let level_of = |address: &str| {
            levels
                .iter()
                .position(|l| l.iter().any(|r| r.address == address))
                .unwrap()
        };
        assert!(level_of("iam_role_policy.Pull") < level_of("agentcore_runtime.svc"));
    }
}
