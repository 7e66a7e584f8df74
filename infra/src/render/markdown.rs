//! Plan → Markdown, for a pull-request comment (GitHub-flavoured): a summary line, one
//! collapsible block per resource that changes (its changes in a ```diff fence), the blockers
//! in their own section.
//!
//! Every value comes from the stack file or from live AWS, so none is trusted as Markdown:
//! changes and notes are inside a fence longer than any run of backticks they hold, the
//! `<summary>` line is HTML-escaped, identifiers are code spans, prose is escaped.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{pretty, scalar, unified};
use crate::engine::{Action, FieldChange, Plan, ResourcePlan, Shown};

pub fn markdown(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "**infra plan** for stack {} (account {}, {})",
        code(&plan.stack),
        code(&plan.account_id),
        code(&plan.region)
    )?;
    writeln!(w)?;
    let s = plan.summary;
    if !plan.blockers.is_empty() {
        writeln!(
            w,
            "**Plan:** cannot be applied: {} problem(s) to fix first, listed below.",
            plan.blockers.len()
        )?;
    } else if plan.has_changes() {
        writeln!(
            w,
            "**Plan:** {} to create, {} to update, {} to delete.",
            s.create, s.update, s.delete
        )?;
    } else {
        writeln!(
            w,
            "**No changes.** Live AWS matches the stack ({} resources).",
            plan.resources.iter().filter(|r| !r.undeclared).count()
        )?;
    }
    for r in &plan.resources {
        if r.undeclared {
            writeln!(w)?;
            writeln!(w, "- {} ({})", code(&r.address), r.reason)?;
        } else if r.action != Action::NoOp || !r.notes.is_empty() {
            writeln!(w)?;
            resource(r, w)?;
        }
    }
    if !plan.blockers.is_empty() {
        writeln!(w)?;
        writeln!(w, "#### This plan cannot be applied")?;
        writeln!(w)?;
        for b in &plan.blockers {
            let field = b
                .field
                .as_deref()
                .map(|f| format!(" ({})", code(f)))
                .unwrap_or_default();
            writeln!(w, "- {}{field}: {}", code(&b.address), inline(&b.message))?;
        }
        writeln!(w)?;
        writeln!(w, "Nothing was changed.")?;
    }
    Ok(())
}

fn resource(r: &ResourcePlan, w: &mut dyn Write) -> io::Result<()> {
    let id =
        r.id.as_deref()
            .map(|id| format!(" [id={id}]"))
            .unwrap_or_default();
    writeln!(
        w,
        "<details><summary><code>{} {}</code> will be {}: {}</summary>",
        r.action.glyph(),
        html(&r.address),
        r.action.future(),
        html(&format!("{}{id}", r.reason))
    )?;
    let mut body = String::new();
    for change in &r.changes {
        field(change, &mut body);
    }
    for note in &r.notes {
        let _ = writeln!(body, "# note: {}", one_line(note));
    }
    if !body.is_empty() {
        let fence = fence(&body);
        writeln!(w)?;
        writeln!(w, "{fence}diff")?;
        write!(w, "{body}")?;
        writeln!(w, "{fence}")?;
    }
    writeln!(w)?;
    writeln!(w, "</details>")
}

/// One field's change as diff lines: `-` what is live, `+` what the stack declares.
fn field(c: &FieldChange, out: &mut String) {
    let name = one_line(&c.field);
    let lines = |out: &mut String, sign: char, value: &serde_json::Value| {
        let _ = writeln!(out, "{sign} {name} =");
        for line in pretty(value).lines() {
            let _ = writeln!(out, "{sign}   {line}");
        }
    };
    match (&c.before, &c.after) {
        (Shown::Document(before), Shown::Document(after)) => {
            let _ = writeln!(out, "~ {name}:");
            out.push_str(&unified(before, after));
        }
        (Shown::Absent, Shown::Document(after)) => lines(out, '+', after),
        (Shown::Document(before), Shown::Absent) => lines(out, '-', before),
        (Shown::Absent, after) => {
            let _ = writeln!(out, "+ {name} = {}", scalar(after));
        }
        (before, Shown::Absent) => {
            let _ = writeln!(out, "- {name} = {}", scalar(before));
        }
        (before, after) => {
            let _ = writeln!(out, "- {name} = {}", scalar(before));
            let _ = writeln!(out, "+ {name} = {}", scalar(after));
        }
    }
}

/// A line break would end a list item, a summary or a code span: one line instead.
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\r', '\n'], " ")
}

/// The longest run of backticks in `text`.
fn backticks(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A code fence that `body` cannot close: longer than any run of backticks in it.
fn fence(body: &str) -> String {
    "`".repeat((backticks(body) + 1).max(3))
}

/// A code span: its content is shown as is (no Markdown, no HTML), whatever backticks it holds.
fn code(text: &str) -> String {
    let text = one_line(text);
    let ticks = "`".repeat(backticks(&text) + 1);
    let pad = if text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// Text in HTML (`<summary>`): no tag, no entity, on one line.
fn html(text: &str) -> String {
    one_line(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Prose in Markdown, inside a list item: no tag, no link or image (no unescaped bracket), no
/// emphasis, no code, on one line (so no heading, table or block either).
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{code, fence, html, inline};
    use crate::engine::{Action, Blocker, FieldChange, Plan, ResourcePlan, Shown, Summary};

    fn plan_with(reason: &str, value: &str, note: &str, blocker: &str) -> Plan {
        Plan {
            format_version: 1,
            stack: "demo".into(),
            region: "us-west-2".into(),
            account_id: "111122223333".into(),
            resources: vec![ResourcePlan {
                address: "iam_role.role".into(),
                type_name: "iam_role",
                name: "role".into(),
                action: Action::Update,
                id: Some("AROA1".into()),
                reason: reason.into(),
                changes: vec![FieldChange {
                    field: "description".into(),
                    before: Shown::Value(value.into()),
                    after: Shown::Sensitive,
                }],
                notes: vec![note.into()],
                depends_on: Vec::new(),
                undeclared: false,
                payload: Default::default(),
            }],
            blockers: vec![Blocker {
                address: "iam_role.role".into(),
                field: None,
                message: blocker.into(),
            }],
            summary: Summary {
                create: 0,
                update: 1,
                delete: 0,
            },
        }
    }

    fn render(plan: &Plan) -> String {
        let mut out = Vec::new();
        super::markdown(plan, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_value_cannot_close_the_fence_or_open_html() {
        let hostile = "```\n</details><img src=x onerror=alert(1)>\n```";
        let out = render(&plan_with(hostile, hostile, hostile, hostile));
        // The fence around the changes is longer than the value's backticks: only the
        // renderer's own lines open and close it.
        let fences: Vec<&str> = out.lines().filter(|l| l.starts_with("````")).collect();
        assert_eq!(fences, ["````diff", "````"], "{out}");
        // Outside the fence, no tag but the renderer's own.
        let outside: String = out
            .split("````diff")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once("\n````\n").unwrap().1
                }
            })
            .collect();
        assert!(!outside.contains("<img"), "{out}");
        assert_eq!(outside.matches("</details>").count(), 1, "{out}");
        // A value's own line breaks stay inside one line of the fence.
        assert!(
            out.contains("- description = \"```\\n</details><img"),
            "{out}"
        );
        assert!(out.contains("+ description = (sensitive)"), "{out}");
    }

    #[test]
    fn escapes() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(fence("a ```` b"), "`````");
        assert_eq!(fence("none"), "```");
        assert_eq!(html("<b>&amp;</b>"), "&lt;b&gt;&amp;amp;&lt;/b&gt;");
        assert_eq!(
            inline("[x](http://e) *y* <i>\nz"),
            "\\[x\\](http://e) \\*y\\* &lt;i&gt; z"
        );
    }
}
