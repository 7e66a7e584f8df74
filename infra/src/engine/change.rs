//! What a plan says about one resource: the action, and each field that differs.

use serde::Serialize;
use serde_json::Value;

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

    /// The reason a plan gives when the kind has nothing more specific to say.
    pub fn default_reason(self) -> &'static str {
        match self {
            Action::Create => "does not exist",
            Action::Update => "live settings differ from the stack",
            Action::Delete => "exists but is not declared",
            Action::NoOp => "matches the stack",
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
            Shown::Value(v) => v.serialize(s),
            Shown::Document(v) => crate::policy::keys_sorted(v).serialize(s),
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

/// Collects the fields that differ between live and desired. With no live resource, every
/// desired field is listed (what a create will set).
#[derive(Debug, Default)]
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

    /// Compared canonically; shown as written (keys sorted), so a list stays a list.
    pub fn document(&mut self, field: &str, live: Option<&Value>, desired: &Value) {
        let equal =
            live.is_some_and(|l| crate::policy::canonical(l) == crate::policy::canonical(desired));
        if !equal {
            self.0.push(FieldChange {
                field: field.to_owned(),
                before: live.cloned().map_or(Shown::Absent, Shown::Document),
                after: Shown::Document(desired.clone()),
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

    /// The change of `field`, when it differs.
    pub fn get(&self, field: &str) -> Option<&FieldChange> {
        self.0.iter().find(|c| c.field == field)
    }

    /// Whether something differs, and only `field`.
    pub fn only(&self, field: &str) -> bool {
        !self.0.is_empty() && self.0.iter().all(|c| c.field == field)
    }

    /// Create when nothing exists; otherwise update in place, or nothing when nothing differs.
    pub fn action(&self, exists: bool) -> Action {
        match (exists, self.is_empty()) {
            (false, _) => Action::Create,
            (true, true) => Action::NoOp,
            (true, false) => Action::Update,
        }
    }

    pub fn into_vec(self) -> Vec<FieldChange> {
        self.0
    }
}
