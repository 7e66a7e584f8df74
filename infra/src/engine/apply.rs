//! What a kind's applier gets: the clients, the stack, what was read, the ids known so far,
//! and where to report progress.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use super::change::Action;
use super::kind::Kind;
use super::planner::{Plan, ResourcePlan};
use super::read::Live;
use crate::aws::Aws;
use crate::error::Error;
use crate::policy::Vars;
use crate::stack::Stack;

/// Independent writes of one resource, run at once: every one finishes (none is cut off half
/// way), then the first error, if any, is returned. Writes whose order matters stay sequential.
pub async fn together(writes: Vec<BoxFuture<'_, Result<(), Error>>>) -> Result<(), Error> {
    futures::future::join_all(writes)
        .await
        .into_iter()
        .collect()
}

/// Receives progress while apply runs: free-form lines from the kinds, and the start and end of
/// each resource (by default as lines too; `apply --json` makes events of them).
pub trait Progress: Sync {
    /// A line that stays.
    fn line(&self, text: &str);
    /// A status that the next one replaces (a spinner on a terminal; nothing otherwise).
    fn transient(&self, _text: &str) {}
    /// Apply starts `action` on a resource.
    fn resource_started(&self, address: &str, action: Action) {
        self.line(&format!("{address}: {}...", action.progressive()));
    }
    /// `action` on a resource succeeded after `took`; `id` is its live id now.
    fn resource_done(&self, address: &str, action: Action, id: &str, took: Duration) {
        self.line(&format!(
            "{address}: {} complete after {:.1}s [id={id}]",
            action.past(),
            took.as_secs_f64()
        ));
    }
    /// `action` on a resource failed after `took`.
    fn resource_failed(&self, address: &str, _action: Action, error: &Error, _took: Duration) {
        self.line(&format!("{address}: {} failed", error.operation));
    }
}

pub struct ApplyContext<'a> {
    pub aws: &'a Aws,
    pub stack: &'a Stack,
    pub live: &'a Live,
    pub vars: Vars,
    pub progress: &'a dyn Progress,
    /// How long to wait for a resource to become ready.
    pub timeout: Duration,
    ids: Mutex<BTreeMap<String, String>>,
    /// The addresses of each kind's resources that are not being deleted.
    kinds: BTreeMap<&'static str, Vec<String>>,
    /// The plan's resources, to plan one again against what the kinds it depends on became.
    planned: Vec<ResourcePlan>,
}

impl<'a> ApplyContext<'a> {
    /// Say that a create found its name taken although the plan found nothing: another apply
    /// made it at the same time, or the SDK retried this create after its answer was lost.
    /// `then`: how this apply carries on.
    pub fn found_on_create(&self, address: &str, then: &str) {
        self.progress.line(&format!(
            "{address}: already exists, though the plan did not find it (another apply made it \
             at the same time, or an earlier attempt of this call whose answer was lost); {then}"
        ));
    }

    pub fn new(
        aws: &'a Aws,
        stack: &'a Stack,
        live: &'a Live,
        progress: &'a dyn Progress,
        timeout: Duration,
        plan: &Plan,
    ) -> Self {
        let ids = plan
            .resources
            .iter()
            .filter_map(|r| Some((r.address.clone(), r.id.clone()?)))
            .collect();
        let mut kinds: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for r in plan.resources.iter().filter(|r| r.action != Action::Delete) {
            kinds
                .entry(r.type_name)
                .or_default()
                .push(r.address.clone());
        }
        ApplyContext {
            aws,
            stack,
            live,
            vars: live.vars(stack),
            progress,
            timeout,
            ids: Mutex::new(ids),
            kinds,
            planned: plan.resources.clone(),
        }
    }

    /// The id of a resource this one depends on: from live state, or from its create in an
    /// earlier level. An unknown id is an error, never an empty string sent to AWS.
    pub fn id_of(&self, address: &str) -> Result<String, Error> {
        self.ids
            .lock()
            .expect("ids lock")
            .get(address)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    address,
                    "apply",
                    "its id is not known: it was neither found nor created",
                )
            })
    }

    /// The id of another kind's resource (the one that is not a duplicate being deleted): from
    /// live state, or from its create in an earlier level.
    pub fn id<K: Kind>(&self) -> Result<String, Error> {
        match self.kinds.get(K::TYPE).and_then(|a| a.first()) {
            Some(address) => self.id_of(address),
            None => Err(Error::new(
                K::TYPE,
                "apply",
                "not in the plan: nothing of this kind was found or created",
            )),
        }
    }

    /// The id of another kind's resource `name`.
    pub fn id_named<K: Kind>(&self, name: &str) -> Result<String, Error> {
        self.id_of(&super::address(K::TYPE, name))
    }

    /// What only apply can learn of another kind ([`Kind::resolve`]).
    pub async fn resolve<K: Kind>(&self) -> Result<Option<String>, Error> {
        K::resolve(self).await
    }

    /// A value that follows from an id of another kind ([`Kind::derived`]).
    pub fn derived<K: Kind>(&self, name: &str, id: &str) -> Option<String> {
        K::derived(name, id, &self.vars)
    }

    /// The planned resources of these kinds, with the ids known now (a create in an earlier
    /// level fills one in): what planning one resource again starts from.
    pub fn planned_of(&self, types: &[&str]) -> Vec<ResourcePlan> {
        let ids = self.ids.lock().expect("ids lock");
        self.planned
            .iter()
            .filter(|r| types.contains(&r.type_name))
            .map(|r| ResourcePlan {
                id: ids.get(&r.address).cloned().or_else(|| r.id.clone()),
                ..r.clone()
            })
            .collect()
    }

    /// Record the id of a resource once it exists.
    pub fn set_id(&self, address: &str, id: String) {
        self.ids
            .lock()
            .expect("ids lock")
            .insert(address.to_owned(), id);
    }
}
