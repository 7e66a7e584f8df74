//! `cognito_user_pool`: found by name among pools tagged for this stack.
//!
//! Pool names are not unique in AWS, so two applies at once can each create the pool. After
//! creating one, apply lists the pools with the name and the stack's tag and keeps the oldest
//! (creation date, then id): every racer agrees on it, deletes its own when it is not that one,
//! and carries on with the survivor. Several tagged pools found by a read (left by an older
//! infra) are settled in the plan: the runtime's pool (else the oldest) is kept, and the others
//! are deleted when they hold nothing the stack does not declare, or explained when they do.

pub mod section;

mod apply;
mod plan;
mod read;

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::primitives::DateTime;
use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, PasswordPolicyType, UserPoolPolicyType, UserPoolType,
    UsernameAttributeType,
};

use super::cognito_client::Client;
use super::cognito_shared::{age_key, planned_duplicate, shown_date};
use super::cognito_user::User;
use crate::aws::Aws;
use crate::engine::{
    Action, ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned,
    Planner, ReadContext, ResourcePlan, address, claim, not_found_as_none, owned_by, tag_changes,
};
use crate::stack::Stack;
use section::{PasswordPolicy, UserPoolSpec};

use apply::*;
use plan::*;
use read::*;

#[derive(Debug, Clone)]
pub struct LivePool {
    pub id: String,
    pub owned: bool,
    pub tags: BTreeMap<String, String>,
    pub password_policy: PasswordPolicy,
    pub username_attributes: Vec<String>,
    pub deletion_protection: bool,
    /// The whole description, so an update can carry over what the stack does not manage.
    pub raw: UserPoolType,
    pub created: Option<DateTime>,
    /// Other pools with this name and the stack's tag (left by two applies at once): the plan
    /// deletes or explains them.
    pub duplicates: Vec<Duplicate>,
    /// The ids of same-named pools not tagged for the stack (someone else's): destroy reports
    /// them kept.
    pub foreign: Vec<String>,
}

/// A pool with the stack's name and tag besides the one the stack keeps.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub id: String,
    pub created: Option<DateTime>,
    pub deletion_protection: bool,
    /// The names of its app clients.
    pub clients: Vec<String>,
    /// Its usernames; `None` when it has too many to list in one page (not listed).
    pub users: Option<Vec<String>>,
    pub estimated_users: i32,
}

impl Owned for LivePool {
    fn identifier(&self) -> &str {
        &self.id
    }
    fn owned(&self) -> bool {
        self.owned
    }
}

/// The kind.
pub struct UserPool;

/// What apply needs: the declared pool and, for an update, the live one.
struct Step {
    spec: UserPoolSpec,
    live: Option<LivePool>,
}

/// What apply needs to delete a pool (a duplicate, or the stack's on destroy).
struct Extra {
    id: String,
    /// Deletion protection is on: turned off first.
    protected: bool,
}

impl Kind for UserPool {
    /// Reading lists the region's pools (`ListUserPools` takes no resource) and describes each
    /// with the declared name, another stack's too (its tags say it is foreign), and a
    /// duplicate's clients and users: on every pool. Writes only on pools tagged for the stack,
    /// except for an adopted pool, whose first update is what tags it.
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(spec) = stack.one::<UserPool>() else {
            return Vec::new();
        };
        let pools = Grant::arn(vars, "cognito-idp", "userpool/*");
        let change = Grant::new(
            Access::Write,
            "Change",
            &["cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool"],
            [&pools],
        );
        vec![
            Grant::new(Access::Read, "List", &["cognito-idp:ListUserPools"], ["*"]),
            Grant::new(
                Access::Read,
                "Read",
                &[
                    "cognito-idp:DescribeUserPool",
                    "cognito-idp:ListUserPoolClients",
                    "cognito-idp:ListUsers",
                ],
                [&pools],
            ),
            // No resource: a pool's id is AWS's choice. Only with the stack's tag.
            Grant::new(
                Access::Write,
                "Create",
                &["cognito-idp:CreateUserPool"],
                ["*"],
            )
            .tagging_for(&stack.name),
            if spec.adopt {
                change
            } else {
                change.on_stack_tagged(&stack.name)
            },
        ]
    }

    const TYPE: &'static str = "cognito_user_pool";
    type Live = Lookup<LivePool>;
    type Ref = ();

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        use crate::resources::testing;
        testing::pool(stack).map_or(Lookup::Missing, Lookup::Found)
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Lookup<LivePool>, Error> {
        match cx.stack.one::<UserPool>() {
            Some(spec) => read(cx, spec).await,
            None => Ok(Lookup::Missing),
        }
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let Some(spec) = cx.stack.one::<UserPool>() {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        if r.action == Action::Delete {
            let extra: &Extra = r.payload()?;
            delete(cx, &r.address, &extra.id, extra.protected).await?;
            return Ok(extra.id.clone());
        }
        let step: &Step = r.payload()?;
        match &step.live {
            None => create(cx, &r.address, &step.spec).await,
            Some(pool) => update(cx, &r.address, &step.spec, pool).await,
        }
    }

    /// The stack's pool (and any same-named duplicates tagged for it), its users and app
    /// clients with it. Deletion protection on in AWS protects it too, unless the stack turns
    /// it off (`deletion_protection = false`): destroy then turns it off first.
    fn plan_destroy(cx: &PlanContext<'_>, _: &crate::engine::Destroying, planner: &mut Planner) {
        let Some(spec) = cx.stack.one::<UserPool>() else {
            return;
        };
        let found = cx.live.get::<UserPool>();
        let protect = spec.protect.then_some("[cognito.user_pool]");
        let Some(pool) = crate::engine::doomed(planner, &spec.name, found, protect) else {
            return;
        };
        if pool.deletion_protection && spec.deletion_protection {
            planner.protect(
                &spec.name,
                "deletion_protection",
                "the pool has deletion protection on, and the stack keeps it on; set \
                 deletion_protection = false in [cognito.user_pool] to destroy it",
            );
            return;
        }
        let doomed = |id: &str, protected: bool| Extra {
            id: id.to_owned(),
            protected,
        };
        planner.add(
            Planned::destroyed(&spec.name, &pool.id)
                .with_payload(doomed(&pool.id, pool.deletion_protection)),
        );
        for id in &pool.foreign {
            planner.add(Planned::kept(
                format!("{}[{id}]", spec.name),
                Some(id.clone()),
                crate::engine::NOT_OWNED,
            ));
        }
        for d in &pool.duplicates {
            planner.add(
                Planned::destroyed(format!("{}[{}]", spec.name, d.id), &d.id)
                    .with_reason("a same-named duplicate tagged for this stack")
                    .with_payload(doomed(&d.id, d.deletion_protection)),
            );
        }
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        let extra: &Extra = r.payload()?;
        delete(cx, &r.address, &extra.id, extra.protected).await
    }

    const TAGGED_AS: Option<&'static str> = Some("cognito-idp:userpool");

    async fn undeclared(cx: &ReadContext<'_>, arns: &[String]) -> Result<Vec<Planned>, Error> {
        read::undeclared(cx, arns).await
    }

    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        if stack.one::<UserPool>().is_none() {
            return Vec::new();
        }
        let pools = Grant::arn(vars, "cognito-idp", "userpool/*");
        vec![
            Grant::new(
                Access::Write,
                "Delete",
                &["cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool"],
                [pools],
            )
            .on_stack_tagged(&stack.name),
        ]
    }

    /// The pool's id, when the stack may use the pool (its own, or adopted).
    fn id(stack: &Stack, live: &Lookup<LivePool>) -> Option<String> {
        managed(stack, live).map(|p| p.id.clone())
    }

    /// `discovery_url`: the pool's OIDC discovery URL, for JWT authorizers.
    fn derived(name: &str, id: &str, vars: &crate::policy::Vars) -> Option<String> {
        (name == DISCOVERY_URL).then(|| discovery_url(&vars.region, id))
    }

    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        let pool = cx.live.get::<UserPool>().found();
        vec![
            ("user_pool_id", pool.map(|p| p.id.clone())),
            (
                "discovery_url",
                pool.map(|p| discovery_url(&cx.live.region, &p.id)),
            ),
        ]
    }
}

/// The live pool when this stack may look into it and change it (owned, or adopted).
fn managed<'a>(stack: &Stack, lookup: &'a Lookup<LivePool>) -> Option<&'a LivePool> {
    let spec = stack.one::<UserPool>()?;
    lookup.found().filter(|p| p.owned || spec.adopt)
}

/// The name of the value [`Kind::derived`] gives for a pool id: its OIDC discovery URL.
pub const DISCOVERY_URL: &str = "discovery_url";

/// The OIDC discovery URL of a pool, for JWT authorizers.
fn discovery_url(region: &str, pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}/.well-known/openid-configuration")
}

#[cfg(test)]
mod tests;
