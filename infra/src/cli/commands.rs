//! One function per command: `plan`, `apply` (with the check after it), `output`, `init`.

use std::io::{self, BufRead, IsTerminal, Write};

use super::*;
use crate::apply;
use crate::aws::Aws;
use crate::engine::Backoff;
use std::time::Duration;

pub(super) async fn plan_command(cli: &Cli, stack: &Stack, args: &PlanArgs) -> Result<u8, Error> {
    let prepared = prepare(stack).await?;
    let write_only = if args.skip_password_check {
        WriteOnly::Skip
    } else {
        WriteOnly::Verify
    };
    let aws = connect(cli, stack).await?;
    let (live, plan) = read_and_plan_with(&aws, stack, &prepared, write_only).await?;
    let mut out = io::stdout().lock();
    let written = if args.json {
        render::json(&plan, &mut out)
    } else {
        render::text(&plan, cli.style(), &mut out)
    };
    if written.and_then(|()| out.flush()).is_err() {
        return Ok(EXIT_ERROR);
    }
    if let Some(code) = refuse_blocked(&plan) {
        if args.out.is_some() {
            eprintln!("The plan was not saved: a plan that cannot be applied is not kept.");
        }
        return Ok(code);
    }
    if let Some(path) = &args.out {
        save_plan(stack, &live, &plan, path)?;
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

/// `plan --out FILE`: the plan and its fingerprint, for `apply FILE`.
fn save_plan(stack: &Stack, live: &Live, plan: &Plan, path: &std::path::Path) -> Result<(), Error> {
    let mut text = Vec::new();
    render::text(plan, render::Style { color: false }, &mut text)
        .map_err(|e| Error::new("plan", "--out", e.to_string()))?;
    crate::saved::SavedPlan::new(stack, live, plan, String::from_utf8_lossy(&text).into())
        .and_then(|saved| saved.write(path))
        .map_err(|e| Error::new("plan", "--out", e))?;
    eprintln!(
        "Saved the plan to {}: `infra apply {}` applies exactly it, while live AWS still matches.",
        path.display(),
        path.display()
    );
    Ok(())
}

/// A saved plan that may be applied to `stack` (by this infra, from this stack file's content),
/// read before anything else is.
fn load_saved(stack: &Stack, path: &std::path::Path) -> Result<crate::saved::SavedPlan, Error> {
    let saved =
        crate::saved::SavedPlan::read(path).map_err(|e| Error::new("apply", "saved plan", e))?;
    match saved.refusal(stack) {
        Some(why) => Err(Error::new("apply", "saved plan", why)),
        None => Ok(saved),
    }
}

/// Exit 1 when live AWS no longer matches what the saved plan was made from, naming each
/// resource and field that changed since.
fn refuse_stale(
    stack: &Stack,
    live: &Live,
    plan: &Plan,
    saved: &crate::saved::SavedPlan,
) -> Option<u8> {
    let now = crate::saved::fingerprint(stack, live, plan);
    let changed = crate::saved::changed_since(&saved.fingerprint, &now);
    if changed.is_empty() {
        return None;
    }
    eprintln!("error: the plan is stale: live AWS changed since it was made; nothing was changed.");
    for line in &changed {
        eprintln!("  {line}");
    }
    eprintln!("Plan again, review, and apply the new plan.");
    Some(EXIT_ERROR)
}

/// `infra show FILE`: a saved plan as `plan` printed it (or `--json`).
pub(super) fn show_command(args: &ShowArgs) -> u8 {
    let saved = match crate::saved::SavedPlan::read(&args.file) {
        Ok(saved) => saved,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&saved.plan).unwrap_or_default()
        );
    } else {
        print!("{}", saved.text);
        println!(
            "\nSaved by infra {} for stack {} (account {}, {}); write-only values {}.",
            saved.infra_version,
            saved.stack,
            saved.account_id,
            saved.region,
            saved.write_only_values
        );
    }
    EXIT_OK
}

pub(super) async fn apply_command(cli: &Cli, stack: &Stack, args: &ApplyArgs) -> Result<u8, Error> {
    // A saved plan was reviewed: no prompt. Refused before anything is read when it is not
    // one this infra may apply to this stack file.
    let saved = match &args.plan_file {
        Some(path) => Some(load_saved(stack, path)?),
        None => None,
    };
    if saved.is_none() && !args.yes && !io::stdin().is_terminal() {
        eprintln!(
            "error: apply needs confirmation, and stdin is not a terminal. \
             Run `infra plan` to review, then `infra apply --yes` to apply without a prompt"
        );
        return Ok(EXIT_ERROR);
    }
    let prepared = prepare(stack).await?;
    let (aws, live, plan) = read_and_plan(cli, stack, &prepared).await?;
    let style = cli.style();
    if render::text(&plan, style, &mut io::stdout().lock()).is_err() {
        return Ok(EXIT_ERROR);
    }
    if let Some(code) = refuse_blocked(&plan) {
        return Ok(code);
    }
    if let Some(saved) = &saved
        && let Some(code) = refuse_stale(stack, &live, &plan, saved)
    {
        return Ok(code);
    }
    if !plan.has_changes() {
        return Ok(EXIT_OK);
    }
    if saved.is_none() && !args.yes && !confirm() {
        eprintln!("Apply cancelled; nothing was changed.");
        return Ok(EXIT_ERROR);
    }

    let printer = Printer::new();
    let timeout = std::time::Duration::from_secs(args.timeout);
    let applied = match apply::apply(&aws, stack, &live, &plan, &printer, timeout).await {
        Ok(applied) => applied,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
                hints(cli, e);
            }
            eprintln!(
                "Apply stopped. What is listed as complete above is done; the resources named \
                 in the errors may be partly changed, and those not started were not changed. \
                 Fix the cause and run apply again: it continues from the live state."
            );
            return Ok(EXIT_ERROR);
        }
    };
    println!();
    println!(
        "{} Resources: {} created, {} updated, {} deleted.",
        style.green(&style.bold("Apply complete!")),
        applied.created,
        applied.updated,
        applied.deleted
    );
    let verified = verify(&aws, stack, &prepared).await?;
    if verified != EXIT_OK || args.no_check || check_disabled() {
        return Ok(verified);
    }
    crate::client::commands::check_after_apply(&aws, stack, &args.user).await
}

/// `INFRA_CHECK=0` (or `false`, `no`, `off`) turns the post-apply check off.
pub(super) fn check_disabled() -> bool {
    std::env::var("INFRA_CHECK").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        )
    })
}

/// Prove an apply: read everything again; the new plan must be empty. IAM and Cognito are
/// eventually consistent, so a fresh write may take a moment to show: retry briefly.
pub(super) async fn verify(aws: &Aws, stack: &Stack, prepared: &Prepared) -> Result<u8, Error> {
    let converged = |plan: &Plan| !plan.has_changes() && plan.blockers.is_empty();
    let (_, mut after) = read_and_plan_with(aws, stack, prepared, WriteOnly::Verify).await?;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4)).times(3);
    while !converged(&after) && backoff.sleep().await {
        (_, after) = read_and_plan_with(aws, stack, prepared, WriteOnly::Verify).await?;
    }
    if converged(&after) {
        println!("Verified: live AWS matches the stack.");
        return Ok(EXIT_OK);
    }
    eprintln!("error: apply did not converge; a fresh plan still shows changes:");
    for r in after.changed() {
        let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
        eprintln!(
            "  {} {} ({})",
            r.action.glyph(),
            r.address,
            fields.join(", ")
        );
    }
    for b in &after.blockers {
        eprintln!("  ✗ {}: {}", b.address, b.message);
    }
    Ok(EXIT_ERROR)
}

pub(super) async fn output_command(
    cli: &Cli,
    stack: &Stack,
    args: &OutputArgs,
) -> Result<u8, Error> {
    let aws = connect(cli, stack).await?;
    let live = live::read(&aws, stack, WriteOnly::Skip, &Prepared::default()).await?;
    let outputs = crate::output::Outputs::from_live(stack, &live);
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &outputs)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        outputs.write_text(&mut out)
    };
    if written.is_err() {
        return Ok(EXIT_ERROR);
    }
    // Not deployed, or broken: say which resources and why, and exit 1 (scripts that read the
    // values must not go on with half of them).
    let broken: Vec<_> = outputs.broken().collect();
    if broken.is_empty() {
        return Ok(EXIT_OK);
    }
    let missing = broken.iter().filter(|s| s.status == "missing").count();
    if missing == broken.len() && missing == outputs.statuses().len() {
        eprintln!(
            "error: the stack is not deployed: none of its {missing} resources exists; run `infra apply`"
        );
        return Ok(EXIT_ERROR);
    }
    eprintln!("error: the stack is not fully deployed or is broken:");
    for s in broken {
        match &s.detail {
            Some(detail) => eprintln!("  {} {}: {detail}", s.address, s.status),
            None => eprintln!("  {} {}", s.address, s.status),
        }
    }
    Ok(EXIT_ERROR)
}

pub(super) fn init_command(cli: &Cli, args: &InitArgs) -> u8 {
    let raw = args.name.clone().unwrap_or_else(|| {
        let dir = std::path::absolute(&cli.stack)
            .ok()
            .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            .unwrap_or_default();
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let name = crate::init::stack_name(&raw);
    if args.name.as_deref().is_some_and(|given| given != name) {
        eprintln!("note: the stack is named {name:?} (AWS names allow a-z, 0-9 and -)");
    }
    match crate::init::write(&cli.stack, &name) {
        Ok(()) => {
            println!(
                "Wrote {} for the stack {name:?}. Next: export COGNITO_PASSWORD and \
                 OPENAI_API_KEY, then `infra plan`.",
                cli.stack.display()
            );
            EXIT_OK
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} already exists; infra init never overwrites a stack file (pass \
                 --stack NEW_PATH to write another)",
                cli.stack.display()
            );
            EXIT_ERROR
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", cli.stack.display());
            EXIT_ERROR
        }
    }
}

pub(super) fn confirm() -> bool {
    print!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}
