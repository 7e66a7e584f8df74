//! Plan → text: what `plan` and `apply` show a person.

use std::io::{self, Write};

use super::{Style, pretty, scalar, unified};
use crate::engine::{Action, FieldChange, Plan, ResourcePlan, Shown};

/// `Stack NAME (account ID, REGION)` and a blank line: how every plan starts.
pub fn header(plan: &Plan, style: Style, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "{} {} (account {}, {})",
        style.bold("Stack"),
        plan.stack,
        plan.account_id,
        plan.region
    )?;
    writeln!(w)
}

pub fn text(plan: &Plan, style: Style, w: &mut dyn Write) -> io::Result<()> {
    header(plan, style, w)?;
    for r in &plan.resources {
        if r.undeclared {
            let id =
                r.id.as_deref()
                    .map(|id| format!(" [id={id}]"))
                    .unwrap_or_default();
            writeln!(w, "  {} {} ({}){id}", style.red("-"), r.address, r.reason)?;
            for note in &r.notes {
                writeln!(w, "      # note: {note}")?;
            }
            writeln!(w)?;
        } else if r.action != Action::NoOp || !r.notes.is_empty() {
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
            plan.resources.iter().filter(|r| !r.undeclared).count()
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
            diff(&unified(before, after), style, w)
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

fn indented(text: &str, w: &mut dyn Write) -> io::Result<()> {
    for line in text.lines() {
        writeln!(w, "          {line}")?;
    }
    Ok(())
}

/// A unified diff, indented under its field, painted line by line.
fn diff(unified: &str, style: Style, w: &mut dyn Write) -> io::Result<()> {
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
