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
    let written = match args.format() {
        PlanFormat::Json => render::json(&plan, &mut out),
        PlanFormat::Markdown => render::markdown(&plan, &mut out),
        PlanFormat::Text => render::text(&plan, cli.style(), &mut out),
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
    events: Option<&render::Events>,
) -> Option<u8> {
    let now = crate::saved::fingerprint(stack, live, plan);
    let changed = crate::saved::changed_since(&saved.fingerprint, &now);
    if changed.is_empty() {
        return None;
    }
    eprintln!("error: the plan is stale: live AWS changed since it was made; nothing was changed.");
    for line in &changed {
        eprintln!("  {line}");
        if let Some(events) = events {
            events.problem(None, &format!("the plan is stale: {line}"));
        }
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
    if !args.json {
        return apply_steps(cli, stack, args, None).await;
    }
    // `apply --json`: events on stdout (errors on stderr too), the summary last.
    let events = render::Events::stdout();
    let result = apply_steps(cli, stack, args, Some(&events)).await;
    if let Err(e) = &result {
        events.error(e);
    }
    events.summary(matches!(result, Ok(EXIT_OK)));
    result
}

/// `apply`, printing text, or with `events` (`apply --json`) reporting each step as an event.
async fn apply_steps(
    cli: &Cli,
    stack: &Stack,
    args: &ApplyArgs,
    events: Option<&render::Events>,
) -> Result<u8, Error> {
    let refuse = |message: &str| {
        eprintln!("error: {message}");
        if let Some(events) = events {
            events.problem(None, message);
        }
        Ok(EXIT_ERROR)
    };
    // A saved plan was reviewed: no prompt. Refused before anything is read when it is not
    // one this infra may apply to this stack file.
    let saved = match &args.plan_file {
        Some(path) => Some(load_saved(stack, path)?),
        None => None,
    };
    // `--json` shows no plan that one could confirm.
    if saved.is_none() && !args.yes && args.json {
        return refuse(
            "apply --json shows no plan to confirm. Run `infra plan` to review, then \
             `infra apply --json --yes`, or apply a saved plan: `infra apply --json FILE`",
        );
    }
    if saved.is_none() && !args.yes && !io::stdin().is_terminal() {
        return refuse(
            "apply needs confirmation, and stdin is not a terminal. \
             Run `infra plan` to review, then `infra apply --yes` to apply without a prompt",
        );
    }
    let prepared = prepare(stack).await?;
    let (aws, live, plan) = read_and_plan(cli, stack, &prepared).await?;
    let style = cli.style();
    match events {
        Some(events) => events.started(&plan),
        None => {
            if render::text(&plan, style, &mut io::stdout().lock()).is_err() {
                return Ok(EXIT_ERROR);
            }
        }
    }
    if let Some(code) = refuse_blocked(&plan) {
        if let Some(events) = events {
            plan.blockers.iter().for_each(|b| events.blocked(b));
        }
        return Ok(code);
    }
    if let Some(saved) = &saved
        && let Some(code) = refuse_stale(stack, &live, &plan, saved, events)
    {
        return Ok(code);
    }
    let pruned = crate::destroy::prune(&plan);
    let prune = args.prune && pruned.has_changes();
    if !plan.has_changes() && !prune {
        return Ok(EXIT_OK);
    }
    if saved.is_none() && !args.yes && !confirm("Do you want to perform these actions?") {
        eprintln!("Apply cancelled; nothing was changed.");
        return Ok(EXIT_ERROR);
    }

    let printer = Printer::new();
    let progress: &dyn Progress = match events {
        Some(events) => events,
        None => &printer,
    };
    let timeout = std::time::Duration::from_secs(args.timeout);
    let applied = match apply::apply(&aws, stack, &live, &plan, progress, timeout).await {
        Ok(applied) => applied,
        Err(errors) => {
            report_errors(cli, &errors, events);
            eprintln!(
                "Apply stopped. What is listed as complete above is done; the resources named \
                 in the errors may be partly changed, and those not started were not changed. \
                 Fix the cause and run apply again: it continues from the live state."
            );
            return Ok(EXIT_ERROR);
        }
    };
    let applied = if prune {
        let done = crate::destroy::run(&aws, stack, &live, &pruned, progress, timeout).await;
        if !super::destroy::pruned(cli, &done, events) {
            return Ok(EXIT_ERROR);
        }
        apply::Applied {
            deleted: applied.deleted + done.deleted.len(),
            ..applied
        }
    } else {
        applied
    };
    if events.is_none() {
        println!();
        println!(
            "{} Resources: {} created, {} updated, {} deleted.",
            style.green(&style.bold("Apply complete!")),
            applied.created,
            applied.updated,
            applied.deleted
        );
    }
    let verified = verify(&aws, stack, &prepared, events).await?;
    if let Some(events) = events
        && verified == EXIT_OK
    {
        return check_events(&aws, stack, args, events).await;
    }
    if verified != EXIT_OK || args.no_check || check_disabled() {
        return Ok(verified);
    }
    crate::client::commands::check_after_apply(&aws, stack, &args.user, deep_check(args)).await
}

/// `apply --check deep`, or `INFRA_CHECK=deep`: the check after apply also calls `web_search`.
pub(super) fn deep_check(args: &ApplyArgs) -> bool {
    match args.check {
        Some(depth) => depth == CheckDepth::Deep,
        None => std::env::var("INFRA_CHECK").is_ok_and(|v| v.trim().eq_ignore_ascii_case("deep")),
    }
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

/// `apply --json`: the check after apply as a `check` event, `skipped` (with why) where the
/// text apply skips it or says nothing; a failure is also on stderr.
async fn check_events(
    aws: &Aws,
    stack: &Stack,
    args: &ApplyArgs,
    events: &render::Events,
) -> Result<u8, Error> {
    use crate::client::{endpoint, mcp, takes_cognito_tokens, token as tokens};
    let skip = |why: &str| {
        events.check(render::Check::skipped(why));
        Ok(EXIT_OK)
    };
    if args.no_check {
        return skip("--no-check");
    }
    if check_disabled() {
        return skip("INFRA_CHECK turns it off");
    }
    if !stack.declares::<crate::resources::runtime::Runtime>() {
        return skip("the stack declares no [runtime]");
    }
    if !takes_cognito_tokens(stack) {
        return skip(
            "the runtime has no Cognito JWT authorizer (infra's client signs in with Cognito only)",
        );
    }
    let user = &args.user;
    let spec = tokens::user(stack, user.user.as_deref())?;
    let saved = user
        .refresh_token_file
        .as_deref()
        .is_some_and(std::path::Path::exists);
    if spec.password.is_none() && !saved {
        return skip(&format!(
            "${} is not set, so there is no password to sign in with",
            spec.password_env
        ));
    }
    let found = endpoint(aws, stack).await?;
    let app = tokens::app_client(aws, stack).await?;
    let token = tokens::access_token(aws, &app, spec, user.refresh_token_file.as_deref()).await?;
    let target = mcp::Target {
        url: found.url.clone(),
        token: Some(token),
        headers: Vec::new(),
        context: Some(found.status),
    };
    let (check, code) = match mcp::check(&target).await {
        Ok(checked) => {
            // The secret's startup line, and `web_search` with `--check deep`.
            let proven = crate::client::check::prove(
                aws,
                stack,
                &target,
                &found.runtime_id,
                deep_check(args),
            )
            .await;
            for warning in &proven.warnings {
                eprintln!("warning: {warning}");
            }
            if let Some(failure) = &proven.failure {
                eprintln!("error: the check failed: {failure}");
            }
            let code = if proven.failure.is_some() {
                EXIT_ERROR
            } else {
                EXIT_OK
            };
            (
                render::Check {
                    status: if code == EXIT_OK { "passed" } else { "failed" },
                    url: Some(found.url),
                    server: Some(checked.server),
                    tools: Some(checked.tools.iter().map(|t| t.name.to_string()).collect()),
                    duration_ms: Some(
                        u64::try_from(checked.elapsed.as_millis()).unwrap_or(u64::MAX),
                    ),
                    reason: proven.failure,
                },
                code,
            )
        }
        Err(failure) => {
            eprintln!("error: the MCP check failed: {failure}");
            (
                render::Check {
                    status: "failed",
                    url: Some(found.url),
                    server: None,
                    tools: None,
                    duration_ms: None,
                    reason: Some(failure.message),
                },
                EXIT_ERROR,
            )
        }
    };
    events.check(check);
    Ok(code)
}

/// Prove an apply: read everything again; the new plan must be empty. IAM and Cognito are
/// eventually consistent, so a fresh write may take a moment to show: retry briefly.
pub(super) async fn verify(
    aws: &Aws,
    stack: &Stack,
    prepared: &Prepared,
    events: Option<&render::Events>,
) -> Result<u8, Error> {
    let converged = |plan: &Plan| !plan.has_changes() && plan.blockers.is_empty();
    let (_, mut after) = read_and_plan_with(aws, stack, prepared, WriteOnly::Verify).await?;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4)).times(3);
    while !converged(&after) && backoff.sleep().await {
        (_, after) = read_and_plan_with(aws, stack, prepared, WriteOnly::Verify).await?;
    }
    if converged(&after) {
        match events {
            Some(events) => events.emit(&render::Event::Verified),
            None => println!("Verified: live AWS matches the stack."),
        }
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
        if let Some(events) = events {
            let message = format!(
                "apply did not converge: a fresh plan says it will still be {} ({})",
                r.action.future(),
                fields.join(", ")
            );
            events.problem(Some(&r.address), &message);
        }
    }
    for b in &after.blockers {
        eprintln!("  ✗ {}: {}", b.address, b.message);
        if let Some(events) = events {
            events.blocked(b);
        }
    }
    Ok(EXIT_ERROR)
}

pub(super) async fn output_command(
    cli: &Cli,
    stack: &Stack,
    args: &OutputArgs,
) -> Result<u8, Error> {
    let aws = connect(cli, stack).await?;
    let live = live::read_declared(&aws, stack).await?;
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

/// Ask `question` on the terminal; only `yes` is a yes.
pub(super) fn confirm(question: &str) -> bool {
    print!("\n{question} Only 'yes' will be accepted: ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}
