//! The trait every resource kind implements, and the object-safe form the registry holds.
//!
//! A kind is a unit type (`pub struct UserPool;`) whose `Kind` impl says what it reads, how it
//! plans (pure) and how it applies a planned change. The engine never names a kind: it walks
//! the registry's list of `&dyn DynKind` in dependency order.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::LocalBoxFuture;

use super::apply::ApplyContext;
use super::planner::{PlanContext, Planner, ResourcePlan};
use super::read::ReadContext;
use crate::error::Error;
use crate::policy::Vars;
use crate::stack::{DynSection, Section, Sectioned, Stack};

/// A value `infra output` prints: a name and, when its resource exists, the value.
pub type Output = (&'static str, Option<String>);

/// A kind declares its `stack.toml` section too ([`Section`]: its raw form, spec and checks).
pub trait Kind: Section + Sized {
    /// `cognito_user_pool`, ...: the first part of its resources' addresses, `type` in JSON.
    const TYPE: &'static str;
    /// The kinds whose resources this kind's resources depend on: planned and applied first;
    /// when one of them is blocked, this kind is not planned.
    const DEPENDS_ON: &'static [&'static str] = &[];

    /// What `read` found. `Default` is "nothing exists".
    type Live: Default + Send + Sync + 'static;

    /// Local work before anything is read (building an image), blocking; `say` reports
    /// progress. What it returns reaches `read` through [`ReadContext::prepared`].
    fn prepare(
        _stack: &Stack,
        _say: &dyn Fn(&str),
    ) -> Result<Option<Arc<dyn Any + Send + Sync>>, Error> {
        Ok(None)
    }

    /// Read the live state of this kind's declared resources. IO; read-only.
    fn read(cx: &ReadContext<'_>) -> impl Future<Output = Result<Self::Live, Error>>;

    /// Decide, for each of this kind's resources, what apply must do. Pure.
    fn plan(cx: &PlanContext<'_>, planner: &mut Planner);

    /// Carry out one planned change; returns the resource's id.
    fn apply(
        cx: &ApplyContext<'_>,
        r: &ResourcePlan,
    ) -> impl Future<Output = Result<String, Error>>;

    /// What `infra output` prints for this kind.
    fn outputs(_cx: &PlanContext<'_>) -> Vec<Output> {
        Vec::new()
    }

    // What the kinds that depend on this one may know of it. A kind learns about another
    // only through these, by type, from the engine's contexts (`cx.id_of::<UserPool>()`,
    // `cx.reference::<Client>()`, ...): never through the other kind's functions, section or
    // live state.

    /// What this kind's resource offers beyond its id (a typed view it chooses, such as an app
    /// client's sign-in flows); `()` for nothing.
    type Ref: Clone + Send + Sync + 'static;

    /// The id of this kind's one resource, when it exists and the stack may use it (its own,
    /// or adopted). After a create in the same apply, what its apply returned.
    fn id(_stack: &Stack, _live: &Self::Live) -> Option<String> {
        None
    }

    /// A value that follows from an id (a pool's OIDC discovery URL), by name.
    fn derived(_name: &str, _id: &str, _vars: &Vars) -> Option<String> {
        None
    }

    /// The names of the resources the stack declares of this kind (a client's name, the
    /// usernames): what another kind may compare live contents with.
    fn declared_names(_stack: &Stack) -> Vec<String> {
        Vec::new()
    }

    /// The typed view of [`Kind::Ref`], from what was read.
    fn reference(_stack: &Stack, _live: &Self::Live) -> Option<Self::Ref> {
        None
    }

    /// The typed view while planning, when it needs more than what was read (the account's
    /// placeholder values: a role's ARN before the role exists). By default, [`Kind::reference`].
    fn planned_reference(cx: &PlanContext<'_>) -> Option<Self::Ref> {
        Self::reference(cx.stack, cx.live.get::<Self>())
    }

    /// A value only apply can learn, once the kinds before this one are applied (the digest a
    /// tag points at in a repository this apply created).
    fn resolve(_cx: &ApplyContext<'_>) -> impl Future<Output = Result<Option<String>, Error>> {
        async { Ok(None) }
    }

    /// Whether this kind's live state names resources of the kinds it depends on (the
    /// runtime's JWT authorizer names a pool and a client): what lets such a kind, reading
    /// duplicates, keep the one in use ([`ReadContext::named_by_dependents`]). Its read must
    /// not await the reads of the kinds it depends on.
    const NAMES_DEPENDENCIES: bool = false;

    /// For tests: this kind's live state when everything `stack` declares exists exactly as
    /// declared (what `resources::testing::LiveBuilder::converged` builds from every kind).
    #[cfg(test)]
    fn converged(_stack: &Stack) -> Self::Live {
        Self::Live::default()
    }

    /// Those names, when [`Kind::NAMES_DEPENDENCIES`].
    fn names_of_dependencies(_live: &Self::Live) -> Vec<String> {
        Vec::new()
    }

    /// What a saved plan (`plan --out`) records of this kind's live state beyond what the plan
    /// shows, as `(address, field, value)`: values applying the plan depends on (a runtime's
    /// version, the digest a tag points at, a policy document). `apply FILE` reads them again
    /// and refuses a stale plan naming each one that changed. Never a secret value.
    fn fingerprint(_cx: &PlanContext<'_>) -> Vec<(String, &'static str, serde_json::Value)> {
        Vec::new()
    }
}

/// The object-safe face of a [`Kind`], for the registry's list.
pub trait DynKind: Sync {
    fn type_name(&self) -> &'static str;
    fn depends_on(&self) -> &'static [&'static str];
    fn section(&self) -> &'static dyn DynSection;
    fn empty(&self) -> Box<dyn Any + Send + Sync>;
    fn prepare(
        &self,
        stack: &Stack,
        say: &dyn Fn(&str),
    ) -> Result<Option<Arc<dyn Any + Send + Sync>>, Error>;
    fn read<'a>(
        &'a self,
        cx: &'a ReadContext<'a>,
    ) -> LocalBoxFuture<'a, Result<Box<dyn Any + Send + Sync>, Error>>;
    fn plan(&self, cx: &PlanContext<'_>, planner: &mut Planner);
    fn apply<'a>(
        &'a self,
        cx: &'a ApplyContext<'a>,
        r: &'a ResourcePlan,
    ) -> LocalBoxFuture<'a, Result<String, Error>>;
    fn outputs(&self, cx: &PlanContext<'_>) -> Vec<Output>;
    fn names_dependencies(&self) -> bool;
    #[cfg(test)]
    fn converged(&self, stack: &Stack) -> Box<dyn Any + Send + Sync>;
    fn names_of_dependencies(&self, live: &(dyn Any + Send + Sync)) -> Vec<String>;
    fn fingerprint(&self, cx: &PlanContext<'_>) -> Vec<(String, &'static str, serde_json::Value)>;
}

/// A kind as the registry lists it: `&Registered::<UserPool>::KIND`.
pub struct Registered<K>(PhantomData<fn() -> K>);

impl<K: Kind> Registered<K> {
    pub const KIND: Registered<K> = Registered(PhantomData);
}

impl<K: Kind> DynKind for Registered<K> {
    fn type_name(&self) -> &'static str {
        K::TYPE
    }

    fn depends_on(&self) -> &'static [&'static str] {
        K::DEPENDS_ON
    }

    fn section(&self) -> &'static dyn DynSection {
        &Sectioned::<K>::SECTION
    }

    fn empty(&self) -> Box<dyn Any + Send + Sync> {
        Box::new(K::Live::default())
    }

    fn prepare(
        &self,
        stack: &Stack,
        say: &dyn Fn(&str),
    ) -> Result<Option<Arc<dyn Any + Send + Sync>>, Error> {
        K::prepare(stack, say)
    }

    fn read<'a>(
        &'a self,
        cx: &'a ReadContext<'a>,
    ) -> LocalBoxFuture<'a, Result<Box<dyn Any + Send + Sync>, Error>> {
        Box::pin(async move {
            let state = K::read(cx).await?;
            Ok(Box::new(state) as Box<dyn Any + Send + Sync>)
        })
    }

    fn plan(&self, cx: &PlanContext<'_>, planner: &mut Planner) {
        K::plan(cx, planner);
    }

    fn apply<'a>(
        &'a self,
        cx: &'a ApplyContext<'a>,
        r: &'a ResourcePlan,
    ) -> LocalBoxFuture<'a, Result<String, Error>> {
        Box::pin(K::apply(cx, r))
    }

    fn outputs(&self, cx: &PlanContext<'_>) -> Vec<Output> {
        K::outputs(cx)
    }

    fn names_dependencies(&self) -> bool {
        K::NAMES_DEPENDENCIES
    }

    #[cfg(test)]
    fn converged(&self, stack: &Stack) -> Box<dyn Any + Send + Sync> {
        Box::new(K::converged(stack))
    }

    fn names_of_dependencies(&self, live: &(dyn Any + Send + Sync)) -> Vec<String> {
        live.downcast_ref()
            .map(K::names_of_dependencies)
            .unwrap_or_default()
    }

    fn fingerprint(&self, cx: &PlanContext<'_>) -> Vec<(String, &'static str, serde_json::Value)> {
        K::fingerprint(cx)
    }
}
