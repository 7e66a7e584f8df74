//! Planning the pool: its settings against what was read, and the duplicates to delete or
//! explain.

use super::*;

/// Why a duplicate pool must not be deleted by infra, if it must not: deletion protection, or
/// something in it that the stack does not declare.
pub(super) fn kept_because(duplicate: &Duplicate, cx: &PlanContext) -> Option<String> {
    if duplicate.deletion_protection {
        return Some("deletion protection is on".into());
    }
    let declared_clients = cx.declared_names::<Client>();
    let clients: Vec<&str> = duplicate
        .clients
        .iter()
        .map(String::as_str)
        .filter(|c| !declared_clients.iter().any(|d| d == c))
        .collect();
    if !clients.is_empty() {
        return Some(format!(
            "it has app clients the stack does not declare: {}",
            clients.join(", ")
        ));
    }
    let Some(users) = &duplicate.users else {
        return Some(format!(
            "it has {} users, more than the stack declares",
            duplicate.estimated_users
        ));
    };
    const NAMED: usize = 5;
    let declared_users = cx.declared_names::<User>();
    let undeclared: Vec<&str> = users
        .iter()
        .map(String::as_str)
        .filter(|u| !declared_users.iter().any(|d| d == u))
        .collect();
    if !undeclared.is_empty() {
        let more = match undeclared.len().saturating_sub(NAMED) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Some(format!(
            "it has users the stack does not declare: {}{more}",
            undeclared[..undeclared.len().min(NAMED)].join(", ")
        ));
    }
    None
}

pub(super) const NOUN: Noun = Noun::tagged("a user pool", "user pools");

pub(super) fn plan(cx: &PlanContext, spec: &UserPoolSpec, planner: &mut Planner) {
    let addr = planner.address(&spec.name);
    let Some(claim) = claim(
        planner,
        &addr,
        &spec.name,
        cx.live.get::<UserPool>(),
        NOUN,
        spec.adopt,
        &cx.stack.name,
    ) else {
        return;
    };
    let live = claim.live;
    if let Some(pool) = live
        && let Some(message) = duplicates_kept(cx, spec, pool)
    {
        planner.block(&addr, None, message);
        return;
    }
    if let Some(pool) = live {
        let desired: Vec<String> = spec
            .username_attributes
            .iter()
            .map(|a| a.as_aws().to_owned())
            .collect();
        if pool.username_attributes != desired {
            planner.block(
                &addr,
                Some("username_attributes"),
                format!(
                    "is {:?} in AWS and {:?} in the stack; Cognito cannot change a pool's sign-in attributes after creation. \
                     Keep the live value, or declare a new pool under another name and move users",
                    pool.username_attributes, desired
                ),
            );
        }
    }

    let mut changes = Changes::default();
    password_policy_changes(
        &mut changes,
        live.map(|p| &p.password_policy),
        &spec.password_policy,
    );
    changes.value(
        "deletion_protection",
        live.map(|p| p.deletion_protection),
        spec.deletion_protection,
    );
    if live.is_none() && !spec.username_attributes.is_empty() {
        changes.value("username_attributes", None, &spec.username_attributes);
    }
    tag_changes(&mut changes, live.map(|pool| &pool.tags), &cx.stack.tags());

    let planned = Planned::new(&spec.name, changes, live.map(|p| p.id.clone()));
    let reason = match live {
        None => format!("no user pool named {:?} exists", spec.name),
        Some(_) => claim.reason(planned.action()),
    };
    planner.add(planned.with_reason(reason).with_payload(Step {
        spec: spec.clone(),
        live: live.cloned(),
    }));
    for duplicate in live.map_or(&[][..], |p| &p.duplicates[..]) {
        let kept = live.map_or("", |p| p.id.as_str());
        planner.add(
            planned_duplicate(
                &spec.name,
                "user_pool_id",
                &duplicate.id,
                duplicate.created.as_ref(),
                format!(
                    "a second user pool named {:?} tagged for this stack (left by two applies \
                     at once); the stack keeps {kept}, and this one holds nothing the stack does \
                     not declare",
                    spec.name
                ),
            )
            .with_payload(Extra {
                id: duplicate.id.clone(),
                protected: false,
            }),
        );
    }
}

/// When a duplicate pool holds something the stack does not declare (or is protected), the
/// blocker's message: which pool is kept and why, each pool's creation date and contents, and
/// how to remove the extra ones by hand.
pub(super) fn duplicates_kept(
    cx: &PlanContext,
    spec: &UserPoolSpec,
    pool: &LivePool,
) -> Option<String> {
    let kept: Vec<(&Duplicate, String)> = pool
        .duplicates
        .iter()
        .filter_map(|d| Some((d, kept_because(d, cx)?)))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let runtime_uses = in_use(&cx.named_by_dependents::<UserPool>(), &pool.id);
    let why = if runtime_uses {
        "the runtime's authorizer uses it"
    } else {
        "the oldest; the runtime's authorizer uses none of them"
    };
    let mut text = format!(
        "{} user pools named {:?} are tagged for this stack (left by two applies at once): \
         infra keeps {} (created {}; {why}) and deletes the others only when they hold nothing \
         the stack does not declare. ",
        pool.duplicates.len() + 1,
        spec.name,
        pool.id,
        shown_date(pool.created.as_ref()),
    );
    let details: Vec<String> = kept
        .iter()
        .map(|(d, reason)| {
            format!(
                "{} (created {}; app clients: {}, users: {}): {reason}",
                d.id,
                shown_date(d.created.as_ref()),
                d.clients.len(),
                d.estimated_users
            )
        })
        .collect();
    text.push_str(&details.join("; "));
    let commands: Vec<String> = kept
        .iter()
        .map(|(d, _)| {
            let unprotect = if d.deletion_protection {
                format!(
                    "aws cognito-idp update-user-pool --user-pool-id {} --deletion-protection INACTIVE && ",
                    d.id
                )
            } else {
                String::new()
            };
            format!(
                "{unprotect}aws cognito-idp delete-user-pool --user-pool-id {}",
                d.id
            )
        })
        .collect();
    text.push_str(&format!(
        ". Check what is in it, then delete it: {}",
        commands.join("; ")
    ));
    Some(text)
}

pub(super) fn password_policy_changes(
    changes: &mut Changes,
    live: Option<&PasswordPolicy>,
    want: &PasswordPolicy,
) {
    let field = |name: &str| format!("password_policy.{name}");
    changes.value(
        &field("minimum_length"),
        live.map(|p| p.minimum_length),
        want.minimum_length,
    );
    changes.value(
        &field("require_uppercase"),
        live.map(|p| p.require_uppercase),
        want.require_uppercase,
    );
    changes.value(
        &field("require_lowercase"),
        live.map(|p| p.require_lowercase),
        want.require_lowercase,
    );
    changes.value(
        &field("require_numbers"),
        live.map(|p| p.require_numbers),
        want.require_numbers,
    );
    changes.value(
        &field("require_symbols"),
        live.map(|p| p.require_symbols),
        want.require_symbols,
    );
    changes.value(
        &field("temporary_password_validity_days"),
        live.map(|p| p.temporary_password_validity_days),
        want.temporary_password_validity_days,
    );
}
