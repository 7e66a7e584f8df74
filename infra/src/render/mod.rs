//! What `plan` and `apply` print, generic over the writer so tests capture exactly what a user
//! sees.
//!
//! ```text
//! text.rs      plan → text: glyphs, colour when asked, unified diffs of documents
//! json.rs      plan → JSON (docs/plan.schema.json); apply → one JSON event per line
//! markdown.rs  plan → Markdown for a pull-request comment
//! ```
//! The formats are documented in docs/plan-format.md.

mod json;
mod markdown;
mod text;

use serde_json::Value;
use similar::TextDiff;

use crate::engine::{Action, Shown};

pub use json::{Check, Event, Events, json};
pub use markdown::markdown;
pub use text::{header, text};

/// ANSI styling, or none at all.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    fn action(&self, action: Action, text: &str) -> String {
        match action {
            Action::Create => self.green(text),
            Action::Update => self.yellow(text),
            Action::Delete => self.red(text),
            Action::NoOp => text.to_owned(),
        }
    }
}

/// A value on one line: compact JSON, or the marker of a value that is not shown.
fn scalar(shown: &Shown) -> String {
    match shown {
        Shown::Absent => "null".into(),
        Shown::Value(v) => serde_json::to_string(v).expect("JSON serializes"),
        Shown::Document(v) => {
            serde_json::to_string(&crate::policy::keys_sorted(v)).expect("JSON serializes")
        }
        Shown::Sensitive => crate::sensitive::REDACTED.into(),
        Shown::KnownAfterApply => "(known after apply)".into(),
    }
}

/// A document as shown: pretty JSON, keys sorted, ending in a newline.
fn pretty(v: &Value) -> String {
    let mut s =
        serde_json::to_string_pretty(&crate::policy::keys_sorted(v)).expect("JSON serializes");
    s.push('\n');
    s
}

/// The unified diff of two documents (pretty JSON), live first: `--- live`, `+++ stack`, hunks
/// with three lines of context.
fn unified(before: &Value, after: &Value) -> String {
    let (before, after) = (pretty(before), pretty(after));
    TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header("live", "stack")
        .to_string()
}
