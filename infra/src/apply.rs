//! Execute a plan: level by level in dependency order, concurrently inside a level.
//!
//! A failure lets the other calls of its level finish, stops before the next level, and names
//! the resource, the AWS operation and AWS's message. Every step is idempotent against live
//! state, so a re-run converges from wherever a failure left things.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use futures::future::join_all;

use crate::aws::{Aws, AwsError};
use crate::live::Live;
use crate::plan::{Action, Kind, Plan, ResourcePlan};
use crate::policy::Vars;
use crate::resources::{
    cognito_client, cognito_pool, cognito_user, ecr_repository, iam_role, iam_role_policy, image,
    runtime,
};
use crate::stack::Stack;

/// What the resource appliers may use: the stack, what was read, and the ids known so far.
pub struct ApplyContext<'a> {
    pub aws: &'a Aws,
    pub stack: &'a Stack,
    pub live: &'a Live,
    pub vars: Vars,
    pub progress: &'a dyn Progress,
    /// How long to wait for a resource to become ready.
    pub timeout: std::time::Duration,
    ids: Mutex<BTreeMap<String, String>>,
}

impl ApplyContext<'_> {
    /// The id of a resource this one depends on: from live state, or from its create in an
    /// earlier level.
    pub fn id_of(&self, address: &str) -> String {
        self.ids
            .lock()
            .expect("ids lock")
            .get(address)
            .cloned()
            .unwrap_or_default()
    }
}

/// Receives progress lines while apply runs.
pub trait Progress: Sync {
    /// A line that stays.
    fn line(&self, text: &str);
    /// A status that the next one replaces (a spinner on a terminal; nothing otherwise).
    fn transient(&self, _text: &str) {}
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
}

/// The dependency level of each resource: 0 for none, else one more than its deepest dependency.
pub fn levels(plan: &Plan) -> Vec<Vec<&ResourcePlan>> {
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    // Resources are planned after their dependencies, so one pass in plan order suffices.
    for r in &plan.resources {
        let l = r
            .depends_on
            .iter()
            .filter_map(|d| level.get(d.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(&r.address, l);
    }
    let depth = level.values().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); depth];
    for r in plan.changed() {
        out[level[r.address.as_str()]].push(r);
    }
    out.retain(|l| !l.is_empty());
    out
}

pub async fn apply(
    aws: &Aws,
    stack: &Stack,
    live: &Live,
    plan: &Plan,
    progress: &dyn Progress,
    timeout: std::time::Duration,
) -> Result<Applied, Vec<AwsError>> {
    let ids = plan
        .resources
        .iter()
        .filter_map(|r| Some((r.address.clone(), r.id.clone()?)))
        .collect();
    let cx = ApplyContext {
        aws,
        stack,
        live,
        vars: live.vars(stack),
        progress,
        timeout,
        ids: Mutex::new(ids),
    };
    let mut applied = Applied::default();
    for level in levels(plan) {
        let results = join_all(level.iter().map(|r| run(&cx, r, progress))).await;
        let mut errors = Vec::new();
        for (r, result) in level.iter().zip(results) {
            match result {
                Ok(id) => {
                    cx.ids
                        .lock()
                        .expect("ids lock")
                        .insert(r.address.clone(), id);
                    match r.action {
                        Action::Create => applied.created += 1,
                        Action::Update => applied.updated += 1,
                        Action::Delete => applied.deleted += 1,
                        Action::NoOp => {}
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    Ok(applied)
}

async fn run(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    progress: &dyn Progress,
) -> Result<String, AwsError> {
    progress.line(&format!("{}: {}...", r.address, r.action.progressive()));
    let started = Instant::now();
    let result = match &r.kind {
        Kind::UserPool => cognito_pool::apply(cx, r).await,
        Kind::Client => cognito_client::apply(cx, r).await,
        Kind::User(username) => cognito_user::apply(cx, r, username).await,
        Kind::Role => iam_role::apply(cx, r).await,
        Kind::RolePolicy(name) => iam_role_policy::apply(cx, r, name).await,
        Kind::Repository => ecr_repository::apply(cx, r).await,
        Kind::Image => image::apply(cx, r).await,
        Kind::Runtime => runtime::apply(cx, r).await,
    };
    match &result {
        Ok(id) => progress.line(&format!(
            "{}: {} complete after {:.1}s [id={id}]",
            r.address,
            r.action.past(),
            started.elapsed().as_secs_f64()
        )),
        Err(e) => progress.line(&format!("{}: {} failed", r.address, e.operation)),
    }
    result
}
