//! `infra output`: the identifiers and endpoints a user needs, read from live AWS. Each kind
//! says what it contributes; the order is the registry's.

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::engine::{Action, Live, Output, Plan, PlanContext};
use crate::registry::KINDS;
use crate::stack::Stack;

/// Each value is `None` when its resource does not exist (yet).
#[derive(Debug)]
pub struct Outputs(Vec<Output>, Vec<Status>);

/// How one declared resource stands against the stack, from a plan of live AWS.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub address: String,
    /// `ok`, `missing` (not created), `differs` (apply would update it), `failed` (AWS reports
    /// a failed state), or `blocked` (duplicates, a foreign resource, ...).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Status {
    /// Whether this makes the stack "not deployed or broken": output then exits 1.
    pub fn is_broken(&self) -> bool {
        matches!(self.status, "missing" | "failed" | "blocked")
    }
}

/// Each resource's status, from a plan made without signing in (write-only values unchecked).
pub fn statuses(plan: &Plan) -> Vec<Status> {
    let mut out: Vec<Status> = plan
        .resources
        .iter()
        .map(|r| {
            let failed = r.changes("status");
            let (status, detail) = match r.action {
                Action::NoOp => ("ok", None),
                Action::Create => ("missing", None),
                Action::Update | Action::Delete if failed => ("failed", r.notes.first().cloned()),
                Action::Update | Action::Delete => {
                    let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
                    (
                        "differs",
                        Some(format!("apply would change {}", fields.join(", "))),
                    )
                }
            };
            Status {
                address: r.address.clone(),
                status,
                detail,
            }
        })
        .collect();
    for b in &plan.blockers {
        match out.iter_mut().find(|s| s.address == b.address) {
            Some(s) => {
                s.status = "blocked";
                s.detail = Some(b.message.clone());
            }
            None => out.push(Status {
                address: b.address.clone(),
                status: "blocked",
                detail: Some(b.message.clone()),
            }),
        }
    }
    out
}

impl Outputs {
    pub fn from_live(stack: &Stack, live: &Live) -> Outputs {
        let vars = live.vars(stack);
        let cx = PlanContext {
            stack,
            live,
            vars: &vars,
        };
        let plan = crate::plan::plan(stack, live);
        Outputs(
            KINDS.iter().flat_map(|k| k.outputs(&cx)).collect(),
            statuses(&plan),
        )
    }

    pub fn statuses(&self) -> &[Status] {
        &self.1
    }

    /// The resources that make the stack not deployed or broken.
    pub fn broken(&self) -> impl Iterator<Item = &Status> {
        self.1.iter().filter(|s| s.is_broken())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// `name = value` lines, like `terraform output`.
    pub fn write_text(&self, w: &mut dyn Write) -> io::Result<()> {
        for (name, value) in &self.0 {
            writeln!(
                w,
                "{name} = {}",
                value.as_deref().unwrap_or("(not created)")
            )?;
        }
        Ok(())
    }
}

/// A JSON object in the same order as the text, and `resources`: each one's status.
impl Serialize for Outputs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len() + 1))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.serialize_entry("resources", &self.1)?;
        map.end()
    }
}
