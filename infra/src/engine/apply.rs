//! What a kind's applier gets: the clients, the stack, what was read, the ids known so far,
//! and where to report progress.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use super::error::Error;
use super::read::Live;
use crate::aws::Aws;
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

/// Receives progress lines while apply runs.
pub trait Progress: Sync {
    /// A line that stays.
    fn line(&self, text: &str);
    /// A status that the next one replaces (a spinner on a terminal; nothing otherwise).
    fn transient(&self, _text: &str) {}
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
        ids: BTreeMap<String, String>,
    ) -> Self {
        ApplyContext {
            aws,
            stack,
            live,
            vars: live.vars(stack),
            progress,
            timeout,
            ids: Mutex::new(ids),
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

    /// The id of the resource of another kind (one resource of that kind), from live state or
    /// from its create in an earlier level.
    pub fn id_of_kind<K: super::Kind>(&self) -> Option<String> {
        let ids = self.ids.lock().expect("ids lock");
        ids.iter()
            .find(|(address, _)| {
                address
                    .strip_prefix(K::TYPE)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
            .map(|(_, id)| id.clone())
    }

    /// Record the id of a resource once it exists.
    pub fn set_id(&self, address: &str, id: String) {
        self.ids
            .lock()
            .expect("ids lock")
            .insert(address.to_owned(), id);
    }
}
