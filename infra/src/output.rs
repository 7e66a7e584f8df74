//! `infra output`: the identifiers and endpoints a user needs, read from live AWS. Each kind
//! says what it contributes; the order is the registry's.

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::engine::{Live, Output, PlanContext};
use crate::registry::KINDS;
use crate::stack::Stack;

/// Each value is `None` when its resource does not exist (yet).
#[derive(Debug)]
pub struct Outputs(Vec<Output>);

impl Outputs {
    pub fn from_live(stack: &Stack, live: &Live) -> Outputs {
        let vars = live.vars(stack);
        let cx = PlanContext {
            stack,
            live,
            vars: &vars,
        };
        Outputs(KINDS.iter().flat_map(|k| k.outputs(&cx)).collect())
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

/// A JSON object in the same order as the text.
impl Serialize for Outputs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
