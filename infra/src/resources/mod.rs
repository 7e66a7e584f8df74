//! One file per resource kind. Each holds the live shape (`Live*`), the reader (`read`, IO),
//! the planner (`plan`, pure) and the applier (`apply`, IO), so a new kind is one new file plus
//! a line in `plan.rs`, `live.rs` and `apply.rs`.

pub mod cognito_client;
pub mod cognito_pool;
pub mod cognito_user;
pub mod ecr_repository;
pub mod iam_role;
pub mod iam_role_policy;
pub mod image;
pub mod runtime;

use std::collections::BTreeMap;

use crate::plan::{Changes, Planner};

/// What a search by natural key found.
#[derive(Debug, Clone)]
pub enum Lookup<T> {
    /// Not declared, or declared and absent.
    Missing,
    Found(T),
    /// More than one candidate: never guess. `owned` tells whether they carry this stack's tag.
    Many {
        ids: Vec<String>,
        owned: bool,
    },
}

impl<T> Lookup<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(t) => Some(t),
            _ => None,
        }
    }
}

/// Whether `tags` say the resource belongs to `stack`.
pub fn owned_by(tags: &BTreeMap<String, String>, stack: &str) -> bool {
    tags.get(crate::stack::TAG_STACK)
        .is_some_and(|v| v == stack)
}

/// Record the stack tags a resource lacks (or has with another value) as a `tags` change.
/// Other tags on the resource are not the stack's business and are left alone.
pub fn tag_changes(
    changes: &mut Changes,
    live: Option<&BTreeMap<String, String>>,
    desired: &BTreeMap<String, String>,
) {
    let Some(live) = live else {
        changes.value("tags", None, desired);
        return;
    };
    let wrong: BTreeMap<&String, &String> = desired
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .collect();
    if !wrong.is_empty() {
        let before: BTreeMap<&String, &String> = wrong
            .keys()
            .filter_map(|k| live.get_key_value(*k))
            .collect();
        changes.value("tags", Some(before), wrong);
    }
}

/// The live resource this stack may change: absent, owned, or adopted. A foreign (not tagged
/// for the stack, not adopted) or ambiguous one becomes a blocker, and `Err` tells the caller
/// to plan nothing more for it: `None`. `identity` gives a found resource's id (for messages) and
/// whether the stack owns it; `what` comes with its article: "an IAM role".
pub fn claim<'a, T>(
    planner: &mut Planner,
    address: &str,
    lookup: &'a Lookup<T>,
    what: &str,
    adopt: bool,
    stack: &str,
    identity: impl Fn(&T) -> (&str, bool),
) -> Option<Option<&'a T>> {
    match lookup {
        Lookup::Missing => Some(None),
        Lookup::Found(found) => match identity(found) {
            (_, true) => Some(Some(found)),
            (_, false) if adopt => Some(Some(found)),
            (id, false) => {
                planner.block(address, None, foreign_message(what, id, stack));
                None
            }
        },
        Lookup::Many { ids, .. } => {
            planner.block(
                address,
                None,
                format!("several answer to this name: {}", ids.join(", ")),
            );
            None
        }
    }
}

/// The standard blocker for a same-named resource this stack does not own. `what` comes with
/// its article: "a user pool".
pub fn foreign_message(what: &str, id: &str, stack: &str) -> String {
    format!(
        "{what} with this name already exists ({id}) but is not tagged {}={stack}; \
         it is left untouched. To manage it with this stack, set `adopt = true` in its section \
         (apply then tags it), or choose another name",
        crate::stack::TAG_STACK
    )
}
