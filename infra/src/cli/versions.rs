//! `infra versions`: the runtime's versions, newest first, and which one the stack deploys now.
//! What is read and how a version is matched is the runtime kind's
//! (`resources::runtime::versions`); this prints it.

use std::io::{self, Write};

use super::*;
use crate::resources::runtime::versions::{self as runtime_versions, Match, Versions};

pub(super) async fn command(cli: &Cli, stack: &Stack, args: &VersionsArgs) -> Result<u8, Error> {
    // The plan says what the stack deploys now: the same reads as `plan`, signing nobody in.
    let prepared = prepare(stack).await?;
    let aws = connect(cli, stack).await?;
    let (live, plan) = read_and_plan_with(&aws, stack, &prepared, WriteOnly::Skip).await?;
    let versions = runtime_versions::list(&aws, stack, &live, &plan).await?;
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &versions)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        text(&versions, cli.style(), &mut out)
    };
    Ok(if written.and_then(|()| out.flush()).is_ok() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

/// A table: mark, version, when made, status, endpoints, image; then what the marks mean.
fn text(v: &Versions, style: render::Style, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "Runtime {} ({}): {} version{}, newest first",
        v.runtime,
        v.runtime_id,
        v.versions.len(),
        if v.versions.len() == 1 { "" } else { "s" }
    )?;
    let served = |e: &[String]| {
        if e.is_empty() {
            "-".into()
        } else {
            e.join(",")
        }
    };
    let width = |f: &dyn Fn(&runtime_versions::Version) -> usize, title: &str| {
        v.versions
            .iter()
            .map(f)
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let w_version = width(&|x| x.version.len(), "VERSION");
    let w_made = width(&|x| x.created_at.len(), "MADE");
    let w_status = width(&|x| x.status.len(), "STATUS");
    let w_served = width(&|x| served(&x.endpoints).len(), "SERVED BY");
    writeln!(
        out,
        "  {:w_version$}  {:w_made$}  {:w_status$}  {:w_served$}  IMAGE",
        "VERSION", "MADE", "STATUS", "SERVED BY"
    )?;
    for x in &v.versions {
        let mark = match x.stack {
            Some(Match::Deploys) => style.green("*"),
            Some(Match::SameImage) => style.yellow("="),
            None => " ".into(),
        };
        writeln!(
            out,
            "{mark} {:w_version$}  {:w_made$}  {:w_status$}  {:w_served$}  {}",
            x.version,
            x.created_at,
            x.status,
            served(&x.endpoints),
            x.container_uri.as_deref().unwrap_or("-")
        )?;
    }
    let marked = |m: Match| v.versions.iter().any(|x| x.stack == Some(m));
    if marked(Match::Deploys) {
        writeln!(
            out,
            "* the version the stack deploys now: the plan has no change for the runtime"
        )?;
    }
    if marked(Match::SameImage) {
        writeln!(
            out,
            "= ran the image the stack deploys now; `infra apply` makes a new version running \
             it again"
        )?;
    }
    if v.plan_changes_runtime {
        let image = v.stack_image.as_deref().unwrap_or("known after apply");
        writeln!(
            out,
            "The stack deploys {image}; `infra plan` shows what apply changes in the runtime."
        )?;
    }
    Ok(())
}
