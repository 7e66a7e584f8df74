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
use crate::stack::{DynSection, Section, Sectioned, Stack, TAG_STACK};

/// A value `infra output` prints: a name and, when its resource exists, the value.
pub type Output = (&'static str, Option<String>);

/// Which commands make a kind's call ([`Kind::permissions`], `infra permissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Every read: `plan`, and `apply` before and after it writes.
    Read,
    /// A read of a write-only value (a secret's value, a sign-in with the declared password):
    /// every read but that of `plan --skip-password-check`.
    ReadSecret,
    /// Only `apply`: its writes, and the reads it makes around them.
    Write,
}

/// One statement of the IAM policy a kind's calls need: its actions (`service:Action`), scoped
/// to the stack's resources: their ARNs, or a tag condition where an ARN is known only once the
/// resource exists (a pool id).
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub access: Access,
    /// What it is for, as the statement's `Sid`: letters and digits, unique within the kind.
    pub sid: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<String>,
    /// The statement's `Condition` (`{"StringEquals": {...}}`), if any.
    pub condition: Option<serde_json::Value>,
}

impl Grant {
    pub fn new<R: Into<String>>(
        access: Access,
        sid: &'static str,
        actions: &[&'static str],
        resources: impl IntoIterator<Item = R>,
    ) -> Grant {
        Grant {
            access,
            sid,
            actions: actions.to_vec(),
            resources: resources.into_iter().map(Into::into).collect(),
            condition: None,
        }
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, in the stack's region.
    pub fn arn(vars: &Vars, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            vars.partition, vars.region, vars.account_id
        )
    }

    /// `arn:PARTITION:SERVICE::ACCOUNT:RESOURCE`: a global service's (IAM's).
    pub fn global_arn(vars: &Vars, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}::{}:{resource}",
            vars.partition, vars.account_id
        )
    }

    /// One more condition: `{operator: {key: value}}`.
    pub fn when(mut self, operator: &str, key: &str, value: &str) -> Grant {
        let condition = self.condition.get_or_insert_with(|| serde_json::json!({}));
        condition[operator][key] = value.into();
        self
    }

    /// Only on resources tagged for `stack` (`aws:ResourceTag/infra:stack`).
    pub fn on_stack_tagged(self, stack: &str) -> Grant {
        self.when(
            "StringEquals",
            &format!("aws:ResourceTag/{TAG_STACK}"),
            stack,
        )
    }

    /// Only when the request tags for `stack` (`aws:RequestTag/infra:stack`): a create that
    /// tags what it creates, a tagging.
    pub fn tagging_for(self, stack: &str) -> Grant {
        self.when(
            "StringEquals",
            &format!("aws:RequestTag/{TAG_STACK}"),
            stack,
        )
    }
}

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
    /// not await the reads of the kinds it names (they await its read: neither would finish);
    /// it may await another kind's (the runtime, planning, awaits the image's digest).
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

    /// The IAM permissions this kind's calls need (`infra permissions`): the actions its read
    /// makes ([`Access::Read`], [`Access::ReadSecret`]) and those its apply makes
    /// ([`Access::Write`]: the writes, and the reads apply makes around them), scoped to the
    /// stack's resources. `vars` holds the account, partition and region (or placeholders for
    /// them) and what the sections provide (`repository_arn`, ...).
    fn permissions(_stack: &Stack, _vars: &Vars) -> Vec<Grant> {
        Vec::new()
    }

    /// `infra destroy`: plan the delete of each of this kind's resources the stack owns, as
    /// `read` found them (by the same identity rules as plan), as
    /// [`Planned::destroyed`](super::Planned::destroyed); say why one is kept
    /// ([`Planned::kept`](super::Planned::kept): not owned, holds what the stack did not make)
    /// or refuse ([`Planner::protect`]). Pure.
    fn plan_destroy(_cx: &PlanContext<'_>, _options: &Destroying, _planner: &mut Planner) {}

    /// Delete one resource [`Kind::plan_destroy`] planned, waiting until it is gone where AWS
    /// deletes in the background. A resource already gone is not an error: a destroy that was
    /// stopped half way is run again.
    fn delete(_cx: &ApplyContext<'_>, r: &ResourcePlan) -> impl Future<Output = Result<(), Error>> {
        let address = r.address.clone();
        async move {
            Err(Error::new(
                &address,
                "delete",
                "internal error: this kind plans no delete",
            ))
        }
    }

    /// The Resource Groups Tagging API's type of this kind's resources (`service:type`) when
    /// AWS lets them be found by tag: `plan` searches the resources tagged for the stack that
    /// it no longer declares (renamed in the stack file).
    const TAGGED_AS: Option<&'static str> = None;

    /// Of the resources the Tagging API found tagged for the stack (`arns`, of type
    /// [`Kind::TAGGED_AS`]), those the stack no longer declares, each planned as its delete
    /// ([`Planned::destroyed`](super::Planned::destroyed) with what [`Kind::delete`] takes).
    /// Reads them as needed; the declared kinds are read already.
    fn undeclared(
        _cx: &ReadContext<'_>,
        _arns: &[String],
    ) -> impl Future<Output = Result<Vec<super::Planned>, Error>> {
        async { Ok(Vec::new()) }
    }

    /// The IAM permissions `infra destroy` needs beyond the reads ([`Kind::permissions`]'
    /// `Read` grants): the deletes, and the reads around them.
    fn destroy_permissions(_stack: &Stack, _vars: &Vars) -> Vec<Grant> {
        Vec::new()
    }
}

/// What `infra destroy` was asked to do beyond the stack's own rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Destroying {
    /// Delete a resource the stack owns even when it holds what the stack did not make (which
    /// each kind otherwise keeps, saying what it holds).
    pub force: bool,
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
    fn permissions(&self, stack: &Stack, vars: &Vars) -> Vec<Grant>;
    fn plan_destroy(&self, cx: &PlanContext<'_>, options: &Destroying, planner: &mut Planner);
    fn delete<'a>(
        &'a self,
        cx: &'a ApplyContext<'a>,
        r: &'a ResourcePlan,
    ) -> LocalBoxFuture<'a, Result<(), Error>>;
    fn destroy_permissions(&self, stack: &Stack, vars: &Vars) -> Vec<Grant>;
    fn tagged_as(&self) -> Option<&'static str>;
    fn undeclared<'a>(
        &'a self,
        cx: &'a ReadContext<'a>,
        arns: &'a [String],
    ) -> LocalBoxFuture<'a, Result<Vec<super::Planned>, Error>>;
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

    fn permissions(&self, stack: &Stack, vars: &Vars) -> Vec<Grant> {
        K::permissions(stack, vars)
    }

    fn plan_destroy(&self, cx: &PlanContext<'_>, options: &Destroying, planner: &mut Planner) {
        K::plan_destroy(cx, options, planner);
    }

    fn delete<'a>(
        &'a self,
        cx: &'a ApplyContext<'a>,
        r: &'a ResourcePlan,
    ) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(K::delete(cx, r))
    }

    fn destroy_permissions(&self, stack: &Stack, vars: &Vars) -> Vec<Grant> {
        K::destroy_permissions(stack, vars)
    }

    fn tagged_as(&self) -> Option<&'static str> {
        K::TAGGED_AS
    }

    fn undeclared<'a>(
        &'a self,
        cx: &'a ReadContext<'a>,
        arns: &'a [String],
    ) -> LocalBoxFuture<'a, Result<Vec<super::Planned>, Error>> {
        Box::pin(K::undeclared(cx, arns))
    }
}
