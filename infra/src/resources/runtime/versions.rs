//! The runtime's versions: `infra versions`, and the plan's "same image as version N".
//!
//! Every create or update of a runtime makes a version, and AWS keeps them. Three calls tell
//! their story: `ListAgentRuntimeVersions` (paginated) lists their summaries (version, status,
//! `lastUpdatedAt`: when the version was made; no artifact), `GetAgentRuntime` with
//! `agentRuntimeVersion` reads one version's configuration (its container URI), and
//! `ListAgentRuntimeEndpoints` says which version each endpoint serves (`liveVersion`).
//! Rolling back is not a call: revert `stack.toml` (or the server's code) and apply, which
//! makes a new version running the old image; `infra versions` shows which version ran it.

use serde::Serialize;

use super::*;
use crate::engine::{Live, Plan};
use crate::resources::image::digest_in;

/// What the runtime's `prepare` leaves: a plan is being made, so its read looks for an earlier
/// version with the stack's image (`output`, `token` and `mcp` read the runtime without it).
pub struct Planning;

/// How many versions are read at once.
const AT_ONCE: usize = 8;

/// One version, as `infra versions` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// `"1"`, `"2"`, ...
    pub version: String,
    /// The version's own status: `READY`, `CREATE_FAILED`, `UPDATE_FAILED`, ...
    pub status: String,
    /// When AWS made it (the version's `lastUpdatedAt`), RFC 3339.
    pub created_at: String,
    /// The image it runs, as AWS has it.
    pub container_uri: Option<String>,
    /// `sha256:...`, when the URI names one.
    pub digest: Option<String>,
    /// The endpoints serving it (`DEFAULT`, and any other).
    pub endpoints: Vec<String>,
    /// How it relates to what the stack deploys now: `deploys` (the plan has no change for the
    /// runtime, and this is the version it runs), `same_image` (it ran the image the stack
    /// deploys now; other settings may differ), or `null`.
    pub stack: Option<Match>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    Deploys,
    SameImage,
}

/// `infra versions --json`: one document.
#[derive(Debug, Serialize)]
pub struct Versions {
    /// 1; bumped when a field is removed or renamed.
    pub format_version: u32,
    pub stack: String,
    /// The runtime's name, id and ARN.
    pub runtime: String,
    pub runtime_id: String,
    pub runtime_arn: String,
    /// The image the stack deploys now (by digest where known; `null` when only apply knows it).
    pub stack_image: Option<String>,
    /// Whether `plan` would change the runtime (then no version is `deploys`).
    pub plan_changes_runtime: bool,
    /// Newest first.
    pub versions: Vec<Version>,
}

/// (version, status, made at) of each version, newest first.
async fn summaries(
    aws: &Aws,
    addr: &str,
    id: &str,
) -> Result<Vec<(String, String, String)>, Error> {
    let mut all = Vec::new();
    let mut pages = aws
        .agentcore
        .list_agent_runtime_versions()
        .agent_runtime_id(id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(addr, "ListAgentRuntimeVersions", e))?;
        all.extend(page.agent_runtimes().iter().map(|v| {
            (
                v.agent_runtime_version().to_owned(),
                v.status().as_str().to_owned(),
                // To the second, as a user reads it.
                aws_smithy_types::DateTime::from_secs(v.last_updated_at().secs())
                    .fmt(aws_smithy_types::date_time::Format::DateTime)
                    .unwrap_or_default(),
            )
        }));
    }
    all.sort_by_key(|(version, ..)| std::cmp::Reverse(number(version)));
    Ok(all)
}

/// A version's number, for ordering (AWS's versions are increasing integers).
fn number(version: &str) -> u64 {
    version.parse().unwrap_or(0)
}

/// The container URI of one version (`GetAgentRuntime` with `agentRuntimeVersion`).
async fn container_uri(
    aws: &Aws,
    addr: &str,
    id: &str,
    version: &str,
) -> Result<Option<String>, Error> {
    let out = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(id)
        .agent_runtime_version(version)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "GetAgentRuntime", e))?;
    Ok(match out.agent_runtime_artifact() {
        Some(AgentRuntimeArtifact::ContainerConfiguration(c)) => Some(c.container_uri().to_owned()),
        _ => None,
    })
}

/// The container URIs of `versions`, read [`AT_ONCE`] at a time, in order; `stop` ends the
/// reading after the batch where it first holds.
async fn container_uris(
    aws: &Aws,
    addr: &str,
    id: &str,
    versions: &[String],
    stop: impl Fn(&str) -> bool,
) -> Result<Vec<Option<String>>, Error> {
    let mut uris = Vec::new();
    for batch in versions.chunks(AT_ONCE) {
        let read = aws
            .all(batch.iter().map(|v| container_uri(aws, addr, id, v)))
            .await?;
        let done = read.iter().flatten().any(|u| stop(u));
        uris.extend(read);
        if done {
            break;
        }
    }
    Ok(uris)
}

/// (endpoint name, the version it serves) of each endpoint.
async fn endpoints(aws: &Aws, addr: &str, id: &str) -> Result<Vec<(String, String)>, Error> {
    let mut all = Vec::new();
    let mut pages = aws
        .agentcore
        .list_agent_runtime_endpoints()
        .agent_runtime_id(id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(addr, "ListAgentRuntimeEndpoints", e))?;
        all.extend(
            page.runtime_endpoints()
                .iter()
                .filter_map(|e| Some((e.name().to_owned(), e.live_version()?.to_owned()))),
        );
    }
    Ok(all)
}

/// The plan's side: when the stack's image (its digest, as the image kind read it) is not the
/// one the runtime runs, the newest earlier version that ran it, in `r.same_image_as`.
pub(super) async fn same_image(cx: &ReadContext<'_>, r: &mut LiveRuntime) -> Result<(), Error> {
    let Some(digest) = cx.reference::<Image>().await?.and_then(|i| i.digest) else {
        return Ok(());
    };
    if r.container_uri.as_deref().and_then(digest_in) == Some(digest.as_str()) {
        return Ok(());
    }
    let addr = address(
        Runtime::TYPE,
        cx.stack.one::<Runtime>().map_or("", |s| &s.name),
    );
    let earlier: Vec<String> = summaries(cx.aws, &addr, &r.id)
        .await?
        .into_iter()
        .map(|(version, ..)| version)
        .filter(|v| *v != r.version)
        .collect();
    let runs = |uri: &str| digest_in(uri) == Some(digest.as_str());
    let uris = container_uris(cx.aws, &addr, &r.id, &earlier, runs).await?;
    r.same_image_as = earlier
        .iter()
        .zip(&uris)
        .find(|(_, uri)| uri.as_deref().is_some_and(runs))
        .map(|(version, _)| (version.clone(), digest.clone()));
    Ok(())
}

/// `infra versions`: every version of the stack's runtime, newest first, with what each runs,
/// the endpoints serving it, and which one the stack deploys now (from `plan`).
pub async fn list(aws: &Aws, stack: &Stack, live: &Live, plan: &Plan) -> Result<Versions, Error> {
    let Some(spec) = stack.one::<Runtime>() else {
        return Err(Error::new(
            "versions",
            "stack",
            format!("{} declares no [runtime]", stack.path.display()),
        ));
    };
    let addr = address(Runtime::TYPE, &spec.name);
    let Some(runtime) = live.get::<Runtime>().runtime.found() else {
        return Err(Error::new(
            &addr,
            "versions",
            format!(
                "the runtime {:?} does not exist: this stack was never deployed (run `infra apply`)",
                spec.name
            ),
        ));
    };
    let planned = plan.resource(&addr);
    let changes = planned.is_none_or(|p| p.action != Action::NoOp);
    let stack_image = planned
        .and_then(|p| p.payload::<Step>().ok())
        .map(|step| step.container_uri.clone())
        .filter(|uri| !uri.is_empty());
    let stack_digest = stack_image.as_deref().and_then(digest_in);
    let (listed, serving) = aws
        .both(
            summaries(aws, &addr, &runtime.id),
            endpoints(aws, &addr, &runtime.id),
        )
        .await?;
    let numbers: Vec<String> = listed.iter().map(|(v, ..)| v.clone()).collect();
    let uris = container_uris(aws, &addr, &runtime.id, &numbers, |_| false).await?;
    let versions = listed
        .into_iter()
        .zip(uris)
        .map(|((version, status, created_at), container_uri)| {
            let digest = container_uri.as_deref().and_then(digest_in);
            let mut endpoints: Vec<String> = serving
                .iter()
                .filter(|(_, live)| *live == version)
                .map(|(name, _)| name.clone())
                .collect();
            endpoints.sort_by_key(|name| (name != "DEFAULT", name.clone()));
            let stack = if !changes && version == runtime.version {
                Some(Match::Deploys)
            } else if digest.is_some() && digest == stack_digest {
                Some(Match::SameImage)
            } else {
                None
            };
            Version {
                digest: digest.map(str::to_owned),
                version,
                status,
                created_at,
                container_uri,
                endpoints,
                stack,
            }
        })
        .collect();
    Ok(Versions {
        format_version: 1,
        stack: stack.name.clone(),
        runtime: spec.name.clone(),
        runtime_id: runtime.id.clone(),
        runtime_arn: runtime.arn.clone(),
        stack_image,
        plan_changes_runtime: changes,
        versions,
    })
}
