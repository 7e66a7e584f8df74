//! Live state: what every kind read, stored by kind, and the context a kind's reader gets.
//!
//! Every kind's read starts at once; a kind that needs another kind's live state (the client
//! needs the pool's id) awaits it through [`ReadContext::get`], which runs each read exactly
//! once. So the reads form a graph that runs as concurrently as its dependencies allow, and no
//! order is written down anywhere but in the awaits themselves.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::kind::{DynKind, Kind};
use crate::aws::Aws;
use crate::error::Error;
use crate::stack::Stack;

type State = Arc<dyn Any + Send + Sync>;
/// A kind, and its state once read (or the error that reading it ended with).
type Slot = (&'static dyn DynKind, OnceCell<Result<State, Error>>);

/// Whether reading may check write-only values by using them (signing in with a password).
/// `plan` and `apply` verify; `output` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOnly {
    Verify,
    Skip,
}

/// What the kinds prepared locally before anything was read (the built image), by kind.
#[derive(Clone, Default)]
pub struct Prepared(BTreeMap<&'static str, State>);

impl Prepared {
    pub fn insert(&mut self, type_name: &'static str, value: State) {
        self.0.insert(type_name, value);
    }

    pub fn get<K: Kind, T: Any>(&self) -> Option<&T> {
        self.0.get(K::TYPE)?.downcast_ref()
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// The live state of everything declared, as each kind read it, plus who and where the caller is.
#[derive(Clone)]
pub struct Live {
    pub region: String,
    pub account_id: String,
    pub partition: String,
    /// Whether write-only values were checked (`plan --skip-password-check` reads with
    /// [`WriteOnly::Skip`], and the plan says "not checked").
    pub write_only: WriteOnly,
    states: BTreeMap<&'static str, State>,
    /// The kinds that were read, in dependency order.
    kinds: Vec<&'static dyn DynKind>,
    /// Resources tagged for the stack that it no longer declares, by kind, each planned as its
    /// delete ([`crate::engine::Kind::undeclared`]).
    pub undeclared: Vec<(&'static dyn DynKind, super::Planned)>,
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("kinds", &self.states.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Live {
    /// What the reader found: every kind's state, by kind.
    pub fn from_states(
        region: String,
        account_id: String,
        partition: String,
        states: BTreeMap<&'static str, State>,
        kinds: &[&'static dyn DynKind],
    ) -> Live {
        Live {
            region,
            account_id,
            partition,
            write_only: WriteOnly::Verify,
            states,
            kinds: kinds.to_vec(),
            undeclared: Vec::new(),
        }
    }

    /// Nothing exists yet: every kind's empty live state.
    pub fn empty(
        region: &str,
        account_id: &str,
        partition: &str,
        kinds: &[&'static dyn DynKind],
    ) -> Live {
        Live {
            write_only: WriteOnly::Verify,
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            partition: partition.to_owned(),
            states: kinds
                .iter()
                .map(|k| (k.type_name(), Arc::from(k.empty())))
                .collect(),
            kinds: kinds.to_vec(),
            undeclared: Vec::new(),
        }
    }

    /// A kind's live state. Every registered kind has one (read, or empty).
    pub fn get<K: Kind>(&self) -> &K::Live {
        self.states
            .get(K::TYPE)
            .and_then(|s| s.downcast_ref())
            .unwrap_or_else(|| panic!("{} is not a registered kind", K::TYPE))
    }

    /// What the kinds that depend on `K` name of it in their live state
    /// ([`Kind::names_of_dependencies`]).
    pub fn named_by_dependents<K: Kind>(&self) -> Vec<String> {
        self.kinds
            .iter()
            .filter(|k| k.names_dependencies() && k.depends_on().contains(&K::TYPE))
            .filter_map(|k| Some(k.names_of_dependencies(self.states.get(k.type_name())?.as_ref())))
            .flatten()
            .collect()
    }

    /// The placeholder values for `stack` in this account and region.
    pub fn vars(&self, stack: &Stack) -> crate::policy::Vars {
        stack.vars(&self.region, &self.account_id, &self.partition)
    }

    /// Every kind's live state as its [`Kind::converged`] says (tests).
    #[cfg(test)]
    pub fn converged(mut self, stack: &Stack) -> Live {
        for kind in self.kinds.clone() {
            self.states
                .insert(kind.type_name(), Arc::from(kind.converged(stack)));
        }
        self
    }

    /// Replace a kind's live state (tests build live state this way).
    pub fn set<K: Kind>(&mut self, state: K::Live) {
        self.states.insert(K::TYPE, Arc::new(state));
    }
}

/// What a kind's reader gets: the clients, the stack, and the other kinds' live state.
pub struct ReadContext<'a> {
    pub aws: &'a Aws,
    pub stack: &'a Stack,
    pub write_only: WriteOnly,
    pub prepared: &'a Prepared,
    /// Read for `infra destroy`: a kind reads too what only deleting needs (what its resources
    /// hold).
    pub destroying: bool,
    slots: Vec<Slot>,
}

impl<'a> ReadContext<'a> {
    pub fn new(
        aws: &'a Aws,
        stack: &'a Stack,
        write_only: WriteOnly,
        prepared: &'a Prepared,
        kinds: &[&'static dyn DynKind],
    ) -> Self {
        ReadContext {
            aws,
            stack,
            write_only,
            prepared,
            destroying: false,
            slots: kinds.iter().map(|k| (*k, OnceCell::new())).collect(),
        }
    }

    /// A kind's live state, read once whoever asks first: for the commands that read one
    /// kind (`infra token`, `infra mcp`). A kind learns about another only through
    /// [`ReadContext::id_of`], [`ReadContext::reference`] and
    /// [`ReadContext::named_by_dependents`].
    pub async fn get<K: Kind>(&self) -> Result<&K::Live, Error> {
        let state = self.read(K::TYPE).await?;
        Ok(state
            .downcast_ref()
            .unwrap_or_else(|| panic!("{} read a state of another type", K::TYPE)))
    }

    /// The id of another kind's resource ([`Kind::id`]), once that kind is read.
    pub async fn id_of<K: Kind>(&self) -> Result<Option<String>, Error> {
        Ok(K::id(self.stack, self.get::<K>().await?))
    }

    /// What another kind's resource offers ([`Kind::reference`]), once that kind is read.
    pub async fn reference<K: Kind>(&self) -> Result<Option<K::Ref>, Error> {
        Ok(K::reference(self.stack, self.get::<K>().await?))
    }

    /// What the kinds that depend on `K` name of it in their live state
    /// ([`Kind::names_of_dependencies`]): the one resource of several that they use.
    pub async fn named_by_dependents<K: Kind>(&self) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        for (kind, _) in &self.slots {
            if kind.names_dependencies() && kind.depends_on().contains(&K::TYPE) {
                let state = self.read(kind.type_name()).await?;
                names.extend(kind.names_of_dependencies(state.as_ref()));
            }
        }
        Ok(names)
    }

    /// Read a kind (once) and return its state.
    pub async fn read(&self, type_name: &str) -> Result<&State, Error> {
        let (kind, cell) = self
            .slots
            .iter()
            .find(|(k, _)| k.type_name() == type_name)
            .unwrap_or_else(|| panic!("{type_name} is not a registered kind"));
        let result = cell
            .get_or_init(|| async { kind.read(self).await.map(Arc::from) })
            .await;
        result.as_ref().map_err(Clone::clone)
    }

    /// Every kind's state, once all have been read.
    pub fn into_states(self) -> BTreeMap<&'static str, State> {
        self.slots
            .into_iter()
            .filter_map(|(k, cell)| Some((k.type_name(), cell.into_inner()?.ok()?)))
            .collect()
    }
}
