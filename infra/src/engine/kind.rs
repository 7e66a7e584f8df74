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
use super::error::Error;
use super::planner::{PlanContext, Planner, ResourcePlan};
use super::read::ReadContext;
use crate::stack::{DynSection, Section, Sectioned, Stack};

/// A value `infra output` prints: a name and, when its resource exists, the value.
pub type Output = (&'static str, Option<String>);

/// A kind declares its `stack.toml` section too ([`Section`]: its raw form, spec and checks).
pub trait Kind: Section {
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

    /// The id of this kind's resource as the kinds that depend on it refer to it, when it
    /// exists and is the stack's: what `id_of::<K>()` gives them while reading, planning and
    /// applying (after a create, what its apply returned). `None` for kinds nothing refers to.
    fn id(_live: &Self::Live) -> Option<String> {
        None
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
}
