//! `infra destroy`: the plan of deletions, a confirmation, the deletes, and a report of what
//! was deleted and what was kept and why.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;

use super::*;
use crate::engine::{Action, Destroying, ResourcePlan};

pub(super) async fn command(cli: &Cli, stack: &Stack, args: &DestroyArgs) -> Result<u8, Error> {
    // Refused before anything is read.
    if !args.yes && (args.json || !io::stdin().is_terminal()) {
        eprintln!(
            "error: destroy needs confirmation, and {}. Run `infra destroy` on a terminal to \
             review and confirm, or `infra destroy --yes` to destroy without a prompt",
            if args.json {
                "--json shows no plan to confirm"
            } else {
                "stdin is not a terminal"
            }
        );
        return Ok(EXIT_ERROR);
    }
    let aws = connect(cli, stack).await?;
    let live = live::read_for_destroy(&aws, stack).await?;
    let options = Destroying {
        force: args.force_delete_images,
    };
    let plan = crate::destroy::plan(stack, &live, &options);
    let style = cli.style();
    if !args.json {
        let mut out = io::stdout().lock();
        if text(&plan, style, &mut out)
            .and_then(|()| out.flush())
            .is_err()
        {
            return Ok(EXIT_ERROR);
        }
    }
    if !plan.blockers.is_empty() {
        if args.json {
            print_json(&Report::new(&plan, &[], &[]));
        }
        eprintln!(
            "error: destroy refused ({} problem(s)); nothing was deleted",
            plan.blockers.len()
        );
        return Ok(EXIT_ERROR);
    }
    if !plan.has_changes() {
        if args.json {
            print_json(&Report::new(&plan, &[], &[]));
        }
        return Ok(EXIT_OK);
    }
    let question = format!(
        "Do you really want to destroy every resource listed above of the stack {}?",
        stack.name
    );
    if !args.yes && !confirm(&question) {
        eprintln!("Destroy cancelled; nothing was deleted.");
        return Ok(EXIT_ERROR);
    }
    let printer = Printer::new();
    let quiet = Quiet;
    let progress: &dyn Progress = if args.json { &quiet } else { &printer };
    let timeout = Duration::from_secs(args.timeout);
    let done = crate::destroy::run(&aws, stack, &live, &plan, progress, timeout).await;
    report_errors(cli, &done.errors, None);
    if args.json {
        print_json(&Report::new(&plan, &done.deleted, &done.errors));
    } else {
        report(&plan, &done.deleted, style);
    }
    if done.errors.is_empty() {
        return Ok(EXIT_OK);
    }
    eprintln!(
        "Destroy stopped. What is listed as deleted is gone; nothing that depends on what \
         failed was touched. Fix the cause and run destroy again: it continues from what is left."
    );
    Ok(EXIT_ERROR)
}

/// After `apply --prune`'s deletes: their errors said; `false` when any failed.
pub(super) fn pruned(
    cli: &Cli,
    done: &crate::destroy::Destroyed,
    events: Option<&render::Events>,
) -> bool {
    report_errors(cli, &done.errors, events);
    if !done.errors.is_empty() {
        eprintln!(
            "Apply stopped while deleting what the stack no longer declares; the changes \
             above are done. Fix the cause and run `infra apply --prune` again."
        );
    }
    done.errors.is_empty()
}

/// `--json`: no progress lines (the report says what was deleted).
struct Quiet;

impl Progress for Quiet {
    fn line(&self, _text: &str) {}
}

/// The plan of deletions, as a person reads it.
pub fn text(plan: &Plan, style: render::Style, w: &mut dyn Write) -> io::Result<()> {
    render::header(plan, style, w)?;
    for r in plan.resources.iter().filter(|r| r.action == Action::Delete) {
        writeln!(
            w,
            "  # {} will be destroyed: {}{}",
            r.address,
            r.reason,
            id(r)
        )?;
        writeln!(w, "  {} {}", style.red("-"), style.bold(&r.address))?;
        for note in &r.notes {
            writeln!(w, "      # note: {note}")?;
        }
        writeln!(w)?;
    }
    for r in kept(plan) {
        writeln!(w, "  # {} is {}{}", r.address, r.reason, id(r))?;
    }
    if kept(plan).next().is_some() {
        writeln!(w)?;
    }
    if !plan.blockers.is_empty() {
        writeln!(
            w,
            "{}",
            style.red(&style.bold("This stack cannot be destroyed:"))
        )?;
        for b in &plan.blockers {
            let field = b
                .field
                .as_deref()
                .map(|f| format!("{f}: "))
                .unwrap_or_default();
            writeln!(
                w,
                "  {} {}: {field}{}",
                style.red("✗"),
                b.address,
                b.message
            )?;
        }
        writeln!(w)?;
        return writeln!(w, "Nothing was deleted.");
    }
    if plan.has_changes() {
        writeln!(
            w,
            "{} {} to delete.",
            style.bold("Destroy:"),
            plan.summary.delete
        )
    } else {
        writeln!(
            w,
            "{} none of the stack's resources exist{}.",
            style.green(&style.bold("Nothing to destroy:")),
            if kept(plan).next().is_some() {
                " (besides what is kept)"
            } else {
                ""
            }
        )
    }
}

fn id(r: &ResourcePlan) -> String {
    r.id.as_deref()
        .map(|id| format!(" [id={id}]"))
        .unwrap_or_default()
}

fn kept(plan: &Plan) -> impl Iterator<Item = &ResourcePlan> {
    plan.resources.iter().filter(|r| r.action == Action::NoOp)
}

/// The report at the end: what was deleted, what was kept and why.
fn report(plan: &Plan, deleted: &[String], style: render::Style) {
    println!();
    let all = deleted.len() == plan.summary.delete;
    println!(
        "{} {} of {} deleted.",
        if all {
            style.green(&style.bold("Destroy complete!"))
        } else {
            style.red(&style.bold("Destroy incomplete."))
        },
        deleted.len(),
        plan.summary.delete
    );
    for address in deleted {
        println!("  deleted: {address}");
    }
    for r in plan.changed().filter(|r| !deleted.contains(&r.address)) {
        println!("  not deleted: {}", r.address);
    }
    for r in kept(plan) {
        println!("  kept: {} ({})", r.address, kept_why(r));
    }
}

/// The reason after `kept: `.
fn kept_why(r: &ResourcePlan) -> &str {
    r.reason.strip_prefix("kept: ").unwrap_or(&r.reason)
}

/// `destroy --json`: one document.
#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    stack: &'a str,
    region: &'a str,
    account_id: &'a str,
    /// Every resource the plan deletes, in order.
    planned: Vec<Entry<'a>>,
    deleted: &'a [String],
    kept: Vec<Entry<'a>>,
    blockers: &'a [crate::engine::Blocker],
    errors: Vec<String>,
    complete: bool,
}

#[derive(Serialize)]
struct Entry<'a> {
    address: &'a str,
    id: Option<&'a str>,
    reason: &'a str,
}

impl<'a> Report<'a> {
    fn new(plan: &'a Plan, deleted: &'a [String], errors: &[Error]) -> Report<'a> {
        let entry = |r: &'a ResourcePlan| Entry {
            address: &r.address,
            id: r.id.as_deref(),
            reason: if r.action == Action::NoOp {
                kept_why(r)
            } else {
                &r.reason
            },
        };
        Report {
            format_version: 1,
            stack: &plan.stack,
            region: &plan.region,
            account_id: &plan.account_id,
            planned: plan.changed().map(entry).collect(),
            deleted,
            kept: kept(plan).map(entry).collect(),
            blockers: &plan.blockers,
            errors: errors.iter().map(ToString::to_string).collect(),
            complete: plan.blockers.is_empty()
                && errors.is_empty()
                && deleted.len() == plan.summary.delete,
        }
    }
}

fn print_json(report: &Report) {
    if let Ok(text) = serde_json::to_string_pretty(report) {
        println!("{text}");
    }
}
