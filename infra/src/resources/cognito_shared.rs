//! What the Cognito kinds share (pools and app clients are both found by a name that is not
//! unique): ordering same-named resources by age, and planning the delete of a duplicate.

use aws_sdk_cognitoidentityprovider::primitives::{DateTime, DateTimeFormat};

use crate::engine::{Action, Changes, Planned, Shown};
use crate::stack::validate::NameRule;

/// Cognito's pattern for pool and client names: `[\w\s+=,.@-]+`, 1-128 characters.
pub const COGNITO_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    allowed: |c| {
        c.is_ascii_alphanumeric() || c == '_' || c.is_ascii_whitespace() || "+=,.@-".contains(c)
    },
    described: "1-128 characters: ASCII letters, digits, spaces and _+=,.@-",
};

/// How pools and clients are ordered to pick the one to keep: creation date, then id.
pub fn age_key<'a>(created: Option<&DateTime>, id: &'a str) -> (i64, u32, &'a str) {
    created.map_or((i64::MAX, 0, id), |d| (d.secs(), d.subsec_nanos(), id))
}

/// The delete of a same-named duplicate (a pool or an app client) left by two applies at once:
/// its id and creation date, shown as going away, and why. The caller adds its payload.
pub fn planned_duplicate(
    name: &str,
    id_field: &str,
    id: &str,
    created: Option<&DateTime>,
    reason: String,
) -> Planned {
    let mut changes = Changes::default();
    changes.push(id_field, Shown::Value(id.to_owned().into()), Shown::Absent);
    changes.push(
        "created",
        Shown::Value(shown_date(created).into()),
        Shown::Absent,
    );
    Planned::new(format!("{name}[{id}]"), changes, Some(id.to_owned()))
        .with_action(Action::Delete)
        .with_reason(reason)
}

/// A date as plans show it.
pub fn shown_date(created: Option<&DateTime>) -> String {
    created
        .and_then(|d| d.fmt(DateTimeFormat::DateTime).ok())
        .unwrap_or_else(|| "at an unknown date".to_owned())
}
