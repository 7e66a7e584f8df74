//! `cloudwatch_log_group`: the log group AgentCore writes the runtime's logs to,
//! `/aws/bedrock-agentcore/runtimes/<runtime id>-DEFAULT`. AgentCore creates it on first use
//! and never expires its events. With `[runtime] log_retention_days` the stack creates it ahead
//! (tagged for the stack) or takes over the one AgentCore made (its name holds the stack's
//! runtime id, so it is the stack's without `adopt`), and keeps its retention in place
//! (`PutRetentionPolicy`). Without the key the group is left to AgentCore, as it always was:
//! not read, never changed. The runtime id comes from the engine (`id_of::<Runtime>()`).

pub mod events;
pub mod section;

use std::collections::BTreeMap;

use crate::engine::{
    ApplyContext, Changes, Error, Kind, Output, PlanContext, Planned, Planner, ReadContext,
    ResourcePlan, Shown, not_found_as_none, owned_by, tag_changes,
};
use crate::resources::runtime::Runtime;
use crate::stack::{Stack, TAG_STACK};
use section::LogGroupSpec;

/// The kind.
pub struct LogGroup;

/// How plans and errors name the one log group: `cloudwatch_log_group.runtime`.
const NAME: &str = "runtime";

/// The log group's name for a runtime id, as AgentCore names it.
pub fn group_name(runtime_id: &str) -> String {
    format!("/aws/bedrock-agentcore/runtimes/{runtime_id}-DEFAULT")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLogGroup {
    pub name: String,
    /// `retentionInDays`; `None`: never expire.
    pub retention_days: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

/// What apply needs.
struct Step {
    retention_days: i32,
    live: Option<LiveLogGroup>,
}

impl Kind for LogGroup {
    /// The group is named after the runtime's id (`<runtime name>-<suffix>`):
    /// `log-group:/aws/bedrock-agentcore/runtimes/NAME-*-DEFAULT*`. `DescribeLogGroups` is authorized
    /// on the account's groups (`log-group:*`); a create with tags needs `logs:TagResource` too.
    /// Reading the runtime's log (`infra logs`, and the check after apply, which looks for the
    /// server's startup line) needs `logs:FilterLogEvents` on the group, whether or not the
    /// stack manages it: a read, so in every policy of a stack with a runtime.
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(group) = group_arn(vars) else {
            return Vec::new();
        };
        let events = Grant::new(Access::Read, "Events", &["logs:FilterLogEvents"], [&group]);
        if !stack.declares::<LogGroup>() {
            return vec![events];
        }
        let mut grants = vec![events];
        grants.extend(reads(vars, &group));
        grants.push(Grant::new(
            Access::Write,
            "Write",
            &[
                "logs:CreateLogGroup",
                "logs:TagResource",
                "logs:PutRetentionPolicy",
            ],
            [&group],
        ));
        grants
    }

    const TYPE: &'static str = "cloudwatch_log_group";
    const DEPENDS_ON: &'static [&'static str] = &[Runtime::TYPE];
    /// The runtime's log group, when the runtime exists and so does the group.
    type Live = Option<LiveLogGroup>;
    type Ref = ();

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        let spec = stack.one::<LogGroup>()?;
        let runtime = crate::resources::testing::runtime(stack)?;
        Some(LiveLogGroup {
            name: group_name(&runtime.id),
            retention_days: Some(spec.retention_days),
            tags: stack.tags(),
        })
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Self::Live, Error> {
        // Destroy deletes the runtime's group even when the stack does not manage its retention.
        if !cx.stack.declares::<LogGroup>() && !cx.destroying {
            return Ok(None);
        }
        let Some(runtime_id) = cx.id_of::<Runtime>().await? else {
            return Ok(None);
        };
        describe(cx, &group_name(&runtime_id)).await
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        let Some(&LogGroupSpec { retention_days }) = cx.stack.one::<LogGroup>() else {
            return;
        };
        let live = cx.live.get::<LogGroup>();
        let addr = planner.address(NAME);
        let mut changes = Changes::default();
        match live {
            None => {
                let name = match cx.id_of::<Runtime>() {
                    Some(id) => Shown::Value(group_name(&id).into()),
                    None => Shown::KnownAfterApply,
                };
                changes.push("name", Shown::Absent, name);
                changes.push(
                    "retention_in_days",
                    Shown::Absent,
                    shown(Some(retention_days)),
                );
                tag_changes(&mut changes, None, &cx.stack.tags());
            }
            Some(group) => {
                let stack = &cx.stack.name;
                if group.tags.contains_key(TAG_STACK) && !owned_by(&group.tags, stack) {
                    let other = group.tags.get(TAG_STACK).cloned().unwrap_or_default();
                    planner.block(
                        &addr,
                        None,
                        format!(
                            "the log group {} is tagged {TAG_STACK}={other}, not {stack}; it is \
                             left untouched",
                            group.name
                        ),
                    );
                    return;
                }
                if group.retention_days != Some(retention_days) {
                    changes.push(
                        "retention_in_days",
                        shown(group.retention_days),
                        shown(Some(retention_days)),
                    );
                }
                tag_changes(&mut changes, Some(&group.tags), &cx.stack.tags());
            }
        }
        let id = live.as_ref().map(|g| g.name.clone());
        let mut planned = Planned::new(NAME, changes, id).with_payload(Step {
            retention_days,
            live: live.clone(),
        });
        if live
            .as_ref()
            .is_some_and(|g| !g.tags.contains_key(TAG_STACK))
        {
            planned = planned.with_reason(
                "AgentCore made it for the stack's runtime; the stack takes it over (tags, retention)",
            );
        }
        planner.add(planned);
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        let addr = &r.address;
        let name = match &step.live {
            Some(group) => group.name.clone(),
            None => {
                let runtime_id = cx.id::<Runtime>()?;
                let name = group_name(&runtime_id);
                create(cx, addr, &name).await?;
                name
            }
        };
        if step.live.is_none() || r.changes("retention_in_days") {
            put_retention(cx, addr, &name, step.retention_days).await?;
        }
        if step.live.is_some() && r.changes("tags") {
            cx.aws
                .logs
                .tag_resource()
                .resource_arn(arn(cx, &name))
                .set_tags(Some(cx.stack.tags().into_iter().collect()))
                .send()
                .await
                .map_err(|e| Error::aws(addr, "TagResource", e))?;
        }
        Ok(name)
    }

    /// The group of the runtime destroy deletes (AgentCore made it for that runtime), or one
    /// tagged for the stack; one tagged for another stack is kept.
    fn plan_destroy(cx: &PlanContext<'_>, _: &crate::engine::Destroying, planner: &mut Planner) {
        let Some(group) = cx.live.get::<LogGroup>() else {
            return;
        };
        let ours = owned_by(&group.tags, &cx.stack.name)
            || (!group.tags.contains_key(TAG_STACK) && planner.deleting::<Runtime>());
        planner.add(if ours {
            Planned::destroyed(NAME, &group.name)
        } else {
            Planned::kept(NAME, Some(group.name.clone()), crate::engine::NOT_OWNED)
        });
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        let name = r.id.clone().unwrap_or_default();
        let deleted = cx
            .aws
            .logs
            .delete_log_group()
            .log_group_name(&name)
            .send()
            .await
            .map_err(|e| Error::aws(&r.address, "DeleteLogGroup", e));
        crate::engine::not_found_as_none(deleted, "ResourceNotFoundException")?;
        Ok(())
    }

    /// Its reads too when the stack declares no retention (`permissions` has them otherwise):
    /// destroy reads the group all the same.
    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(group) = group_arn(vars) else {
            return Vec::new();
        };
        let mut grants = if stack.declares::<LogGroup>() {
            Vec::new()
        } else {
            reads(vars, &group)
        };
        grants.push(Grant::new(
            Access::Write,
            "Delete",
            &["logs:DeleteLogGroup"],
            [&group],
        ));
        grants
    }

    /// `log_group`, when the stack declares a retention.
    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        if !cx.stack.declares::<LogGroup>() {
            return Vec::new();
        }
        let name = cx.live.get::<LogGroup>().as_ref().map(|g| g.name.clone());
        let name = name.or_else(|| cx.id_of::<Runtime>().map(|id| group_name(&id)));
        vec![("log_group", name)]
    }

    fn id(_stack: &Stack, live: &Self::Live) -> Option<String> {
        live.as_ref().map(|g| g.name.clone())
    }
}

/// The runtime's group, as IAM names it: `log-group:NAME*` (`...:log-group:NAME` for tagging,
/// `...:log-group:NAME:*` for the rest), the runtime id being `<runtime name>-<suffix>`.
fn group_arn(vars: &crate::policy::Vars) -> Option<String> {
    let runtime = vars.get("runtime_name")?;
    Some(crate::engine::kind::Grant::arn(
        vars,
        "logs",
        &format!("log-group:{}*", group_name(&format!("{runtime}-*"))),
    ))
}

/// Finding the group: listing the account's groups, and reading its tags.
fn reads(vars: &crate::policy::Vars, group: &str) -> Vec<crate::engine::kind::Grant> {
    use crate::engine::kind::{Access, Grant};
    vec![
        Grant::new(
            Access::Read,
            "List",
            &["logs:DescribeLogGroups"],
            [Grant::arn(vars, "logs", "log-group:*")],
        ),
        Grant::new(Access::Read, "Tags", &["logs:ListTagsForResource"], [group]),
    ]
}

/// How a plan shows a retention.
fn shown(days: Option<i32>) -> Shown {
    Shown::Value(match days {
        Some(days) => days.into(),
        None => "never expire".into(),
    })
}

/// The log group's ARN, as the tagging calls take it (without the trailing `:*`).
fn arn(cx: &ApplyContext<'_>, name: &str) -> String {
    let v = &cx.vars;
    format!(
        "arn:{}:logs:{}:{}:log-group:{name}",
        v.partition, v.region, v.account_id
    )
}

/// The log group named exactly `name`, with its tags.
async fn describe(cx: &ReadContext<'_>, name: &str) -> Result<Option<LiveLogGroup>, Error> {
    let addr = crate::engine::address(LogGroup::TYPE, NAME);
    let out = cx
        .aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| Error::aws(&addr, "DescribeLogGroups", e))?;
    let Some(group) = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let tags = match group.log_group_arn() {
        Some(arn) => {
            let result = cx
                .aws
                .logs
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| Error::aws(&addr, "ListTagsForResource", e));
            not_found_as_none(result, "ResourceNotFoundException")?
                .and_then(|out| out.tags().cloned())
                .map(|tags| tags.into_iter().collect())
                .unwrap_or_default()
        }
        None => BTreeMap::new(),
    };
    Ok(Some(LiveLogGroup {
        name: name.to_owned(),
        retention_days: group.retention_in_days(),
        tags,
    }))
}

/// Create the group, tagged. When AgentCore (or another apply) made it meanwhile, it is tagged as
/// the stack's, as the plan would have.
async fn create(cx: &ApplyContext<'_>, addr: &str, name: &str) -> Result<(), Error> {
    let result = cx
        .aws
        .logs
        .create_log_group()
        .log_group_name(name)
        .set_tags(Some(cx.stack.tags().into_iter().collect()))
        .send()
        .await
        .map_err(|e| Error::aws(addr, "CreateLogGroup", e));
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code_is("ResourceAlreadyExistsException") => {
            // Made meanwhile: by AgentCore (untagged) it is the stack's; tagged for another
            // stack, it is refused as the plan would have.
            let arn = arn(cx, name);
            let tags = cx
                .aws
                .logs
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| Error::aws(addr, "ListTagsForResource", e))?;
            let stack = &cx.stack.name;
            if let Some(other) = tags.tags().and_then(|t| t.get(TAG_STACK))
                && other != stack
            {
                return Err(Error::new(
                    addr,
                    "CreateLogGroup",
                    format!(
                        "the log group {name} was made meanwhile, tagged {TAG_STACK}={other}, not \
                         {stack}; it is left untouched"
                    ),
                ));
            }
            cx.found_on_create(addr, "tagging it and setting its retention");
            cx.aws
                .logs
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(cx.stack.tags().into_iter().collect()))
                .send()
                .await
                .map_err(|e| Error::aws(addr, "TagResource", e))?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// `PutRetentionPolicy`.
async fn put_retention(
    cx: &ApplyContext<'_>,
    addr: &str,
    name: &str,
    days: i32,
) -> Result<(), Error> {
    cx.aws
        .logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws(addr, "PutRetentionPolicy", e))
}

#[cfg(test)]
mod tests;
