//! Plan → JSON (`plan --json`, described by docs/plan.schema.json), and apply → one JSON event
//! per line (`apply --json`, [`Events`]). Both formats are documented in docs/plan-format.md.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::{Action, Blocker, Error, Plan, Progress};

pub fn json(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, plan)?;
    writeln!(w)
}

/// The version of the `apply --json` events, by the rule of the plan's `format_version`:
/// a field or an event added keeps it, one removed or renamed bumps it.
pub const EVENTS_FORMAT_VERSION: u32 = 1;

/// How often a wait that is still in the same state is reported again.
const WAITING_INTERVAL: Duration = Duration::from_secs(10);

/// One line of `apply --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The plan apply is about to carry out (always the first event once live AWS was read).
    Started {
        format_version: u32,
        stack: String,
        account_id: String,
        region: String,
        summary: Counts,
    },
    ResourceStarted {
        address: String,
        action: Action,
    },
    ResourceDone {
        address: String,
        action: Action,
        /// The resource's live id now.
        id: String,
        duration_ms: u64,
    },
    ResourceFailed {
        address: String,
        action: Action,
        /// The call that failed (`CreateAgentRuntime`, `registry: push`, ...).
        operation: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        message: String,
        duration_ms: u64,
    },
    /// Apply waits for a resource to be ready (the runtime and its `DEFAULT` endpoint).
    Waiting {
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        waited_s: Option<u64>,
    },
    /// Anything else a resource's apply reports (a retry, an upload, a race it resolved).
    Message {
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        message: String,
    },
    /// Live AWS was read again after apply and matches the stack.
    Verified,
    /// The check after apply: connecting to the runtime as a client.
    Check(Check),
    /// Why the command fails (also printed on stderr).
    Error {
        /// The resource's address, or the step (`apply`, `aws`, ...) that failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        resource: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        message: String,
    },
    /// The last event: what was done, and whether the command succeeded.
    Summary {
        created: usize,
        updated: usize,
        deleted: usize,
        ok: bool,
    },
}

/// The plan's counts in the `started` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

/// The `check` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `passed`, `failed` or `skipped`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The server's name and version, as it answered `initialize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The names of the tools it listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why it was skipped, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Check {
    pub fn skipped(reason: impl Into<String>) -> Check {
        Check {
            status: "skipped",
            url: None,
            server: None,
            tools: None,
            duration_ms: None,
            reason: Some(reason.into()),
        }
    }
}

/// `apply --json`: every event on its own line of the writer (stdout), flushed as it happens.
/// As [`Progress`], it turns what apply reports into events: the start and end of each
/// resource, the runtime's waits (`waiting`, at each change of state and every 10 s), and
/// any other line (`message`).
pub struct Events {
    out: Mutex<Box<dyn Write + Send>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The plan's addresses, to tell which resource a line is about.
    addresses: Vec<String>,
    /// Per resource that waits: the last status text it reported, and the last one sent.
    waits: BTreeMap<Option<String>, Wait>,
    created: usize,
    updated: usize,
    deleted: usize,
}

struct Wait {
    text: String,
    sent: String,
    at: Instant,
}

impl Events {
    pub fn stdout() -> Events {
        Events::new(Box::new(io::stdout()))
    }

    pub fn new(out: Box<dyn Write + Send>) -> Events {
        Events {
            out: Mutex::new(out),
            state: Mutex::default(),
        }
    }

    pub fn emit(&self, event: &Event) {
        let mut out = self.out.lock().expect("events lock");
        // A closed stdout (a consumer that went away) must not stop an apply half way.
        let _ = serde_json::to_writer(&mut *out, event)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush());
    }

    /// The `started` event, for this plan.
    pub fn started(&self, plan: &Plan) {
        self.state.lock().expect("events lock").addresses =
            plan.resources.iter().map(|r| r.address.clone()).collect();
        self.emit(&Event::Started {
            format_version: EVENTS_FORMAT_VERSION,
            stack: plan.stack.clone(),
            account_id: plan.account_id.clone(),
            region: plan.region.clone(),
            summary: Counts {
                create: plan.summary.create,
                update: plan.summary.update,
                delete: plan.summary.delete,
            },
        });
    }

    pub fn error(&self, e: &Error) {
        self.emit(&Event::Error {
            resource: Some(e.resource.clone()),
            field: None,
            operation: Some(e.operation.to_owned()),
            code: e.code.clone(),
            message: e.message.clone(),
        });
    }

    /// What stops the plan from being applied, one event per blocker.
    pub fn blocked(&self, blocker: &Blocker) {
        self.emit(&Event::Error {
            resource: Some(blocker.address.clone()),
            field: blocker.field.clone(),
            operation: None,
            code: None,
            message: blocker.message.clone(),
        });
    }

    /// An error that is no AWS call's: a refusal, or what is wrong with a resource.
    pub fn problem(&self, resource: Option<&str>, message: &str) {
        self.emit(&Event::Error {
            resource: resource.map(str::to_owned),
            field: None,
            operation: None,
            code: None,
            message: message.to_owned(),
        });
    }

    pub fn check(&self, check: Check) {
        self.emit(&Event::Check(check));
    }

    /// The last event: the resources done so far, and whether the command succeeded.
    pub fn summary(&self, ok: bool) {
        let (created, updated, deleted) = {
            let state = self.state.lock().expect("events lock");
            (state.created, state.updated, state.deleted)
        };
        self.emit(&Event::Summary {
            created,
            updated,
            deleted,
            ok,
        });
    }

    /// The plan's address a line starts with (`address: ...`), and the rest of the line.
    fn split<'t>(&self, text: &'t str) -> (Option<String>, &'t str) {
        let state = self.state.lock().expect("events lock");
        state
            .addresses
            .iter()
            .filter_map(|a| {
                let rest = text.strip_prefix(a.as_str())?.strip_prefix(": ")?;
                Some((a, rest))
            })
            .max_by_key(|(a, _)| a.len())
            .map_or((None, text), |(a, rest)| (Some(a.clone()), rest))
    }
}

/// A wait's status line without the time waited at its end (`... (12s)`), and that time.
fn waited(status: &str) -> (&str, Option<u64>) {
    status
        .strip_suffix("s)")
        .and_then(|s| s.rsplit_once(" ("))
        .and_then(|(status, secs)| Some((status, secs.parse().ok()?)))
        .map_or((status, None), |(status, secs)| (status, Some(secs)))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Progress for Events {
    fn line(&self, text: &str) {
        // A wait repeats its status as a line every 10 s: already reported as `waiting`.
        let repeated = {
            let state = self.state.lock().expect("events lock");
            state.waits.values().any(|w| w.text == text)
        };
        if repeated {
            return;
        }
        let (address, message) = self.split(text);
        self.emit(&Event::Message {
            address,
            message: message.to_owned(),
        });
    }

    fn transient(&self, text: &str) {
        let (address, rest) = self.split(text);
        let (status, waited_s) = waited(rest);
        let send = {
            let mut state = self.state.lock().expect("events lock");
            let wait = state.waits.entry(address.clone()).or_insert_with(|| Wait {
                text: String::new(),
                sent: String::new(),
                at: Instant::now(),
            });
            wait.text = text.to_owned();
            let send = wait.sent != status || wait.at.elapsed() >= WAITING_INTERVAL;
            if send {
                wait.sent = status.to_owned();
                wait.at = Instant::now();
            }
            send
        };
        if send {
            self.emit(&Event::Waiting {
                address,
                status: status.to_owned(),
                waited_s,
            });
        }
    }

    fn resource_started(&self, address: &str, action: Action) {
        self.emit(&Event::ResourceStarted {
            address: address.to_owned(),
            action,
        });
    }

    fn resource_done(&self, address: &str, action: Action, id: &str, took: Duration) {
        {
            let mut state = self.state.lock().expect("events lock");
            match action {
                Action::Create => state.created += 1,
                Action::Update => state.updated += 1,
                Action::Delete => state.deleted += 1,
                Action::NoOp => {}
            }
            // Its waits are over.
            state.waits.remove(&Some(address.to_owned()));
        }
        self.emit(&Event::ResourceDone {
            address: address.to_owned(),
            action,
            id: id.to_owned(),
            duration_ms: millis(took),
        });
    }

    fn resource_failed(&self, address: &str, action: Action, error: &Error, took: Duration) {
        self.emit(&Event::ResourceFailed {
            address: address.to_owned(),
            action,
            operation: error.operation.to_owned(),
            code: error.code.clone(),
            message: error.message.clone(),
            duration_ms: millis(took),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::{Events, waited};
    use crate::engine::{Action, Error, Live, Progress};
    use crate::registry::KINDS;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn events(&self) -> Vec<Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).expect("each line is JSON"))
                .collect()
        }
    }

    const STACK: &str = r#"
[stack]
name = "demo"
[iam.role]
name = "role"
[ecr.repository]
name = "repo"
[image]
uri = "${repository_uri}@sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
[runtime]
name = "svc"
"#;

    fn events() -> (Events, Captured) {
        let captured = Captured::default();
        let events = Events::new(Box::new(captured.clone()));
        let stack =
            crate::registry::parse_stack(std::path::Path::new("stack.toml"), STACK, &|_| None)
                .unwrap();
        let live = Live::empty("us-west-2", "111122223333", "aws", KINDS);
        events.started(&crate::plan::plan(&stack, &live));
        (events, captured)
    }

    #[test]
    fn a_wait_is_reported_at_each_change_of_state_and_its_repeated_line_is_not() {
        let (events, captured) = events();
        let runtime = "agentcore_runtime.svc";
        events.transient(&format!("{runtime}: CREATING, version 1 (0s)"));
        events.transient(&format!("{runtime}: CREATING, version 1 (1s)"));
        events.transient(&format!(
            "{runtime}: DEFAULT is CREATING serving version none (2s)"
        ));
        // What the poll prints every 10 s off a terminal: the status it just reported.
        events.line(&format!(
            "{runtime}: DEFAULT is CREATING serving version none (2s)"
        ));
        events.line(&format!(
            "{runtime}: the execution role is still propagating"
        ));
        events.line("a line about no resource");
        let got = captured.events();
        assert_eq!(
            got[1..],
            [
                json!({"event": "waiting", "address": runtime, "status": "CREATING, version 1", "waited_s": 0}),
                json!({"event": "waiting", "address": runtime, "status": "DEFAULT is CREATING serving version none", "waited_s": 2}),
                json!({"event": "message", "address": runtime, "message": "the execution role is still propagating"}),
                json!({"event": "message", "message": "a line about no resource"}),
            ]
        );
    }

    #[test]
    fn the_summary_counts_what_was_done() {
        let (events, captured) = events();
        events.resource_started("iam_role.role", Action::Create);
        events.resource_done(
            "iam_role.role",
            Action::Create,
            "AROA1",
            Duration::from_millis(1500),
        );
        events.resource_started("ecr_repository.repo", Action::Create);
        events.resource_failed(
            "ecr_repository.repo",
            Action::Create,
            &Error::new("ecr_repository.repo", "CreateRepository", "denied")
                .with_code("AccessDenied"),
            Duration::from_millis(20),
        );
        events.summary(false);
        let got = captured.events();
        assert_eq!(got[0]["event"], "started");
        assert_eq!(
            got[0]["summary"],
            json!({"create": 3, "update": 0, "delete": 0})
        );
        assert_eq!(
            got[1..],
            [
                json!({"event": "resource_started", "address": "iam_role.role", "action": "create"}),
                json!({"event": "resource_done", "address": "iam_role.role", "action": "create", "id": "AROA1", "duration_ms": 1500}),
                json!({"event": "resource_started", "address": "ecr_repository.repo", "action": "create"}),
                json!({"event": "resource_failed", "address": "ecr_repository.repo", "action": "create", "operation": "CreateRepository", "code": "AccessDenied", "message": "denied", "duration_ms": 20}),
                json!({"event": "summary", "created": 1, "updated": 0, "deleted": 0, "ok": false}),
            ]
        );
    }

    #[test]
    fn a_wait_without_its_time_keeps_its_whole_status() {
        assert_eq!(waited("READY (12s)"), ("READY", Some(12)));
        assert_eq!(waited("READY"), ("READY", None));
        assert_eq!(waited("odd (xs)"), ("odd (xs)", None));
    }

    /// docs/plan.schema.json lists every resource type the registry has, and no other.
    #[test]
    fn the_plan_schema_names_every_registered_kind() {
        let schema: Value =
            serde_json::from_str(include_str!("../../../docs/plan.schema.json")).unwrap();
        let listed: Vec<&str> = schema["$defs"]["resource"]["properties"]["type"]["enum"]
            .as_array()
            .expect("the schema's resource type is an enum")
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let registered: Vec<&str> = KINDS.iter().map(|k| k.type_name()).collect();
        assert_eq!(listed, registered);
    }
}
