//! Planning the runtime: every field the stack declares against what was read, pure.

use super::*;

/// `NAME_SECRET_ARN` → the ARN, for `[runtime.secrets]`.
pub(super) fn secret_arns(cx: &PlanContext, spec: &RuntimeSpec) -> Vec<(String, SecretArn)> {
    let arns = cx.reference::<Secret>().unwrap_or_default();
    spec.secrets
        .iter()
        .filter_map(|(name, key)| {
            let arn = match arns.get(key)? {
                Some(arn) => SecretArn::Known(arn.clone()),
                None => SecretArn::Created(key.clone()),
            };
            Some((section::secret_arn_variable(name), arn))
        })
        .collect()
}

/// A runtime that failed to create, as the plan says it is recovered.
pub(super) const RECOVERY_REASON: &str = "recovering a runtime that failed to create: if AWS \
     refuses to update it, it is deleted and created again (it never served a request)";
pub(super) const RECOVERY_NOTE: &str = "created again, the runtime gets a new id, ARN and MCP \
     URL; this is the one delete infra makes on its own";

pub(super) const NOUN: Noun = Noun::tagged("an AgentCore runtime", "AgentCore runtimes");

pub(super) fn plan(cx: &PlanContext, spec: &RuntimeSpec, planner: &mut Planner) {
    let addr = planner.address(&spec.name);
    let found = cx.live.get::<Runtime>();
    if let (Lookup::Missing, Some((old, arn))) = (&found.runtime, found.named_otherwise.first()) {
        planner.block(
            &addr,
            Some("name"),
            format!(
                "this stack's runtime is named {old:?} ({arn}); AWS cannot rename a runtime in place, \
                 and a new one would get a new ARN and endpoint URL. Keep name = {old:?}"
            ),
        );
        return;
    }
    // Adopted (`adopt = true`), a runtime gets the stack's tags and, like any update, the whole
    // declared configuration (UpdateAgentRuntime replaces what it is not sent).
    let lookup = &found.runtime;
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
    let image = cx.reference::<Image>();
    let desired_uri = image.as_ref().and_then(|i| i.uri.clone());
    container_changes(live, image.as_ref(), &mut changes);
    let role_arn = cx.reference::<Role>().map(|r| r.arn);
    settings_changes(spec, live, role_arn.clone(), &mut changes);
    let mut notes = Vec::new();
    // A digest an earlier version ran (a rollback, or a revert in git): say which.
    if let Some(r) = live
        && let Some((version, digest)) = &r.same_image_as
        && r.container_uri != desired_uri
        && desired_uri
            .as_deref()
            .and_then(crate::resources::image::digest_in)
            == Some(digest.as_str())
    {
        notes.push(format!(
            "same image as version {version} ({digest}), which this runtime ran before"
        ));
    }
    let secret_arns = secret_arns(cx, spec);
    for (field, message) in environment_changes(spec, &secret_arns, live, &mut changes, &mut notes)
    {
        planner.block(&addr, Some(&field), message);
    }
    let authorizer = authorizer_changes(cx, planner, spec, live, &mut changes);
    // Moving the authorizer to another pool changes the JWT issuer: say what that breaks.
    if let Some(change) = changes.get("authorizer.discovery_url")
        && let Shown::Value(before) = &change.before
    {
        let old = before.as_str().unwrap_or_default();
        notes.push(format!(
            "the JWT authorizer moves to another user pool: access tokens issued by the old \
             pool ({}) stop working; clients sign in again (`infra token`)",
            old.trim_end_matches("/.well-known/openid-configuration")
        ));
    }
    if let Some(r) = live {
        // Not part of CreateAgentRuntime (AWS turns it on for new runtimes); every update sends
        // it. AWS rejects invocations of a runtime without it ("not MMDSv2-enabled").
        changes.value("require_mmdsv2", Some(r.require_mmdsv2), true);
    }
    if let Some(r) = live
        && r.status.ends_with("_FAILED")
    {
        changes.push(
            "status",
            Shown::Value(r.status.clone().into()),
            Shown::Value("READY".into()),
        );
        notes.push(format!(
            "{}: {}",
            r.status,
            r.failure_reason.as_deref().unwrap_or("no reason given")
        ));
        if r.status == "CREATE_FAILED" {
            notes.push(RECOVERY_NOTE.to_owned());
        }
    }
    if let Some(r) = live
        && !r.status.ends_with("_FAILED")
        && !r.deployed()
    {
        changes.push(
            "deployment",
            Shown::Value(r.deployment().into()),
            Shown::Value(
                format!("runtime READY v{0}, DEFAULT READY serving v{0}", r.version).into(),
            ),
        );
        notes.push(deployment_note(r));
    }
    tag_changes(&mut changes, live.map(|r| &r.tags), &cx.stack.tags());
    let only_tags = changes.only("tags");
    let only_wait = changes.only("deployment");
    let recover = live.is_some_and(|r| r.status == "CREATE_FAILED");
    let step = Step {
        spec: spec.clone(),
        live: live.cloned(),
        only_tags,
        only_wait,
        recover,
        container_uri: desired_uri.unwrap_or_default(),
        role_arn: role_arn.unwrap_or_default(),
        authorizer,
        secret_arns,
    };
    let mut planned = Planned::new(&spec.name, changes, live.map(|r| r.id.clone()));
    if recover {
        planned = planned.with_reason(RECOVERY_REASON);
    } else if claim.adopting && planned.action() == Action::Update {
        planned = planned.with_reason(if only_tags {
            "adopting: tags it for this stack; its configuration already is what the stack declares"
        } else {
            "adopting: tags it for this stack and updates its configuration to what the stack \
             declares (a new runtime version)"
        });
    }
    planner.add(planned.with_notes(notes).with_payload(step));
}

/// Why the runtime is not settled (not READY, or DEFAULT not READY serving its latest version),
/// as far as live state tells: a deployment under way, or DEFAULT settled on another version. Who
/// left it so (an apply stopped while it waited, another apply, a change by hand) is not in live
/// state, so the note names the possibilities.
pub(super) fn deployment_note(r: &LiveRuntime) -> String {
    let latest = &r.version;
    let waits = format!(
        "apply waits until DEFAULT serves version {latest} (no write when nothing else changes)"
    );
    let settling = |s: &str| matches!(s, "CREATING" | "UPDATING");
    match &r.default_endpoint {
        _ if settling(&r.status) => format!(
            "AgentCore is still making version {latest} (runtime {}): an earlier apply stopped \
             while it waited, or another apply or a change by hand is under way; {waits}",
            r.status
        ),
        Some((status, serving)) if settling(status) => format!(
            "the DEFAULT endpoint is {status}, moving to version {latest} (it serves {} until \
             then): an earlier apply stopped while it waited, or another apply or a change by hand \
             is under way; {waits}",
            serving.as_deref().unwrap_or("none")
        ),
        Some((status, serving)) if status == "READY" => format!(
            "the DEFAULT endpoint serves version {}, not the latest {latest}: an earlier apply \
             stopped before the endpoint moved, or it was changed by hand; {waits}",
            serving.as_deref().unwrap_or("none")
        ),
        Some((status, serving)) => format!(
            "the DEFAULT endpoint is {status} serving version {}, not the latest {latest}; apply \
             checks it again and stops with AWS's reason if it has not recovered",
            serving.as_deref().unwrap_or("none")
        ),
        None => format!("the runtime is {} at version {latest}; {waits}", r.status),
    }
}

/// The image: by digest, or "known after apply" for a tag in a repository this apply creates.
pub(super) fn container_changes(
    live: Option<&LiveRuntime>,
    image: Option<&ImageRef>,
    changes: &mut Changes,
) {
    let desired = image.and_then(|i| i.uri.as_deref());
    if image.is_some_and(|i| i.resolved_by_apply) {
        let before = live.and_then(|r| r.container_uri.clone());
        changes.push(
            "container_uri",
            before.map_or(Shown::Absent, |u| Shown::Value(u.into())),
            Shown::KnownAfterApply,
        );
    } else {
        changes.value(
            "container_uri",
            live.map(|r| r.container_uri.as_deref()),
            desired,
        );
    }
}

/// Role, network, protocol, description and lifecycle.
pub(super) fn settings_changes(
    spec: &RuntimeSpec,
    live: Option<&LiveRuntime>,
    role_arn: Option<String>,
    changes: &mut Changes,
) {
    changes.value("role_arn", live.map(|r| Some(r.role_arn.clone())), role_arn);
    changes.value(
        "network_mode",
        live.map(|r| r.network_mode.as_str()),
        spec.network_mode.as_aws(),
    );
    changes.value(
        "protocol",
        live.map(|r| r.protocol.as_deref()),
        Some(spec.protocol.as_aws()),
    );
    changes.value(
        "description",
        live.map(|r| r.description.clone()),
        spec.description.clone(),
    );
    changes.value(
        "idle_timeout_seconds",
        live.map(|r| r.idle_timeout_seconds),
        Some(spec.idle_timeout_seconds),
    );
    list_change(
        changes,
        "request_header_allowlist",
        live.map(|r| &r.request_header_allowlist),
        &spec.request_header_allowlist,
    );
    changes.value(
        "max_lifetime_seconds",
        live.map(|r| r.max_lifetime_seconds),
        Some(spec.max_lifetime_seconds),
    );
}

/// A list the stack declares whole (sorted on both sides); an empty one is not shown on create.
pub(super) fn list_change(
    changes: &mut Changes,
    field: &str,
    live: Option<&Vec<String>>,
    desired: &Vec<String>,
) {
    if live.is_some() || !desired.is_empty() {
        changes.value(field, live, desired);
    }
}

/// The JWT authorizer: the stack's pool's discovery URL and its client as the only allowed
/// client. Whether it is wired to them, for apply.
pub(super) fn authorizer_changes(
    cx: &PlanContext,
    planner: &Planner,
    spec: &RuntimeSpec,
    live: Option<&LiveRuntime>,
    changes: &mut Changes,
) -> bool {
    let live_auth = live.map(|r| r.authorizer.clone());
    let (Some(Authorizer::Cognito), Some(pool), Some(client)) = (
        spec.authorizer,
        planner.planned_kind::<UserPool>(),
        planner.planned_kind::<Client>(),
    ) else {
        if let Some(Some((url, _))) = live_auth {
            changes.push(
                "authorizer.discovery_url",
                Shown::Value(url.into()),
                Shown::Absent,
            );
        }
        return false;
    };
    match &pool.id {
        Some(id) => changes.value(
            "authorizer.discovery_url",
            live_auth.clone().map(|a| a.map(|(url, _)| url)),
            cx.derived::<UserPool>(DISCOVERY_URL, id),
        ),
        None => changes.push(
            "authorizer.discovery_url",
            live_auth
                .clone()
                .flatten()
                .map_or(Shown::Absent, |(url, _)| Shown::Value(url.into())),
            Shown::KnownAfterApply,
        ),
    }
    match &client.id {
        Some(id) => changes.value(
            "authorizer.allowed_clients",
            live_auth.map(|a| a.map(|(_, clients)| clients)),
            Some(vec![id.clone()]),
        ),
        None => changes.push(
            "authorizer.allowed_clients",
            Shown::Absent,
            Shown::KnownAfterApply,
        ),
    }
    list_change(
        changes,
        "authorizer.allowed_scopes",
        live.map(|r| &r.allowed_scopes),
        &spec.allowed_scopes,
    );
    list_change(
        changes,
        "authorizer.allowed_audience",
        live.map(|r| &r.allowed_audience),
        &spec.allowed_audience,
    );
    true
}

/// Per-variable changes. Secrets show as `(sensitive)`; an unset secret keeps the live value
/// (noted), or is a blocker when there is none. Returns the blockers as (field, message).
pub(super) fn environment_changes(
    spec: &RuntimeSpec,
    secret_arns: &[(String, SecretArn)],
    live: Option<&LiveRuntime>,
    changes: &mut Changes,
    notes: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut blockers = Vec::new();
    let live_env = live.map(|r| &r.environment);
    // A secret's ARN is no secret: it is shown, and the value never reaches the runtime.
    for (variable, arn) in secret_arns {
        let field = format!("environment.{variable}");
        let before = live_env.and_then(|e| e.get(variable));
        match arn {
            SecretArn::Known(arn) => {
                changes.value(&field, live.map(|_| before.cloned()), Some(arn.clone()))
            }
            SecretArn::Created(_) => changes.push(
                &field,
                before.map_or(Shown::Absent, |b| Shown::Value(b.clone().into())),
                Shown::KnownAfterApply,
            ),
        }
    }
    for (key, value) in &spec.environment {
        let field = format!("environment.{key}");
        let before = live_env.and_then(|e| e.get(key));
        match value {
            EnvValue::Plain(text) => {
                changes.value(&field, live.map(|_| before.cloned()), Some(text.clone()))
            }
            EnvValue::Secret {
                value: Some(secret),
                ..
            } => {
                if before.map(String::as_str) != Some(secret.expose().as_str()) {
                    let shown_before = if before.is_some() {
                        Shown::Sensitive
                    } else {
                        Shown::Absent
                    };
                    changes.push(&field, shown_before, Shown::Sensitive);
                }
            }
            EnvValue::Secret { var, value: None } => {
                if before.is_some() {
                    notes.push(format!(
                        "{field}: ${var} is unset, so the live value is kept"
                    ));
                } else {
                    blockers.push((
                        field,
                        format!("${var} is unset, and the runtime has no value for it yet"),
                    ));
                }
            }
        }
    }
    // A variable no longer declared: its value is shown as any plain value is, unless its name
    // says it is a secret (`*_SECRET_ARN`, from [runtime.secrets], included).
    for (key, value) in live_env.into_iter().flatten() {
        if !spec.environment.contains_key(key) && !secret_arns.iter().any(|(v, _)| v == key) {
            let before = if section::looks_secret(key) {
                Shown::Sensitive
            } else {
                Shown::Value(value.clone().into())
            };
            changes.push(&format!("environment.{key}"), before, Shown::Absent);
        }
    }
    blockers
}
