//! `secret`: a secret in AWS Secrets Manager, found by name `<stack>/<key>` and the stack tag.
//! Its value is write-only: compared through `GetSecretValue`, written with `PutSecretValue`
//! only when it differs, and shown only as `(sensitive)`. A secret named by ARN is only checked
//! to exist; the runtime reads it, infra never writes it.

mod destroy;
pub mod section;

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;

use crate::engine::lookup::replan;
use crate::engine::{
    ApplyContext, Changes, Error, Kind, Lookup, Noun, Owned, PlanContext, Planned, Planner,
    ReadContext, ResourcePlan, Shown, WriteOnly, address, claim, not_found_as_none, owned_by,
    tag_changes,
};
use crate::stack::Stack;
use section::{SecretSource, SecretSpec};

#[derive(Debug, Clone)]
pub struct LiveSecret {
    pub arn: String,
    pub owned: bool,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub kms_key: Option<String>,
    /// Scheduled for deletion (it cannot be used or changed until restored).
    pub deleted: bool,
    /// Whether the stored value equals the declared one; `None` when not compared (variable
    /// unset, foreign secret, or a command that does not verify write-only values).
    pub value_matches: Option<bool>,
}

impl Owned for LiveSecret {
    fn identifier(&self) -> &str {
        &self.arn
    }
    fn owned(&self) -> bool {
        self.owned
    }
}

/// What reading found, by `[secrets.KEY]` key.
#[derive(Debug, Clone, Default)]
pub struct LiveSecrets {
    /// Secrets the stack keeps.
    pub kept: BTreeMap<String, Lookup<LiveSecret>>,
    /// Secrets named by ARN: whether each exists.
    pub existing: BTreeMap<String, bool>,
}

/// The kind.
pub struct Secret;

/// What apply needs.
struct Step {
    spec: SecretSpec,
    live: Option<LiveSecret>,
}

const NOUN: Noun = Noun::tagged("a secret", "secrets");

impl Kind for Secret {
    /// Kept secrets by ARN: `secret:NAME-*` (Secrets Manager ends an ARN with `-` and six
    /// characters of its own); one named by ARN is only described. A create with tags needs
    /// `secretsmanager:TagResource` too. Comparing the value reads it (not with
    /// `--skip-password-check`); with a declared KMS key, writing and reading it use the key.
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let specs: Vec<&SecretSpec> = stack.all::<Secret>().collect();
        if specs.is_empty() {
            return Vec::new();
        }
        let kept = kept_arns(stack, vars);
        let named: Vec<String> = specs
            .iter()
            .filter_map(|s| match &s.source {
                SecretSource::Existing { arn } => Some(arn.clone()),
                SecretSource::Managed { .. } => None,
            })
            .collect();
        let mut grants = vec![Grant::new(
            Access::Read,
            "Describe",
            &["secretsmanager:DescribeSecret"],
            kept.iter().chain(&named).cloned(),
        )];
        if kept.is_empty() {
            return grants;
        }
        grants.push(Grant::new(
            Access::ReadSecret,
            "Value",
            &["secretsmanager:GetSecretValue"],
            kept.clone(),
        ));
        grants.push(Grant::new(
            Access::Write,
            "Write",
            &[
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:UpdateSecret",
                "secretsmanager:PutSecretValue",
            ],
            kept,
        ));
        let keys: Vec<String> = specs
            .iter()
            .filter(|s| s.managed())
            .filter_map(|s| s.kms_key.as_ref())
            .map(|key| match key {
                key if key.starts_with("arn:") && key.contains(":key/") => key.clone(),
                _ => Grant::arn(vars, "kms", "key/*"),
            })
            .collect();
        if !keys.is_empty() {
            let through = format!("secretsmanager.{}.amazonaws.com", vars.region);
            grants.push(
                Grant::new(
                    Access::ReadSecret,
                    "KeyRead",
                    &["kms:Decrypt"],
                    keys.clone(),
                )
                .when("StringEquals", "kms:ViaService", &through),
            );
            grants.push(
                Grant::new(Access::Write, "KeyWrite", &["kms:GenerateDataKey"], keys).when(
                    "StringEquals",
                    "kms:ViaService",
                    &through,
                ),
            );
        }
        grants
    }

    const TYPE: &'static str = "secret";
    type Live = LiveSecrets;
    /// The ARN of each declared secret, by key, when known without apply: a secret named by
    /// ARN, or a kept one that exists (`None`: a kept secret this apply creates).
    type Ref = BTreeMap<String, Option<String>>;

    async fn read(cx: &ReadContext<'_>) -> Result<LiveSecrets, Error> {
        let client = &cx.aws.secrets;
        let found = cx
            .aws
            .all(cx.stack.all::<Secret>().map(|spec| {
                let client = &client;
                async move {
                    let id = match &spec.source {
                        SecretSource::Managed { .. } => &spec.name,
                        SecretSource::Existing { arn } => arn,
                    };
                    let live = describe(client, spec, id, &cx.stack.name).await?;
                    let live = match (live, &spec.source) {
                        (Some(mut live), SecretSource::Managed { value: Some(v), .. })
                            if cx.write_only == WriteOnly::Verify
                                && !live.deleted
                                && (live.owned || spec.adopt) =>
                        {
                            live.value_matches =
                                Some(stored_equals(client, spec, &live, v.expose()).await?);
                            Some(live)
                        }
                        (live, _) => live,
                    };
                    Ok::<_, Error>((spec, live))
                }
            }))
            .await?;
        let mut out = LiveSecrets::default();
        for (spec, live) in found {
            if spec.managed() {
                out.kept.insert(
                    spec.key.clone(),
                    live.map_or(Lookup::Missing, Lookup::Found),
                );
            } else {
                out.existing.insert(spec.key.clone(), live.is_some());
            }
        }
        Ok(out)
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        let live = cx.live.get::<Secret>();
        for spec in cx.stack.all::<Secret>() {
            match &spec.source {
                SecretSource::Managed { var, value } => {
                    let lookup = live.kept.get(&spec.key).cloned().unwrap_or_default();
                    plan(cx, planner, spec, var, value.is_some(), &lookup);
                }
                SecretSource::Existing { arn } => {
                    if live.existing.get(&spec.key) == Some(&false) {
                        planner.block(
                            &planner.address(&spec.key),
                            Some("arn"),
                            format!(
                                "no secret {arn} exists (or it is not visible to these credentials)"
                            ),
                        );
                    }
                }
            }
        }
    }

    fn plan_destroy(cx: &PlanContext<'_>, o: &crate::engine::Destroying, planner: &mut Planner) {
        destroy::plan_destroy(cx, o, planner);
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        destroy::delete(cx, r).await
    }

    const TAGGED_AS: Option<&'static str> = Some("secretsmanager:secret");

    async fn undeclared(cx: &ReadContext<'_>, arns: &[String]) -> Result<Vec<Planned>, Error> {
        destroy::undeclared(cx, arns).await
    }

    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        destroy::destroy_permissions(stack, vars)
    }

    fn reference(stack: &Stack, live: &LiveSecrets) -> Option<Self::Ref> {
        Some(
            stack
                .all::<Secret>()
                .map(|spec| {
                    let arn = match &spec.source {
                        SecretSource::Existing { arn } => Some(arn.clone()),
                        SecretSource::Managed { .. } => live
                            .kept
                            .get(&spec.key)
                            .and_then(Lookup::found)
                            .map(|s| s.arn.clone()),
                    };
                    (spec.key.clone(), arn)
                })
                .collect(),
        )
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        let client = &cx.aws.secrets;
        match &step.live {
            None => create(cx, client, r, &step.spec).await,
            Some(live) => update(cx, client, r, &step.spec, live).await,
        }
    }
}

/// The secret named `id`, `None` when there is none.
async fn describe(
    client: &Client,
    spec: &SecretSpec,
    id: &str,
    stack: &str,
) -> Result<Option<LiveSecret>, Error> {
    let addr = address(Secret::TYPE, &spec.key);
    let result = client
        .describe_secret()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(&addr, "DescribeSecret", e));
    let Some(out) = not_found_as_none(result, "ResourceNotFoundException")? else {
        return Ok(None);
    };
    let tags: BTreeMap<String, String> = out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect();
    Ok(Some(LiveSecret {
        arn: out.arn().unwrap_or_default().to_owned(),
        owned: owned_by(&tags, stack),
        tags,
        description: out
            .description()
            .map(str::to_owned)
            .filter(|d| !d.is_empty()),
        kms_key: out.kms_key_id().map(str::to_owned),
        deleted: out.deleted_date().is_some(),
        value_matches: None,
    }))
}

/// Compare the stored value with the declared one; the stored value is dropped at once.
async fn stored_equals(
    client: &Client,
    spec: &SecretSpec,
    live: &LiveSecret,
    declared: &str,
) -> Result<bool, Error> {
    let addr = address(Secret::TYPE, &spec.key);
    let result = client
        .get_secret_value()
        .secret_id(&live.arn)
        .send()
        .await
        .map_err(|e| Error::aws(&addr, "GetSecretValue", e));
    // A secret without a current value (created elsewhere, never set) differs from any value.
    Ok(not_found_as_none(result, "ResourceNotFoundException")?
        .and_then(|out| out.secret_string().map(|stored| stored == declared))
        .unwrap_or(false))
}

fn plan(
    cx: &PlanContext,
    planner: &mut Planner,
    spec: &SecretSpec,
    var: &str,
    has_value: bool,
    lookup: &Lookup<LiveSecret>,
) {
    let addr = planner.address(&spec.key);
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
    let mut changes = Changes::default();
    let mut notes = Vec::new();
    match live {
        None if !has_value && cx.live.write_only == WriteOnly::Skip => {
            changes.value("name", None, &spec.name);
            changes.push("value", Shown::Absent, Shown::Sensitive);
            notes.push(format!(
                "value: not checked (--skip-password-check); apply needs ${var}"
            ));
        }
        None if !has_value => {
            planner.block(
                &addr,
                Some("value"),
                format!(
                    "the secret does not exist and ${var} is unset; creating it needs its value"
                ),
            );
            return;
        }
        None => {
            changes.value("name", None, &spec.name);
            changes.push("value", Shown::Absent, Shown::Sensitive);
        }
        Some(secret) if secret.deleted => {
            planner.block(
                &addr,
                None,
                format!(
                    "{} is scheduled for deletion; restore it (aws secretsmanager restore-secret \
                     --secret-id {}) or wait until it is gone",
                    spec.name, secret.arn
                ),
            );
            return;
        }
        Some(secret) => match secret.value_matches {
            Some(false) => changes.push("value", Shown::Sensitive, Shown::Sensitive),
            Some(true) => {}
            None if cx.live.write_only == WriteOnly::Skip => {
                notes.push("value: not checked (--skip-password-check)".into())
            }
            None if !has_value => notes.push(format!(
                "value: ${var} is unset, so the stored value is kept"
            )),
            None => notes.push("value: not compared by this command".into()),
        },
    }
    changes.value(
        "description",
        live.map(|s| s.description.clone()),
        spec.description.clone(),
    );
    if spec.kms_key.is_some() || live.is_some_and(|s| s.kms_key.is_some()) {
        changes.value(
            "kms_key",
            live.map(|s| s.kms_key.clone()),
            spec.kms_key.clone(),
        );
    }
    tag_changes(&mut changes, live.map(|s| &s.tags), &cx.stack.tags());
    let planned = Planned::new(&spec.key, changes, live.map(|s| s.arn.clone()));
    let reason = claim.reason(planned.action());
    planner.add(
        planned
            .with_reason(reason)
            .with_notes(notes)
            .with_payload(Step {
                spec: spec.clone(),
                live: live.cloned(),
            }),
    );
}

fn tags(cx: &ApplyContext<'_>) -> Vec<Tag> {
    cx.stack
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn value<'a>(r: &ResourcePlan, spec: &'a SecretSpec) -> Result<&'a str, Error> {
    match &spec.source {
        SecretSource::Managed {
            value: Some(value), ..
        } => Ok(value.expose()),
        SecretSource::Managed { var, .. } => Err(Error::new(
            &r.address,
            "apply",
            format!("${var} is unset: the value cannot be written"),
        )),
        SecretSource::Existing { .. } => Err(Error::new(
            &r.address,
            "apply",
            "a secret named by ARN is not written",
        )),
    }
}

/// Returns the new secret's ARN. Secret names are unique in an account and region: when the
/// secret exists after all (another apply created it meanwhile, or a retried call whose answer
/// was lost did), it is read and, when it is this stack's, updated to match the stack (its
/// value compared, and written only when it differs).
async fn create(
    cx: &ApplyContext<'_>,
    client: &Client,
    r: &ResourcePlan,
    spec: &SecretSpec,
) -> Result<String, Error> {
    let result = client
        .create_secret()
        .name(&spec.name)
        .secret_string(value(r, spec)?)
        .set_description(spec.description.clone())
        .set_kms_key_id(spec.kms_key.clone())
        .set_tags(Some(tags(cx)))
        .send()
        .await
        .map_err(|e| Error::aws(&r.address, "CreateSecret", e));
    let out = match result {
        Err(e) if e.code_is("ResourceExistsException") => {
            cx.found_on_create(&r.address, "continuing with it");
            let Some(mut live) = describe(client, spec, &spec.name, &cx.stack.name).await? else {
                return Err(e);
            };
            if !live.deleted && (live.owned || spec.adopt) {
                live.value_matches =
                    Some(stored_equals(client, spec, &live, value(r, spec)?).await?);
            }
            let mut state = cx.live.get::<Secret>().clone();
            state.kept.insert(spec.key.clone(), Lookup::Found(live));
            let r = replan::<Secret>(cx, &r.address, "CreateSecret", state)?;
            let step: &Step = r.payload()?;
            let live = step.live.as_ref().ok_or(e)?;
            return update(cx, client, &r, &step.spec, live).await;
        }
        other => other?,
    };
    out.arn()
        .map(str::to_owned)
        .ok_or_else(|| Error::new(&r.address, "CreateSecret", "AWS returned no ARN"))
}

/// Only the calls for what differs: `UpdateSecret` for description and key, `PutSecretValue`
/// for the value, `TagResource` for the tags.
async fn update(
    cx: &ApplyContext<'_>,
    client: &Client,
    r: &ResourcePlan,
    spec: &SecretSpec,
    live: &LiveSecret,
) -> Result<String, Error> {
    if r.changes("description") || r.changes("kms_key") {
        client
            .update_secret()
            .secret_id(&live.arn)
            .description(spec.description.clone().unwrap_or_default())
            .set_kms_key_id(spec.kms_key.clone())
            .send()
            .await
            .map_err(|e| Error::aws(&r.address, "UpdateSecret", e))?;
    }
    if r.changes("value") {
        client
            .put_secret_value()
            .secret_id(&live.arn)
            .secret_string(value(r, spec)?)
            .send()
            .await
            .map_err(|e| Error::aws(&r.address, "PutSecretValue", e))?;
    }
    if r.changes("tags") {
        client
            .tag_resource()
            .secret_id(&live.arn)
            .set_tags(Some(tags(cx)))
            .send()
            .await
            .map_err(|e| Error::aws(&r.address, "TagResource", e))?;
    }
    Ok(live.arn.clone())
}

/// The ARNs of the secrets the stack keeps, as grants name them: `secret:NAME-*` (Secrets
/// Manager ends an ARN with `-` and six characters of its own).
fn kept_arns(stack: &Stack, vars: &crate::policy::Vars) -> Vec<String> {
    stack
        .all::<Secret>()
        .filter(|s| s.managed())
        .map(|s| {
            crate::engine::kind::Grant::arn(vars, "secretsmanager", &format!("secret:{}-*", s.name))
        })
        .collect()
}

#[cfg(test)]
mod tests;
