//! Waiting for a new version: READY, then the DEFAULT endpoint serving it.

use super::*;

/// What a finished create or update left.
pub(super) struct Deployed {
    pub(super) require_mmdsv2: bool,
}

/// Whether `version` is `at_least` or newer (versions are increasing integers; another apply
/// may have made a newer one meanwhile).
pub(super) fn reached(version: Option<&str>, at_least: &str) -> bool {
    match (
        version.and_then(|v| v.parse::<u64>().ok()),
        at_least.parse::<u64>(),
    ) {
        (Some(v), Ok(want)) => v >= want,
        _ => version == Some(at_least),
    }
}

/// Every create or update makes a new version, and DEFAULT moves to it, possibly after the
/// runtime reads READY. Wait until the runtime reports `version` READY twice in a row (as
/// Terraform's waiter does), then until `GetAgentRuntimeEndpoint(DEFAULT)` serves it.
/// `*_FAILED` and `DELETING` are errors with AWS's reason; so is `--timeout`.
pub(super) async fn wait_until_deployed(
    cx: &ApplyContext<'_>,
    addr: &str,
    operation: &'static str,
    id: &str,
    version: &str,
) -> Result<Deployed, Error> {
    let mut poll = Poll::new(cx, addr, operation);
    let mut ready_reads = 0;
    let deployed = loop {
        let out = cx
            .aws
            .agentcore
            .get_agent_runtime()
            .agent_runtime_id(id)
            .send()
            .await
            .map_err(|e| Error::aws(addr, "GetAgentRuntime", e))?;
        let status = out.status().as_str();
        let reason = || {
            out.failure_reason()
                .unwrap_or("AWS gave no failureReason")
                .to_owned()
        };
        match status {
            "READY" if reached(Some(out.agent_runtime_version()), version) => {
                ready_reads += 1;
                if ready_reads == 2 {
                    break Deployed {
                        require_mmdsv2: out
                            .metadata_configuration()
                            .is_some_and(|m| m.require_mmdsv2()),
                    };
                }
            }
            "UPDATE_FAILED" => {
                return Err(Error::new(
                    addr,
                    operation,
                    format!(
                        "{}. AWS made version {version} and it failed; the DEFAULT endpoint \
                         keeps serving the previous version. Fix the cause and apply again: the \
                         next update makes a new version",
                        reason()
                    ),
                )
                .with_code(status));
            }
            "CREATE_FAILED" | "DELETE_FAILED" => {
                return Err(Error::new(addr, operation, reason()).with_code(status));
            }
            "DELETING" => {
                return Err(Error::new(
                    addr,
                    operation,
                    "the runtime is being deleted (by someone else); apply again once it is gone",
                )
                .with_code(status));
            }
            _ => ready_reads = 0,
        }
        poll.wait(&format!(
            "{status}, waiting for version {version} to be READY"
        ))
        .await?;
    };
    loop {
        let result = cx
            .aws
            .agentcore
            .get_agent_runtime_endpoint()
            .agent_runtime_id(id)
            .endpoint_name("DEFAULT")
            .send()
            .await
            .map_err(|e| Error::aws(addr, "GetAgentRuntimeEndpoint", e));
        // AWS makes the DEFAULT endpoint with a new runtime, asynchronously: right after a
        // create it may not exist yet. Not ready yet, unless the runtime itself is gone (then
        // GetAgentRuntime says so, and a create with a token that named a deleted runtime is
        // repeated).
        let Some(out) = crate::engine::not_found_as_none(result, "ResourceNotFoundException")?
        else {
            runtime_exists(cx, addr, id).await?;
            poll.wait(&format!(
                "the DEFAULT endpoint does not exist yet, waiting for it to serve version {version}"
            ))
            .await?;
            continue;
        };
        let status = out.status().as_str();
        if status == "READY" && reached(out.live_version(), version) {
            return Ok(deployed);
        }
        if status.ends_with("_FAILED") {
            return Err(Error::new(
                addr,
                operation,
                format!(
                    "the DEFAULT endpoint is {status}: {}",
                    out.failure_reason().unwrap_or("AWS gave no failureReason")
                ),
            )
            .with_code(status));
        }
        poll.wait(&format!(
            "DEFAULT is {status} serving version {}, waiting for {version}",
            out.live_version().unwrap_or("none")
        ))
        .await?;
    }
}

/// `GetAgentRuntime`: an error (ResourceNotFoundException included) when the runtime is gone.
async fn runtime_exists(cx: &ApplyContext<'_>, addr: &str, id: &str) -> Result<(), Error> {
    cx.aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "GetAgentRuntime", e))?;
    Ok(())
}

/// After `DeleteAgentRuntime`: wait until `GetAgentRuntime` no longer finds it (AWS deletes
/// asynchronously, DELETING meanwhile, and its name stays taken until then).
pub(super) async fn wait_until_deleted(
    cx: &ApplyContext<'_>,
    addr: &str,
    id: &str,
) -> Result<(), Error> {
    let mut poll = Poll::new(cx, addr, "DeleteAgentRuntime");
    loop {
        let result = cx
            .aws
            .agentcore
            .get_agent_runtime()
            .agent_runtime_id(id)
            .send()
            .await
            .map_err(|e| Error::aws(addr, "GetAgentRuntime", e));
        let Some(out) = crate::engine::not_found_as_none(result, "ResourceNotFoundException")?
        else {
            return Ok(());
        };
        if out.status().as_str() == "DELETE_FAILED" {
            return Err(Error::new(
                addr,
                "DeleteAgentRuntime",
                out.failure_reason()
                    .unwrap_or("AWS gave no failureReason")
                    .to_owned(),
            )
            .with_code("DELETE_FAILED"));
        }
        poll.wait(&format!(
            "{}, waiting for it to be deleted",
            out.status().as_str()
        ))
        .await?;
    }
}

/// Polling with a growing interval (0.5 s doubling to 5 s), progress on the terminal, a line
/// every 10 s otherwise, and `--timeout`.
pub(super) struct Poll<'a> {
    cx: &'a ApplyContext<'a>,
    addr: &'a str,
    operation: &'static str,
    started: Instant,
    last_report: Instant,
    backoff: Backoff,
}

impl<'a> Poll<'a> {
    fn new(cx: &'a ApplyContext<'a>, addr: &'a str, operation: &'static str) -> Self {
        Poll {
            cx,
            addr,
            operation,
            started: Instant::now(),
            last_report: Instant::now(),
            // Unbounded here: `--timeout` ends the wait, with its own message.
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(5)),
        }
    }

    async fn wait(&mut self, status: &str) -> Result<(), Error> {
        let waited = self.started.elapsed();
        if waited >= self.cx.timeout {
            return Err(Error::new(
                self.addr,
                self.operation,
                format!(
                    "still {status} after {}s (--timeout); run the command again later to continue",
                    waited.as_secs()
                ),
            )
            .with_code("Timeout"));
        }
        let addr = self.addr;
        self.cx
            .progress
            .transient(&format!("{addr}: {status} ({}s)", waited.as_secs()));
        if self.last_report.elapsed() >= Duration::from_secs(10) {
            self.cx
                .progress
                .line(&format!("{addr}: {status} ({}s)", waited.as_secs()));
            self.last_report = Instant::now();
        }
        self.backoff.sleep().await;
        Ok(())
    }
}
