//! `plan(&Stack, &Live) -> Plan`: pure, no IO. Decides per resource what apply must do, and why.

use serde::Serialize;
use serde_json::Value;

use crate::live::Live;
use crate::policy::Vars;
use crate::resources::{cognito_client, cognito_pool, cognito_user, iam_role, iam_role_policy};
use crate::stack::Stack;

/// The closed set of things apply may do to a resource. Never delete-and-recreate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    NoOp,
}

impl Action {
    pub fn glyph(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::NoOp => ' ',
        }
    }

    /// "will be ..." in the plan.
    pub fn future(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated in place",
            Action::Delete => "deleted",
            Action::NoOp => "left unchanged",
        }
    }

    /// The progress line while apply runs it.
    pub fn progressive(self) -> &'static str {
        match self {
            Action::Create => "Creating",
            Action::Update => "Modifying",
            Action::Delete => "Deleting",
            Action::NoOp => "Reading",
        }
    }

    pub fn past(self) -> &'static str {
        match self {
            Action::Create => "Creation",
            Action::Update => "Modifications",
            Action::Delete => "Destruction",
            Action::NoOp => "Read",
        }
    }
}

/// What a field looks like in a plan. Secrets are only ever `Sensitive`.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Absent,
    Value(Value),
    /// A JSON document (IAM policy), compared canonically and shown as a diff.
    Document(Value),
    Sensitive,
    KnownAfterApply,
}

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Absent => s.serialize_none(),
            Shown::Value(v) | Shown::Document(v) => v.serialize(s),
            Shown::Sensitive => s.serialize_str(crate::sensitive::REDACTED),
            Shown::KnownAfterApply => s.serialize_str("(known after apply)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Shown,
    pub after: Shown,
}

/// A resource kind, and which declared resource it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    UserPool,
    Client,
    User(String),
    Role,
    RolePolicy(String),
}

impl Kind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::UserPool => "cognito_user_pool",
            Kind::Client => "cognito_user_pool_client",
            Kind::User(_) => "cognito_user",
            Kind::Role => "iam_role",
            Kind::RolePolicy(_) => "iam_role_policy",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourcePlan {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: &'static str,
    pub name: String,
    #[serde(skip)]
    pub kind: Kind,
    pub action: Action,
    /// The live id, when the resource exists.
    pub id: Option<String>,
    /// Why this action was chosen.
    pub reason: String,
    pub changes: Vec<FieldChange>,
    /// Things worth knowing that change nothing (e.g. a password that is not managed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub depends_on: Vec<String>,
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
}

/// Collects the fields that differ between live and desired. With no live resource, every
/// desired field is listed (what a create will set).
#[derive(Default)]
pub struct Changes(Vec<FieldChange>);

impl Changes {
    pub fn value<T: Serialize>(&mut self, field: &str, live: Option<T>, desired: T) {
        let after = serde_json::to_value(desired).expect("plan values serialize");
        let before = live.map(|v| serde_json::to_value(v).expect("plan values serialize"));
        if before.as_ref() != Some(&after) {
            self.0.push(FieldChange {
                field: field.to_owned(),
                before: before.map_or(Shown::Absent, Shown::Value),
                after: Shown::Value(after),
            });
        }
    }

    /// Compare JSON documents canonically; show them canonically too.
    pub fn document(&mut self, field: &str, live: Option<&Value>, desired: &Value) {
        let after = crate::policy::canonical(desired);
        let before = live.map(crate::policy::canonical);
        if before.as_ref() != Some(&after) {
            self.0.push(FieldChange {
                field: field.to_owned(),
                before: before.map_or(Shown::Absent, Shown::Document),
                after: Shown::Document(after),
            });
        }
    }

    pub fn push(&mut self, field: &str, before: Shown, after: Shown) {
        self.0.push(FieldChange {
            field: field.to_owned(),
            before,
            after,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldChange> {
        self.0
    }
}

/// Everything a resource's planner may look at.
pub struct PlanContext<'a> {
    pub stack: &'a Stack,
    pub live: &'a Live,
    pub vars: &'a Vars,
}

/// Accumulates resource plans and blockers.
#[derive(Default)]
pub struct Planner {
    pub resources: Vec<ResourcePlan>,
    pub blockers: Vec<Blocker>,
}

impl Planner {
    pub fn block(&mut self, address: &str, field: Option<&str>, message: impl Into<String>) {
        self.blockers.push(Blocker {
            address: address.to_owned(),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    /// Whether the resource itself (not just one field) is blocked: its dependents are then not
    /// planned either, as they would only restate the same problem.
    pub fn is_blocked(&self, address: &str) -> bool {
        self.blockers
            .iter()
            .any(|b| b.address == address && b.field.is_none())
    }

    pub fn planned(&self, address: &str) -> Option<&ResourcePlan> {
        self.resources.iter().find(|r| r.address == address)
    }
}

/// Decide, for every declared resource, what apply must do.
pub fn plan(stack: &Stack, live: &Live) -> Plan {
    let vars = live.vars(stack);
    let cx = PlanContext {
        stack,
        live,
        vars: &vars,
    };
    let mut planner = Planner::default();
    cognito_pool::plan(&cx, &mut planner);
    cognito_client::plan(&cx, &mut planner);
    cognito_user::plan(&cx, &mut planner);
    iam_role::plan(&cx, &mut planner);
    iam_role_policy::plan(&cx, &mut planner);

    let mut summary = Summary::default();
    for r in &planner.resources {
        match r.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Delete => summary.delete += 1,
            Action::NoOp => {}
        }
    }
    Plan {
        format_version: 1,
        stack: stack.name.clone(),
        region: live.region.clone(),
        account_id: live.account_id.clone(),
        resources: planner.resources,
        blockers: planner.blockers,
        summary,
    }
}
