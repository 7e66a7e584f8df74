//! `plan(&Stack, &Live) -> Plan`: pure, no IO. Decides per resource what apply must do, and why.

use serde::Serialize;
use serde_json::Value;

use crate::live::Live;
use crate::policy::Vars;
use crate::resources::{
    cognito_client, cognito_pool, cognito_user, ecr_repository, iam_role, iam_role_policy, image,
    runtime,
};
use crate::stack::Stack;

/// The closed set of things apply may do to a resource. Never delete-and-recreate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    NoOp,
}

impl Action {
    pub fn glyph(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::NoOp => ' ',
        }
    }

    /// "will be ..." in the plan.
    pub fn future(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated in place",
            Action::Delete => "deleted",
            Action::NoOp => "left unchanged",
        }
    }

    /// The progress line while apply runs it.
    pub fn progressive(self) -> &'static str {
        match self {
            Action::Create => "Creating",
            Action::Update => "Modifying",
            Action::Delete => "Deleting",
            Action::NoOp => "Reading",
        }
    }

    pub fn past(self) -> &'static str {
        match self {
            Action::Create => "Creation",
            Action::Update => "Modifications",
            Action::Delete => "Destruction",
            Action::NoOp => "Read",
        }
    }
}

/// What a field looks like in a plan. Secrets are only ever `Sensitive`.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Absent,
    Value(Value),
    /// A JSON document (IAM policy), compared canonically and shown as a diff.
    Document(Value),
    Sensitive,
    KnownAfterApply,
}

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Absent => s.serialize_none(),
            Shown::Value(v) | Shown::Document(v) => v.serialize(s),
            Shown::Sensitive => s.serialize_str(crate::sensitive::REDACTED),
            Shown::KnownAfterApply => s.serialize_str("(known after apply)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Shown,
    pub after: Shown,
}

/// A resource kind, and which declared resource it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    UserPool,
    Client,
    User(String),
    Role,
    RolePolicy(String),
    Repository,
    Image,
    Runtime,
}

impl Kind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::UserPool => "cognito_user_pool",
            Kind::Client => "cognito_user_pool_client",
            Kind::User(_) => "cognito_user",
            Kind::Role => "iam_role",
            Kind::RolePolicy(_) => "iam_role_policy",
            Kind::Repository => "ecr_repository",
            Kind::Image => "image",
            Kind::Runtime => "agentcore_runtime",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourcePlan {
    pub address: String,
    /// Serialized as `type`: `cognito_user_pool`, `iam_role`, ...
    #[serde(rename = "type", serialize_with = "serialize_kind")]
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    /// The live id, when the resource exists.
    pub id: Option<String>,
    /// Why this action was chosen.
    pub reason: String,
    pub changes: Vec<FieldChange>,
    /// Things worth knowing that change nothing (e.g. a password that is not managed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub depends_on: Vec<String>,
}

fn serialize_kind<S: serde::Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.type_name())
}

/// Something that stops plan and apply: nothing is changed while any exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocker {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    pub region: String,
    pub account_id: String,
    pub resources: Vec<ResourcePlan>,
    pub blockers: Vec<Blocker>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.resources.iter().any(|r| r.action != Action::NoOp)
    }

    pub fn changed(&self) -> impl Iterator<Item = &ResourcePlan> {
        self.resources.iter().filter(|r| r.action != Action::NoOp)
    }
}

/// Collects the fields that differ between live and desired. With no live resource, every
/// desired field is listed (what a create will set).
#[derive(Default)]
pub struct Changes(Vec<FieldChange>);

impl Changes {
    pub fn value<T: Serialize>(&mut self, field: &str, live: Option<T>, desired: T) {
        let after = serde_json::to_value(desired).expect("plan values serialize");
        let before = live.map(|v| serde_json::to_value(v).expect("plan values serialize"));
        if before.as_ref() != Some(&after) {
            self.0.push(FieldChange {
                field: field.to_owned(),
                before: before.map_or(Shown::Absent, Shown::Value),
                after: Shown::Value(after),
            });
        }
    }

    /// Compared canonically; shown as written (keys sorted), so a list stays a list.
    pub fn document(&mut self, field: &str, live: Option<&Value>, desired: &Value) {
        let equal =
            live.is_some_and(|l| crate::policy::canonical(l) == crate::policy::canonical(desired));
        if !equal {
            self.0.push(FieldChange {
                field: field.to_owned(),
                before: live.cloned().map_or(Shown::Absent, Shown::Document),
                after: Shown::Document(desired.clone()),
            });
        }
    }

    pub fn push(&mut self, field: &str, before: Shown, after: Shown) {
        self.0.push(FieldChange {
            field: field.to_owned(),
            before,
            after,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Create when nothing exists; otherwise update in place, or nothing when nothing differs.
    pub fn action(&self, exists: bool) -> Action {
        match (exists, self.is_empty()) {
            (false, _) => Action::Create,
            (true, true) => Action::NoOp,
            (true, false) => Action::Update,
        }
    }

    pub fn into_vec(self) -> Vec<FieldChange> {
        self.0
    }
}

/// Everything a resource's planner may look at.
pub struct PlanContext<'a> {
    pub stack: &'a Stack,
    pub live: &'a Live,
    pub vars: &'a Vars,
}

/// Accumulates resource plans and blockers.
#[derive(Default)]
pub struct Planner {
    pub resources: Vec<ResourcePlan>,
    pub blockers: Vec<Blocker>,
}

impl Planner {
    pub fn block(&mut self, address: &str, field: Option<&str>, message: impl Into<String>) {
        self.blockers.push(Blocker {
            address: address.to_owned(),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    /// Whether the resource itself (not just one field) is blocked: its dependents are then not
    /// planned either, as they would only restate the same problem.
    pub fn is_blocked(&self, address: &str) -> bool {
        self.blockers
            .iter()
            .any(|b| b.address == address && b.field.is_none())
    }

    pub fn planned(&self, address: &str) -> Option<&ResourcePlan> {
        self.resources.iter().find(|r| r.address == address)
    }
}

/// Decide, for every declared resource, what apply must do.
pub fn plan(stack: &Stack, live: &Live) -> Plan {
    let vars = live.vars(stack);
    let cx = PlanContext {
        stack,
        live,
        vars: &vars,
    };
    let mut planner = Planner::default();
    cognito_pool::plan(&cx, &mut planner);
    cognito_client::plan(&cx, &mut planner);
    cognito_user::plan(&cx, &mut planner);
    iam_role::plan(&cx, &mut planner);
    iam_role_policy::plan(&cx, &mut planner);
    ecr_repository::plan(&cx, &mut planner);
    image::plan(&cx, &mut planner);
    runtime::plan(&cx, &mut planner);

    let mut summary = Summary::default();
    for r in &planner.resources {
        match r.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Delete => summary.delete += 1,
            Action::NoOp => {}
        }
    }
    Plan {
        format_version: 1,
        stack: stack.name.clone(),
        region: live.region.clone(),
        account_id: live.account_id.clone(),
        resources: planner.resources,
        blockers: planner.blockers,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use aws_sdk_cognitoidentityprovider::types::{UserPoolClientType, UserPoolType};
    use serde_json::json;

    use super::*;
    use crate::resources::Lookup;
    use crate::resources::cognito_client::LiveClient;
    use crate::resources::cognito_pool::LivePool;
    use crate::resources::cognito_user::{LiveUser, PasswordCheck};
    use crate::resources::iam_role::LiveRole;
    use crate::stack::PasswordPolicy;

    const STACK: &str = r#"
[stack]
name = "demo"
[cognito.user_pool]
name = "Pool"
password_policy = { minimum_length = 10 }
[cognito.client]
name = "Client"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
[[cognito.users]]
username = "alice"
password = { env = "PW" }
[iam.role]
name = "role"
[iam.role.policies.Logs]
document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "arn:aws:logs:${region}:${account_id}:*"}]}'
"#;

    fn stack(text: &str) -> Stack {
        Stack::parse(Path::new("stack.toml"), text, &|_| {
            Some("Password-123".to_owned())
        })
        .unwrap()
    }

    fn empty() -> Live {
        Live {
            region: "us-west-2".into(),
            account_id: "111122223333".into(),
            partition: "aws".into(),
            user_pool: Lookup::Missing,
            client: Lookup::Missing,
            users: BTreeMap::from([("alice".to_owned(), None)]),
            role: Lookup::Missing,
            repository: Lookup::Missing,
            runtime: Lookup::Missing,
            runtime_named_otherwise: Vec::new(),
            image: None,
            image_tag_digest: None,
        }
    }

    fn tags(stack: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("infra:stack".to_owned(), stack.to_owned()),
            ("infra:managed-by".to_owned(), "infra".to_owned()),
        ])
    }

    /// Live state exactly as the stack declares it, with AWS's own formatting of documents.
    fn converged() -> Live {
        let mut live = empty();
        live.user_pool = Lookup::Found(LivePool {
            id: "us-west-2_abc".into(),
            owned: true,
            tags: tags("demo"),
            password_policy: PasswordPolicy {
                minimum_length: 10,
                ..PasswordPolicy::default()
            },
            username_attributes: Vec::new(),
            deletion_protection: false,
            raw: UserPoolType::builder().build(),
        });
        live.client = Lookup::Found(LiveClient {
            id: "client1".into(),
            explicit_auth_flows: vec![
                "ALLOW_REFRESH_TOKEN_AUTH".into(),
                "ALLOW_USER_PASSWORD_AUTH".into(),
            ],
            has_secret: false,
            raw: UserPoolClientType::builder().build(),
        });
        live.users.insert(
            "alice".into(),
            Some(LiveUser {
                status: "CONFIRMED".into(),
                password: PasswordCheck::Matches,
            }),
        );
        let trust = crate::policy::render(
            crate::stack::DEFAULT_TRUST_POLICY,
            &live.vars(&stack(STACK)),
        );
        live.role = Lookup::Found(LiveRole {
            id: "AROA1".into(),
            arn: "arn:aws:iam::111122223333:role/role".into(),
            owned: true,
            path: "/".into(),
            description: None,
            max_session_duration: 3600,
            trust_policy: serde_json::from_str(&trust).unwrap(),
            tags: tags("demo"),
            // Reordered keys and a bare string where the stack has a one-element list.
            policies: BTreeMap::from([(
                "Logs".to_owned(),
                json!({"Statement": [{"Resource": "arn:aws:logs:us-west-2:111122223333:*", "Action": "logs:PutLogEvents", "Effect": "Allow"}], "Version": "2012-10-17"}),
            )]),
        });
        live
    }

    fn action_of<'a>(plan: &'a Plan, address: &str) -> Option<&'a ResourcePlan> {
        plan.resources.iter().find(|r| r.address == address)
    }

    #[test]
    fn from_nothing_everything_is_created_in_dependency_order() {
        let plan = plan(&stack(STACK), &empty());
        assert_eq!(
            plan.summary,
            Summary {
                create: 5,
                update: 0,
                delete: 0
            }
        );
        assert!(plan.blockers.is_empty());
        let client = action_of(&plan, "cognito_user_pool_client.Client").unwrap();
        assert!(
            client
                .changes
                .iter()
                .any(|c| c.field == "user_pool_id" && c.after == Shown::KnownAfterApply)
        );
        let levels: Vec<Vec<&str>> = crate::apply::levels(&plan)
            .iter()
            .map(|l| l.iter().map(|r| r.address.as_str()).collect())
            .collect();
        assert_eq!(
            levels,
            vec![
                vec!["cognito_user_pool.Pool", "iam_role.role"],
                vec!["cognito_user_pool_client.Client", "iam_role_policy.Logs"],
                vec!["cognito_user.alice"],
            ]
        );
    }

    #[test]
    fn converged_live_state_plans_nothing_even_when_aws_formats_documents_differently() {
        let plan = plan(&stack(STACK), &converged());
        let changed: Vec<_> = plan.changed().map(|r| (&r.address, &r.changes)).collect();
        assert!(changed.is_empty(), "{changed:#?}");
        assert!(plan.blockers.is_empty());
    }

    #[test]
    fn drift_names_each_field_and_keeps_ids() {
        let mut live = converged();
        if let Lookup::Found(pool) = &mut live.user_pool {
            pool.password_policy.minimum_length = 6;
        }
        if let Lookup::Found(role) = &mut live.role {
            role.policies.insert(
                "Logs".into(),
                json!({"Version": "2012-10-17", "Statement": []}),
            );
            role.policies.insert(
                "Extra".into(),
                json!({"Version": "2012-10-17", "Statement": []}),
            );
        }
        if let Some(Some(user)) = live.users.get_mut("alice") {
            user.password =
                PasswordCheck::MustSet("the declared password does not authenticate".into());
        }
        let plan = plan(&stack(STACK), &live);
        assert_eq!(
            plan.summary,
            Summary {
                create: 0,
                update: 3,
                delete: 1
            }
        );
        let pool = action_of(&plan, "cognito_user_pool.Pool").unwrap();
        assert_eq!(pool.id.as_deref(), Some("us-west-2_abc"));
        assert_eq!(pool.changes.len(), 1);
        assert_eq!(pool.changes[0].field, "password_policy.minimum_length");
        assert_eq!(pool.changes[0].before, Shown::Value(json!(6)));
        let user = action_of(&plan, "cognito_user.alice").unwrap();
        assert_eq!(user.changes[0].after, Shown::Sensitive);
        assert_eq!(
            action_of(&plan, "iam_role_policy.Extra").unwrap().action,
            Action::Delete
        );
    }

    #[test]
    fn a_foreign_pool_blocks_it_and_its_dependents() {
        let mut live = converged();
        if let Lookup::Found(pool) = &mut live.user_pool {
            pool.owned = false;
            pool.tags.clear();
        }
        let plan = plan(&stack(STACK), &live);
        assert_eq!(plan.blockers.len(), 1);
        assert_eq!(plan.blockers[0].address, "cognito_user_pool.Pool");
        assert!(
            plan.blockers[0]
                .message
                .contains("not tagged infra:stack=demo")
        );
        assert!(action_of(&plan, "cognito_user_pool_client.Client").is_none());
        assert!(action_of(&plan, "cognito_user.alice").is_none());
        assert!(action_of(&plan, "iam_role.role").is_some());
    }

    #[test]
    fn adopting_a_foreign_pool_only_adds_the_stack_tags() {
        let mut live = converged();
        if let Lookup::Found(pool) = &mut live.user_pool {
            pool.owned = false;
            pool.tags = BTreeMap::from([("team".to_owned(), "search".to_owned())]);
        }
        let text = STACK.replace("name = \"Pool\"", "name = \"Pool\"\nadopt = true");
        let plan = plan(&stack(&text), &live);
        assert!(plan.blockers.is_empty());
        let pool = action_of(&plan, "cognito_user_pool.Pool").unwrap();
        assert_eq!(pool.action, Action::Update);
        assert_eq!(pool.reason, "adopting: tags it for this stack");
        assert_eq!(pool.changes.len(), 1);
        assert_eq!(pool.changes[0].field, "tags");
    }

    #[test]
    fn fields_aws_cannot_change_in_place_are_blockers() {
        let mut live = converged();
        if let Lookup::Found(role) = &mut live.role {
            role.path = "/service/".into();
        }
        if let Lookup::Found(client) = &mut live.client {
            client.has_secret = true;
        }
        let plan = plan(&stack(STACK), &live);
        let fields: Vec<_> = plan
            .blockers
            .iter()
            .map(|b| (b.address.as_str(), b.field.as_deref()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("cognito_user_pool_client.Client", Some("generate_secret")),
                ("iam_role.role", Some("path"))
            ]
        );
    }

    #[test]
    fn two_owned_pools_are_never_guessed_between() {
        let mut live = empty();
        live.user_pool = Lookup::Many {
            ids: vec!["p1".into(), "p2".into()],
            owned: true,
        };
        let plan = plan(&stack(STACK), &live);
        assert_eq!(plan.blockers.len(), 1);
        assert!(plan.blockers[0].message.contains("p1, p2"));
    }
}
