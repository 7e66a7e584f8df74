//! `infra destroy`: the plan of deleting what the stack owns, and carrying it out in reverse
//! dependency order. Each kind decides what of its own it deletes or keeps
//! ([`Kind::plan_destroy`](crate::engine::Kind::plan_destroy)) and how it deletes it
//! ([`Kind::delete`](crate::engine::Kind::delete)); this module only orders and runs them.
//!
//! Nothing is remembered between runs: a destroy stopped half way is finished by running it
//! again, which reads live AWS and plans only what is left.

use std::time::Duration;

use futures::future::join_all;

use crate::aws::Aws;
use crate::engine::kind::Destroying;
use crate::engine::{
    Action, ApplyContext, DynKind, Error, Live, Plan, PlanContext, Planner, Progress, ResourcePlan,
    Summary,
};
use crate::registry::KINDS;
use crate::stack::Stack;

/// The destroy plan of `stack` from what was read: a `Delete` for each resource it owns, a
/// `NoOp` (its reason starts with `kept:`) for each it leaves, blockers for protected ones.
/// Resources come in the order they are deleted: a resource's `depends_on` lists those
/// deleted before it.
pub fn plan(stack: &Stack, live: &Live, options: &Destroying) -> Plan {
    let vars = live.vars(stack);
    let cx = PlanContext {
        stack,
        live,
        vars: &vars,
    };
    let mut planner = Planner::default();
    for kind in KINDS {
        planner.start(kind.type_name(), kind.depends_on());
        kind.plan_destroy(&cx, options, &mut planner);
    }
    // Tagged for the stack but no longer declared: the stack's too.
    for (kind, planned) in &live.undeclared {
        planner.start(kind.type_name(), kind.depends_on());
        planner.add(match planned.action() {
            Action::Delete => planned
                .clone()
                .with_reason(crate::engine::UNDECLARED_DELETED),
            _ => planned.clone(),
        });
    }
    let mut resources = planner.resources;
    order(&mut resources, KINDS);
    let summary = Summary {
        delete: resources
            .iter()
            .filter(|r| r.action == Action::Delete)
            .count(),
        ..Summary::default()
    };
    Plan {
        format_version: 1,
        stack: stack.name.clone(),
        region: live.region.clone(),
        account_id: live.account_id.clone(),
        resources,
        blockers: planner.blockers,
        summary,
    }
}

/// Reverse the dependencies: a resource is deleted after every resource of the kinds that
/// depend on its kind (the runtime before the role it runs as, the log group named after the
/// runtime before the runtime: once the runtime is gone, nothing would find its group). Sorted
/// so a resource comes after those it waits for.
fn order(resources: &mut [ResourcePlan], kinds: &[&dyn DynKind]) {
    let kind = |type_name: &str| kinds.iter().position(|k| k.type_name() == type_name);
    // Whether a resource of kind `a` waits for the deletes of kind `b`.
    let waits = |a: &str, b: &str| kind(b).is_some_and(|i| kinds[i].depends_on().contains(&a));
    let deleting: Vec<(String, &'static str)> = resources
        .iter()
        .filter(|r| r.action == Action::Delete)
        .map(|r| (r.address.clone(), r.type_name))
        .collect();
    for r in resources.iter_mut() {
        r.depends_on = if r.action == Action::Delete {
            deleting
                .iter()
                .filter(|(_, t)| waits(r.type_name, t))
                .map(|(a, _)| a.clone())
                .collect()
        } else {
            Vec::new()
        };
    }
    // Registry order reversed (each kind's resources keep their order).
    resources.sort_by_key(|r| std::cmp::Reverse(kind(r.type_name).unwrap_or(0)));
}

/// `apply --prune`: the deletes of the resources `plan` found tagged for the stack but no
/// longer declared, in reverse dependency order, for [`run`] once the apply is done.
pub fn prune(plan: &Plan) -> Plan {
    let mut resources: Vec<ResourcePlan> = plan
        .resources
        .iter()
        // Not those kept even so (a repository with images the stack did not push).
        .filter(|r| r.undeclared && r.reason == crate::engine::UNDECLARED)
        .map(|r| ResourcePlan {
            action: Action::Delete,
            reason: crate::engine::UNDECLARED_DELETED.to_owned(),
            ..r.clone()
        })
        .collect();
    order(&mut resources, KINDS);
    Plan {
        summary: Summary {
            delete: resources.len(),
            ..Summary::default()
        },
        resources,
        blockers: Vec::new(),
        ..plan.clone()
    }
}

/// What a destroy did: deleted, and what failed.
#[derive(Debug, Default)]
pub struct Destroyed {
    pub deleted: Vec<String>,
    pub errors: Vec<Error>,
}

/// Delete what `plan` deletes, level by level (concurrently inside a level). A failure lets
/// the other deletes of its level finish and stops before the next level: nothing that
/// depends on what could not be deleted is touched.
pub async fn run(
    aws: &Aws,
    stack: &Stack,
    live: &Live,
    plan: &Plan,
    progress: &dyn Progress,
    timeout: Duration,
) -> Destroyed {
    let cx = ApplyContext::new(aws, stack, live, progress, timeout, plan);
    let mut done = Destroyed::default();
    for level in crate::apply::levels(plan) {
        let results = join_all(level.iter().map(|r| delete(&cx, r))).await;
        for (r, result) in level.iter().zip(results) {
            match result {
                Ok(()) => done.deleted.push(r.address.clone()),
                Err(e) => done.errors.push(e),
            }
        }
        if !done.errors.is_empty() {
            break;
        }
    }
    done
}

async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let kind = crate::apply::kind_of(r)?;
    let deleted = async {
        kind.delete(cx, r).await?;
        Ok(r.id.clone().unwrap_or_default())
    };
    crate::apply::reported(cx, r, deleted).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use crate::engine::kind::Destroying;
    use crate::engine::{Action, Live, Lookup, Plan};
    use crate::resources::cognito_pool::UserPool;
    use crate::resources::ecr_repository::Repository;
    use crate::resources::iam_role::Role;
    use crate::resources::log_group::{LiveLogGroup, LogGroup, group_name};
    use crate::resources::secret::{LiveSecret, LiveSecrets, Secret};
    use crate::resources::testing::{LiveBuilder, found};
    use crate::stack::Stack;

    fn stack(edit: impl FnOnce(String) -> String) -> Stack {
        let text = edit(include_str!("../../stack.toml").to_owned());
        crate::registry::parse_stack(Path::new("stack.toml"), &text, &|_| None).unwrap()
    }

    /// Everything the stack declares exists and is the stack's, with a pushed image, its
    /// secret and the runtime's log group.
    fn everything(stack: &Stack) -> LiveBuilder {
        let runtime = crate::resources::testing::runtime(stack).unwrap();
        let secrets = LiveSecrets {
            kept: stack
                .all::<Secret>()
                .map(|s| {
                    let live = LiveSecret {
                        arn: format!(
                            "arn:aws:secretsmanager:us-west-2:111122223333:secret:{}-AbCdEf",
                            s.name
                        ),
                        owned: true,
                        tags: stack.tags(),
                        description: None,
                        kms_key: None,
                        deleted: false,
                        value_matches: None,
                    };
                    (s.key.clone(), Lookup::Found(live))
                })
                .collect(),
            existing: BTreeMap::new(),
        };
        LiveBuilder::converged(stack)
            .with::<Secret>(secrets)
            .with::<LogGroup>(Some(LiveLogGroup {
                name: group_name(&runtime.id),
                retention_days: None,
                tags: BTreeMap::new(),
            }))
            .edit::<Repository>(|r| {
                found(r).images = vec![image("sha256:aa", &[])];
            })
    }

    fn image(digest: &str, tags: &[&str]) -> crate::resources::ecr_repository::StoredImage {
        crate::resources::ecr_repository::StoredImage {
            digest: digest.to_owned(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn destroy(stack: &Stack, live: Live, force: bool) -> Plan {
        super::plan(stack, &live, &Destroying { force })
    }

    fn deleted(plan: &Plan) -> Vec<&str> {
        plan.changed().map(|r| r.address.as_str()).collect()
    }

    fn kept(plan: &Plan) -> Vec<(&str, &str)> {
        plan.resources
            .iter()
            .filter(|r| r.action == Action::NoOp)
            .map(|r| (r.address.as_str(), r.reason.as_str()))
            .collect()
    }

    #[test]
    fn a_whole_stack_is_destroyed_in_reverse_dependency_order() {
        let stack = stack(|t| t);
        let plan = destroy(&stack, everything(&stack).build(), false);
        assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        assert!(kept(&plan).is_empty(), "{:?}", kept(&plan));
        let levels: Vec<Vec<&str>> = crate::apply::levels(&plan)
            .iter()
            .map(|l| l.iter().map(|r| r.address.as_str()).collect())
            .collect();
        let level_of = |prefix: &str| {
            levels
                .iter()
                .position(|l| l.iter().any(|a| a.starts_with(prefix)))
                .unwrap_or_else(|| panic!("{prefix} is not deleted: {levels:?}"))
        };
        let runtime = level_of("agentcore_runtime.");
        for after in [
            "iam_role_policy.",
            "cognito_user_pool_client.",
            "secret.",
            "image.",
        ] {
            assert!(
                level_of(after) > runtime,
                "{after} before the runtime: {levels:?}"
            );
        }
        // Found through the runtime's id: deleted while the runtime still names it.
        assert!(level_of("cloudwatch_log_group.") < runtime);
        assert!(level_of("iam_role.") > level_of("iam_role_policy."));
        assert!(level_of("cognito_user_pool.") > level_of("cognito_user_pool_client."));
        assert!(level_of("cognito_user_pool.") > level_of("cognito_user."));
        assert!(level_of("ecr_repository.") > level_of("image."));
        // Every resource the stack declares, and nothing twice.
        assert_eq!(plan.summary.delete, 11, "{:?}", deleted(&plan));
        let mut unique = deleted(&plan);
        unique.dedup();
        assert_eq!(unique.len(), plan.summary.delete);
    }

    #[test]
    fn what_the_stack_does_not_own_is_kept_and_said_so() {
        let stack = stack(|t| t);
        let live = everything(&stack)
            .edit::<Role>(|r| found(r).owned = false)
            .edit::<UserPool>(|p| found(p).owned = false)
            .build();
        let plan = destroy(&stack, live, false);
        let kept = kept(&plan);
        assert_eq!(
            kept.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            [
                "iam_role.agentcore-web-search-mcp-role",
                "cognito_user_pool.MCPServerPool"
            ]
            .iter()
            .copied()
            .filter(|a| kept.iter().any(|(k, _)| k == a))
            .collect::<Vec<_>>()
        );
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept.iter().all(|(_, why)| *why == crate::engine::NOT_OWNED));
        // Nothing inside a pool or on a role the stack does not own is touched.
        let deleted = deleted(&plan);
        for prefix in ["iam_role", "cognito_"] {
            assert!(
                !deleted.iter().any(|a| a.starts_with(prefix)),
                "{prefix}: {deleted:?}"
            );
        }
        assert!(deleted.contains(&"agentcore_runtime.web_search_mcp"));
    }

    #[test]
    fn protect_refuses_the_whole_destroy_naming_the_section() {
        let stack = stack(|t| {
            t.replacen(
                "[ecr.repository]\nname = \"web-search-mcp\"",
                "[ecr.repository]\nname = \"web-search-mcp\"\nprotect = true",
                1,
            )
        });
        assert!(stack.one::<Repository>().unwrap().protect);
        let plan = destroy(&stack, everything(&stack).build(), false);
        assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
        let blocker = &plan.blockers[0];
        assert_eq!(blocker.address, "ecr_repository.web-search-mcp");
        assert!(
            blocker
                .message
                .contains("protect = true in [ecr.repository]")
        );
    }

    #[test]
    fn a_repository_with_images_the_stack_did_not_push_is_kept_unless_forced() {
        let stack = stack(|t| t);
        let live = || {
            everything(&stack)
                .edit::<Repository>(|r| {
                    found(r).images = vec![image("sha256:aa", &[]), image("sha256:bb", &["v1"])];
                })
                .build()
        };
        let plan = destroy(&stack, live(), false);
        let kept = kept(&plan);
        assert_eq!(kept.len(), 1);
        assert!(
            kept[0]
                .1
                .contains("1 image(s) this stack did not push (tagged v1)"),
            "{kept:?}"
        );
        // The stack's own (untagged) image goes anyway.
        assert!(deleted(&plan).contains(&"image.web-search-mcp"));

        let forced = destroy(&stack, live(), true);
        assert!(deleted(&forced).contains(&"ecr_repository.web-search-mcp"));
        let repository = forced.resource("ecr_repository.web-search-mcp").unwrap();
        assert!(repository.notes[0].contains("--force-delete-images"));
    }

    #[test]
    fn a_pool_with_deletion_protection_is_protected_unless_the_stack_turns_it_off() {
        let on = stack(|t| {
            t.replacen(
                "[cognito.user_pool]\n",
                "[cognito.user_pool]\ndeletion_protection = true\n",
                1,
            )
        });
        assert!(on.one::<UserPool>().unwrap().deletion_protection);
        let live = everything(&on)
            .edit::<UserPool>(|p| found(p).deletion_protection = true)
            .build();
        let plan = destroy(&on, live, false);
        assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
        assert_eq!(
            plan.blockers[0].field.as_deref(),
            Some("deletion_protection")
        );

        // The stack turns it off: destroy deletes (turning it off first).
        let off = stack(|t| t);
        let live = everything(&off)
            .edit::<UserPool>(|p| found(p).deletion_protection = true)
            .build();
        let plan = destroy(&off, live, false);
        assert!(plan.blockers.is_empty());
        assert!(deleted(&plan).contains(&"cognito_user_pool.MCPServerPool"));
    }
}
