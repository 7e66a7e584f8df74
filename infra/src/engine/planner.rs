//! A plan and the planner that builds it: one [`ResourcePlan`] per declared (or undeclared but
//! owned) resource, plus the blockers that stop apply.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::change::{Action, Changes, FieldChange};
use super::kind::Kind;
use super::read::Live;
use crate::error::Error;
use crate::policy::Vars;
use crate::stack::Stack;

/// Everything a kind's planner may look at. Planning is pure: no IO.
pub struct PlanContext<'a> {
    pub stack: &'a Stack,
    pub live: &'a Live,
    pub vars: &'a Vars,
}

impl PlanContext<'_> {
    /// The id of another kind's resource as read ([`Kind::id`]); `None` when it does not exist
    /// yet (apply learns it: [`super::ApplyContext::id`]).
    pub fn id_of<K: Kind>(&self) -> Option<String> {
        K::id(self.stack, self.live.get::<K>())
    }

    /// A value that follows from an id of another kind ([`Kind::derived`]).
    pub fn derived<K: Kind>(&self, name: &str, id: &str) -> Option<String> {
        K::derived(name, id, self.vars)
    }

    /// What another kind's resource offers ([`Kind::planned_reference`]).
    pub fn reference<K: Kind>(&self) -> Option<K::Ref> {
        K::planned_reference(self)
    }

    /// The names the stack declares of another kind ([`Kind::declared_names`]).
    pub fn declared_names<K: Kind>(&self) -> Vec<String> {
        K::declared_names(self.stack)
    }

    /// What the kinds that depend on `K` name of it in their live state.
    pub fn named_by_dependents<K: Kind>(&self) -> Vec<String> {
        self.live.named_by_dependents::<K>()
    }
}

/// What a kind's planner hands to apply for one resource: the kind's own data, opaque to the
/// engine and never serialized (it may hold write-only values).
#[derive(Clone, Default)]
pub struct Payload(Option<Arc<dyn Any + Send + Sync>>);

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Payload(..)"
        } else {
            "Payload(none)"
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourcePlan {
    /// `type.name`: how plans, progress lines and errors name the resource.
    pub address: String,
    /// The kind: `cognito_user_pool`, `iam_role`, ...
    #[serde(rename = "type")]
    pub type_name: &'static str,
    pub name: String,
    pub action: Action,
    /// The live id, when the resource exists.
    pub id: Option<String>,
    /// Why this action was chosen.
    pub reason: String,
    pub changes: Vec<FieldChange>,
    /// Things worth knowing that change nothing (e.g. a password that is not managed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Addresses of the resources that apply handles first.
    pub depends_on: Vec<String>,
    /// Tagged for the stack but no longer declared: listed and kept (`NoOp`); `apply --prune`
    /// deletes it after the other changes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undeclared: bool,
    #[serde(skip)]
    pub payload: Payload,
}

impl ResourcePlan {
    /// Whether the plan changes `field` (an apply makes only the calls for what differs).
    pub fn changes(&self, field: &str) -> bool {
        self.changes.iter().any(|c| c.field == field)
    }

    /// The data the kind's planner attached for apply.
    pub fn payload<T: Any>(&self) -> Result<&T, Error> {
        self.payload
            .0
            .as_deref()
            .and_then(|p| (p as &dyn Any).downcast_ref::<T>())
            .ok_or_else(|| {
                Error::new(
                    &self.address,
                    "apply",
                    "internal error: the plan carries no data for this resource",
                )
            })
    }
}

/// A kind planner's verdict on one resource, before the engine places it in the plan.
#[derive(Debug, Clone)]
pub struct Planned {
    name: String,
    action: Action,
    id: Option<String>,
    reason: Option<String>,
    changes: Vec<FieldChange>,
    notes: Vec<String>,
    payload: Payload,
}

impl Planned {
    /// Create when there is no live id; otherwise update what `changes` lists, or nothing.
    pub fn new(name: impl Into<String>, changes: Changes, id: Option<String>) -> Planned {
        Planned {
            name: name.into(),
            action: changes.action(id.is_some()),
            id,
            reason: None,
            changes: changes.into_vec(),
            notes: Vec::new(),
            payload: Payload::default(),
        }
    }

    pub fn action(&self) -> Action {
        self.action
    }

    /// `infra destroy`: delete this resource the stack owns (`id`: its live id or ARN).
    pub fn destroyed(name: impl Into<String>, id: impl Into<String>) -> Planned {
        Planned::new(name, Changes::default(), Some(id.into()))
            .with_action(Action::Delete)
            .with_reason("owned by this stack")
    }

    /// `infra destroy`: leave this resource alone, and say why (`kept: ...` in the report).
    pub fn kept(name: impl Into<String>, id: Option<String>, why: impl Into<String>) -> Planned {
        Planned::new(name, Changes::default(), id)
            .with_action(Action::NoOp)
            .with_reason(why)
    }

    /// Force the action (a delete, or a no-op whose fields are shown for information).
    pub fn with_action(mut self, action: Action) -> Planned {
        self.action = action;
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Planned {
        self.reason = Some(reason.into());
        self
    }

    pub fn with_notes(mut self, notes: Vec<String>) -> Planned {
        self.notes = notes;
        self
    }

    pub fn with_payload<T: Any + Send + Sync>(mut self, payload: T) -> Planned {
        self.payload = Payload(Some(Arc::new(payload)));
        self
    }
}

/// Something that stops plan and apply: nothing is changed while any exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocker {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    pub region: String,
    pub account_id: String,
    pub resources: Vec<ResourcePlan>,
    pub blockers: Vec<Blocker>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.resources.iter().any(|r| r.action != Action::NoOp)
    }

    pub fn changed(&self) -> impl Iterator<Item = &ResourcePlan> {
        self.resources.iter().filter(|r| r.action != Action::NoOp)
    }

    pub fn resource(&self, address: &str) -> Option<&ResourcePlan> {
        self.resources.iter().find(|r| r.address == address)
    }
}

/// Accumulates resource plans and blockers, one kind after another in dependency order.
#[derive(Default)]
pub struct Planner {
    pub resources: Vec<ResourcePlan>,
    pub blockers: Vec<Blocker>,
    /// The kind being planned and the kinds it depends on (set by the engine).
    current: (&'static str, &'static [&'static str]),
}

/// Why a resource tagged for the stack is in its plan though the stack does not declare it.
pub const UNDECLARED: &str = "no longer declared; apply --prune deletes it";
/// Why `apply --prune` (or destroy) deletes such a resource.
pub const UNDECLARED_DELETED: &str = "tagged for this stack, no longer declared";

/// The address of a resource: `type.name`.
pub fn address(type_name: &str, name: &str) -> String {
    format!("{type_name}.{name}")
}

impl Planner {
    /// Plan the next kind: what it adds depends on everything planned of `depends_on`.
    pub fn start(&mut self, type_name: &'static str, depends_on: &'static [&'static str]) {
        self.current = (type_name, depends_on);
    }

    /// The address a resource of the kind being planned gets.
    pub fn address(&self, name: &str) -> String {
        address(self.current.0, name)
    }

    pub fn block(&mut self, address: &str, field: Option<&str>, message: impl Into<String>) {
        self.blockers.push(Blocker {
            address: address.to_owned(),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    /// `infra destroy`: refuse, before anything is deleted, because the section of the
    /// resource `name` (of the kind being planned) protects it; `why` names the setting.
    pub fn protect(&mut self, name: &str, field: &str, why: impl Into<String>) {
        let address = self.address(name);
        self.block(&address, Some(field), why);
    }

    /// Whether a resource of one of these kinds is blocked as a whole (not just one field): its
    /// dependents are then not planned, as they would only restate the same problem.
    pub fn any_blocked(&self, types: &[&str]) -> bool {
        self.blockers.iter().any(|b| {
            b.field.is_none()
                && types.iter().any(|t| {
                    b.address
                        .strip_prefix(t)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
        })
    }

    pub fn planned(&self, address: &str) -> Option<&ResourcePlan> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// The planned resource of another kind that has one (a duplicate being deleted is not it):
    /// its `id` is `None` when apply creates it.
    pub fn planned_kind<K: Kind>(&self) -> Option<&ResourcePlan> {
        self.resources
            .iter()
            .find(|r| r.type_name == K::TYPE && r.action != Action::Delete)
    }

    /// Whether a resource of another kind is planned to be deleted (`infra destroy`).
    pub fn deleting<K: Kind>(&self) -> bool {
        self.resources
            .iter()
            .any(|r| r.type_name == K::TYPE && r.action == Action::Delete)
    }

    /// The planned resource `name` of another kind.
    pub fn planned_named<K: Kind>(&self, name: &str) -> Option<&ResourcePlan> {
        self.planned(&address(K::TYPE, name))
    }

    /// Place a resource of the kind being planned in the plan.
    pub fn add(&mut self, planned: Planned) {
        let (type_name, depends_on) = self.current;
        let depends_on = depends_on
            .iter()
            .flat_map(|t| self.resources.iter().filter(move |r| r.type_name == *t))
            .map(|r| r.address.clone())
            .collect();
        self.resources.push(ResourcePlan {
            address: address(type_name, &planned.name),
            type_name,
            reason: planned
                .reason
                .unwrap_or_else(|| planned.action.default_reason().to_owned()),
            name: planned.name,
            action: planned.action,
            id: planned.id,
            changes: planned.changes,
            notes: planned.notes,
            depends_on,
            undeclared: false,
            payload: planned.payload,
        });
    }

    /// Place a resource of the kind being planned that the stack no longer declares (found
    /// tagged for it): listed and kept; `apply --prune` deletes it.
    /// One planned as kept (`Planned::kept`: it holds what the stack did not make) stays so,
    /// its reason after "no longer declared; ".
    pub fn add_undeclared(&mut self, planned: Planned) {
        let reason = match (&planned.action, &planned.reason) {
            (Action::NoOp, Some(why)) => format!("no longer declared; {why}"),
            _ => UNDECLARED.to_owned(),
        };
        self.add(planned.with_action(Action::NoOp).with_reason(reason));
        if let Some(r) = self.resources.last_mut() {
            r.undeclared = true;
            r.depends_on.clear();
        }
    }
}
