//! Plan → text (glyphs, colour when asked, unified diffs of documents) or JSON. Generic over the
//! writer, so tests capture exactly what a user sees.

use std::io::{self, Write};

use serde_json::Value;
use similar::TextDiff;

use crate::engine::{Action, FieldChange, Plan, ResourcePlan, Shown};

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

pub fn json(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, plan)?;
    writeln!(w)
}

pub fn text(plan: &Plan, style: Style, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "{} {} (account {}, {})",
        style.bold("Stack"),
        plan.stack,
        plan.account_id,
        plan.region
    )?;
    writeln!(w)?;
    for r in &plan.resources {
        if r.action != Action::NoOp || !r.notes.is_empty() {
            resource(r, style, w)?;
        }
    }
    if !plan.blockers.is_empty() {
        writeln!(
            w,
            "{}",
            style.red(&style.bold("This plan cannot be applied:"))
        )?;
        for b in &plan.blockers {
            match &b.field {
                Some(field) => writeln!(
                    w,
                    "  {} {}: {field}: {}",
                    style.red("✗"),
                    b.address,
                    b.message
                )?,
                None => writeln!(w, "  {} {}: {}", style.red("✗"), b.address, b.message)?,
            }
        }
        writeln!(w)?;
        writeln!(w, "Nothing was changed.")?;
        return Ok(());
    }
    if plan.has_changes() {
        let s = plan.summary;
        writeln!(
            w,
            "{} {} to create, {} to update, {} to delete.",
            style.bold("Plan:"),
            s.create,
            s.update,
            s.delete
        )
    } else {
        writeln!(
            w,
            "{} Live AWS matches the stack ({} resources).",
            style.green(&style.bold("No changes.")),
            plan.resources.len()
        )
    }
}

fn resource(r: &ResourcePlan, style: Style, w: &mut dyn Write) -> io::Result<()> {
    let id =
        r.id.as_deref()
            .map(|id| format!(" [id={id}]"))
            .unwrap_or_default();
    writeln!(
        w,
        "  # {} will be {}: {}{id}",
        r.address,
        r.action.future(),
        r.reason
    )?;
    let glyph = r.action.glyph();
    writeln!(
        w,
        "  {} {}",
        style.action(r.action, &glyph.to_string()),
        style.bold(&r.address)
    )?;
    for change in &r.changes {
        field(change, style, w)?;
    }
    for note in &r.notes {
        writeln!(w, "      # note: {note}")?;
    }
    writeln!(w)
}

fn field(c: &FieldChange, style: Style, w: &mut dyn Write) -> io::Result<()> {
    let pad = "      ";
    match (&c.before, &c.after) {
        (Shown::Document(before), Shown::Document(after)) => {
            writeln!(w, "{pad}{} {}:", style.yellow("~"), c.field)?;
            diff(&pretty(before), &pretty(after), style, w)
        }
        (Shown::Absent, Shown::Document(after)) => {
            writeln!(w, "{pad}{} {} =", style.green("+"), c.field)?;
            indented(&pretty(after), w)
        }
        (Shown::Document(before), Shown::Absent) => {
            writeln!(w, "{pad}{} {} =", style.red("-"), c.field)?;
            indented(&pretty(before), w)
        }
        (Shown::Absent, after) => writeln!(
            w,
            "{pad}{} {} = {}",
            style.green("+"),
            c.field,
            scalar(after)
        ),
        (before, Shown::Absent) => writeln!(
            w,
            "{pad}{} {} = {}",
            style.red("-"),
            c.field,
            scalar(before)
        ),
        (before, after) => writeln!(
            w,
            "{pad}{} {}: {} -> {}",
            style.yellow("~"),
            c.field,
            scalar(before),
            scalar(after)
        ),
    }
}

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

fn pretty(v: &Value) -> String {
    let mut s =
        serde_json::to_string_pretty(&crate::policy::keys_sorted(v)).expect("JSON serializes");
    s.push('\n');
    s
}

fn indented(text: &str, w: &mut dyn Write) -> io::Result<()> {
    for line in text.lines() {
        writeln!(w, "          {line}")?;
    }
    Ok(())
}

/// A unified diff of two documents, live first.
fn diff(before: &str, after: &str, style: Style, w: &mut dyn Write) -> io::Result<()> {
    let diff = TextDiff::from_lines(before, after);
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header("live", "stack")
        .to_string();
    for line in unified.lines() {
        let painted = if line.starts_with("+++") || line.starts_with("---") {
            style.bold(line)
        } else if line.starts_with('+') {
            style.green(line)
        } else if line.starts_with('-') {
            style.red(line)
        } else {
            line.to_owned()
        };
        writeln!(w, "          {painted}")?;
    }
    Ok(())
}
