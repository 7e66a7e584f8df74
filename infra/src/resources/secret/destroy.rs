//! `infra destroy` of the stack's kept secrets: `DeleteSecret` with the declared recovery
//! window (`recovery_window_days`, 30 by default), so a secret destroyed by mistake can be
//! restored (`aws secretsmanager restore-secret`) until the window ends. A secret named by ARN
//! is not the stack's and never deleted; one already scheduled for deletion is left as it is.

use super::{LiveSecret, Secret};
use crate::engine::kind::{Access, Grant};
use crate::engine::{
    ApplyContext, Destroying, Error, Lookup, PlanContext, Planned, Planner, ResourcePlan, doomed,
    not_found_as_none,
};
use crate::stack::Stack;

/// What deleting needs.
struct Doomed {
    arn: String,
    recovery_window_days: i32,
}

pub(super) fn plan_destroy(cx: &PlanContext<'_>, _: &Destroying, planner: &mut Planner) {
    let live = cx.live.get::<Secret>();
    for spec in cx.stack.all::<Secret>().filter(|s| s.managed()) {
        let lookup: Lookup<LiveSecret> = live.kept.get(&spec.key).cloned().unwrap_or_default();
        if lookup.found().is_some_and(|s| s.deleted && s.owned) {
            continue;
        }
        let protect = spec.protect.then(|| format!("[secrets.{}]", spec.key));
        if let Some(secret) = doomed(planner, &spec.key, &lookup, protect.as_deref()) {
            planner.add(
                Planned::destroyed(&spec.key, &secret.arn).with_payload(Doomed {
                    arn: secret.arn.clone(),
                    recovery_window_days: spec.recovery_window_days,
                }),
            );
        }
    }
}

pub(super) async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let Doomed {
        arn,
        recovery_window_days,
    } = r.payload()?;
    let deleted = cx
        .aws
        .secrets
        .delete_secret()
        .secret_id(arn)
        .recovery_window_in_days(i64::from(*recovery_window_days))
        .send()
        .await
        .map_err(|e| Error::aws(&r.address, "DeleteSecret", e));
    not_found_as_none(deleted, "ResourceNotFoundException")?;
    Ok(())
}

pub(super) fn destroy_permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<Grant> {
    let kept = super::kept_arns(stack, vars);
    if kept.is_empty() {
        return Vec::new();
    }
    vec![
        Grant::new(
            Access::Write,
            "Delete",
            &["secretsmanager:DeleteSecret"],
            kept,
        )
        .on_stack_tagged(&stack.name),
    ]
}

/// The secrets tagged for the stack (`arns`, from the Tagging API) that no `[secrets.KEY]`
/// keeps any more (a renamed key), unless already scheduled for deletion. Deleted with
/// Secrets Manager's default recovery window (30 days): their section, which could say
/// another, is gone.
pub(super) async fn undeclared(
    cx: &crate::engine::ReadContext<'_>,
    arns: &[String],
) -> Result<Vec<Planned>, Error> {
    let declared: Vec<&str> = cx
        .stack
        .all::<Secret>()
        .filter(|s| s.managed())
        .map(|s| s.name.as_str())
        .collect();
    // The declared secrets are read already.
    let known: Vec<String> = cx
        .get::<Secret>()
        .await?
        .kept
        .values()
        .filter_map(|l| l.found().map(|s| s.arn.clone()))
        .collect();
    let arns: Vec<String> = arns
        .iter()
        .filter(|a| !known.contains(a))
        .cloned()
        .collect();
    let found = cx
        .aws
        .all_found(&arns, "ResourceNotFoundException", |arn| async move {
            cx.aws
                .secrets
                .describe_secret()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| Error::aws("secret", "DescribeSecret", e))
        })
        .await?;
    Ok(found
        .into_iter()
        .filter(|s| s.deleted_date().is_none())
        .filter_map(|s| Some((s.name()?.to_owned(), s.arn()?.to_owned())))
        .filter(|(name, _)| !declared.contains(&name.as_str()))
        .map(|(name, arn)| {
            Planned::destroyed(name, &arn).with_payload(Doomed {
                arn,
                recovery_window_days: 30,
            })
        })
        .collect())
}
