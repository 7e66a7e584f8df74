//! Identity without a state file: what a search by natural key found, whether the stack owns
//! it, and the tags that mark ownership.

use std::collections::BTreeMap;

use super::apply::ApplyContext;
use super::change::Changes;
use super::kind::Kind;
use super::planner::{PlanContext, Planner, ResourcePlan};
use crate::error::Error;
use crate::stack::TAG_STACK;

/// What a search by natural key found.
#[derive(Debug, Clone, Default)]
pub enum Lookup<T> {
    /// Not declared, or declared and absent.
    #[default]
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
    tags.get(TAG_STACK).is_some_and(|v| v == stack)
}

/// A live resource that may belong to a stack.
pub trait Owned {
    /// Its id or ARN, for messages.
    fn identifier(&self) -> &str;
    /// Whether it carries the stack's tag.
    fn owned(&self) -> bool;
}

/// How plans name a kind: "a user pool", "user pools", and what makes several of them this
/// stack's: "are tagged for this stack".
#[derive(Debug, Clone, Copy)]
pub struct Noun {
    pub one: &'static str,
    pub many: &'static str,
    pub ours: &'static str,
}

impl Noun {
    /// A kind whose resources carry the stack's tags.
    pub const fn tagged(one: &'static str, many: &'static str) -> Noun {
        Noun {
            one,
            many,
            ours: "are tagged for this stack",
        }
    }
}

/// The live resource a stack may change, as [`claim`] found it.
pub struct Claim<'a, T> {
    /// `None`: it does not exist yet.
    pub live: Option<&'a T>,
    /// Found without the stack's tag and adopted: apply tags it.
    pub adopting: bool,
}

impl<T> Claim<'_, T> {
    /// The reason a plan gives: adopting, or the default for the action.
    pub fn reason(&self, action: super::Action) -> String {
        if self.adopting && action == super::Action::Update {
            "adopting: tags it for this stack".into()
        } else {
            action.default_reason().into()
        }
    }
}

/// The live resource this stack may change: absent, owned, or adopted. A foreign (not tagged
/// for the stack, not adopted) or ambiguous one becomes a blocker on `address`, and `None` tells
/// the caller to plan nothing more for it.
pub fn claim<'a, T: Owned>(
    planner: &mut Planner,
    address: &str,
    name: &str,
    lookup: &'a Lookup<T>,
    what: Noun,
    adopt: bool,
    stack: &str,
) -> Option<Claim<'a, T>> {
    match lookup {
        Lookup::Missing => Some(Claim {
            live: None,
            adopting: false,
        }),
        Lookup::Found(found) if found.owned() || adopt => Some(Claim {
            live: Some(found),
            adopting: !found.owned(),
        }),
        Lookup::Found(found) => {
            planner.block(
                address,
                None,
                foreign_message(what.one, found.identifier(), stack),
            );
            None
        }
        Lookup::Many { ids, owned } => {
            let message = if *owned {
                format!(
                    "{} {} named {name:?} {}: {}. Keep one and delete the others; infra never guesses",
                    ids.len(),
                    what.many,
                    what.ours,
                    ids.join(", ")
                )
            } else {
                format!(
                    "{} {} named {name:?} exist, none tagged for this stack: {}. They are left untouched; choose another name",
                    ids.len(),
                    what.many,
                    ids.join(", ")
                )
            };
            planner.block(address, None, message);
            None
        }
    }
}

/// The standard blocker for a same-named resource this stack does not own. `what` comes with
/// its article: "a user pool". Every kind that can find a foreign resource (one that carries
/// tags, so [`claim`] may block on it) accepts `adopt` in its section.
pub fn foreign_message(what: &str, id: &str, stack: &str) -> String {
    format!(
        "{what} with this name already exists ({id}) but is not tagged {TAG_STACK}={stack}; \
         it is left untouched. To manage it with this stack, set `adopt = true` in its section: \
         apply then tags it and changes it to what the stack declares (the plan lists each \
         change). Or choose another name"
    )
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

/// Plan one resource again during apply, against live state just read: a create that found
/// the resource already there (made meanwhile by another apply, or by a retried call whose
/// answer was lost) continues as if the plan had found it. `live` is the kind's whole live
/// state with that resource in it. A blocker on `address` (a foreign resource, a field AWS
/// cannot change) is an error of `operation`.
pub fn replan<K: Kind>(
    cx: &ApplyContext<'_>,
    address: &str,
    operation: &'static str,
    live: K::Live,
) -> Result<ResourcePlan, Error> {
    let mut state = cx.live.clone();
    state.set::<K>(live);
    let plan_cx = PlanContext {
        stack: cx.stack,
        live: &state,
        vars: &cx.vars,
    };
    // What the kinds it depends on were planned as (and their ids since): a kind's plan may
    // refer to them (the runtime's authorizer to the pool and the client).
    let mut planner = Planner::default();
    planner.resources = cx.planned_of(K::DEPENDS_ON);
    planner.start(K::TYPE, K::DEPENDS_ON);
    K::plan(&plan_cx, &mut planner);
    if let Some(blocker) = planner.blockers.iter().find(|b| b.address == address) {
        let message = match &blocker.field {
            Some(field) => format!("{field}: {}", blocker.message),
            None => blocker.message.clone(),
        };
        return Err(Error::new(address, operation, message));
    }
    planner
        .resources
        .into_iter()
        .find(|r| r.address == address)
        .ok_or_else(|| {
            Error::new(
                address,
                operation,
                "internal error: planning it again did not plan it",
            )
        })
}
