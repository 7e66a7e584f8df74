//! `infra permissions plan|apply|destroy`: the IAM policy of the identity that runs `infra
//! plan`, `infra apply` or `infra destroy` on this stack (a pipeline's role), made from what each kind declares it calls
//! ([`Kind::permissions`](crate::engine::Kind::permissions), walked in the registry's order)
//! and from the calls infra makes itself.
//!
//! Every statement names exact actions, scoped to the stack's resources: ARNs where they follow
//! from names (the role, the repository, secrets, the runtime and its log group), the stack's
//! tag (`aws:ResourceTag/infra:stack`, `aws:RequestTag/infra:stack`) where AWS picks the id (a
//! Cognito pool). The plan's policy is read-only; the apply's holds the plan's, the writes, and
//! `iam:PassRole` of the execution role to AgentCore only.
//!
//! The account and partition are the caller's, from `sts:GetCallerIdentity`, when there are
//! credentials (`--placeholders`: never asked); else `${AWS::AccountId}` and
//! `${AWS::Partition}`, CloudFormation's pseudo parameters, which `Fn::Sub` fills in. The
//! region is `--region`, then the stack's, then the AWS chain's (else `${AWS::Region}`).

use std::collections::BTreeSet;
use std::io::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::aws::{Aws, Connection, partition_of};
use crate::cli::{Cli, EXIT_ERROR, EXIT_OK, PermissionsArgs, PermissionsFor};
use crate::engine::kind::{Access, Grant};
use crate::error::Error;
use crate::policy::Vars;
use crate::registry::KINDS;
use crate::stack::Stack;

/// The account id while it is not known: CloudFormation's pseudo parameter.
pub const ACCOUNT_ID: &str = "${AWS::AccountId}";
/// The partition while it is not known.
pub const PARTITION: &str = "${AWS::Partition}";
/// The region when neither `--region`, the stack nor the AWS chain names one.
pub const REGION: &str = "${AWS::Region}";

/// The command a policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum For {
    /// `infra plan`; `write_only: false` for `plan --skip-password-check`, which signs nobody
    /// in and reads no secret value.
    Plan { write_only: bool },
    /// `infra apply` (and `apply FILE`): the plan it makes first, its writes, the verifying
    /// plan after them, and the check after apply.
    Apply,
    /// `infra destroy`: the reads (no write-only value), and each kind's deletes
    /// ([`Kind::destroy_permissions`](crate::engine::Kind::destroy_permissions)).
    Destroy,
}

impl For {
    /// Whether the command makes calls of this access.
    pub fn takes(self, access: Access) -> bool {
        match (self, access) {
            (For::Apply, _) | (For::Plan { .. }, Access::Read) => true,
            (For::Plan { write_only }, Access::ReadSecret) => write_only,
            (For::Plan { .. }, Access::Write) => false,
            (For::Destroy, access) => access == Access::Read,
        }
    }

    fn name(self) -> &'static str {
        match self {
            For::Plan { .. } => "plan",
            For::Apply => "apply",
            For::Destroy => "destroy",
        }
    }
}

/// The calls infra makes itself, outside the kinds. (The check after apply reads the runtime,
/// the pool and the client as `plan` does, and signs in as the client's password check does:
/// their kinds' grants. Its MCP requests carry a Cognito token, not AWS credentials.)
fn own() -> Vec<Grant> {
    vec![
        // Every command that reads starts with the caller's account and partition (the
        // placeholders of policy documents, the role's ARN). IAM needs no permission for it;
        // named here so the policy lists every call.
        Grant::new(
            Access::Read,
            "CallerIdentity",
            &["sts:GetCallerIdentity"],
            ["*"],
        ),
        // What is tagged for the stack but no longer declared (a renamed pool): one search
        // of the Resource Groups Tagging API, which authorizes it on no resource.
        Grant::new(Access::Read, "Tagged", &["tag:GetResources"], ["*"]),
    ]
}

/// Every grant `command` needs with its statement's `Sid`: infra's own (`Infra...`), then each
/// kind's in the registry's order (`IamRoleRead`).
pub fn grants(stack: &Stack, vars: &Vars, command: For) -> Vec<(String, Grant)> {
    let own = own().into_iter().map(|g| (format!("Infra{}", g.sid), g));
    let kinds = KINDS.iter().flat_map(|kind| {
        let prefix = camel(kind.type_name());
        let deletes = match command {
            For::Destroy => kind.destroy_permissions(stack, vars),
            _ => Vec::new(),
        };
        kind.permissions(stack, vars)
            .into_iter()
            .filter(move |g| command.takes(g.access))
            .chain(deletes)
            .map(move |g| (format!("{prefix}{}", g.sid), g))
    });
    own.filter(|(_, g)| command.takes(g.access))
        .chain(kinds)
        .collect()
}

/// An IAM policy document. Its fields serialize in IAM's usual order (`Version`, then each
/// statement's `Sid`, `Effect`, `Action`, `Resource`, `Condition`), whatever serde_json's map.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Document {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Vec<&'static str>,
    pub resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

impl Document {
    /// Every action, as `service:Action`.
    pub fn actions(&self) -> BTreeSet<&'static str> {
        self.statement
            .iter()
            .flat_map(|s| s.action.iter().copied())
            .collect()
    }

    /// What IAM counts of a policy's size: its characters without whitespace (an inline role
    /// policy takes 10,240, a managed policy 6,144).
    pub fn size(&self) -> usize {
        serde_json::to_string(self)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count()
    }

    /// The statements that allow `action`.
    pub fn allowing(&self, action: &str) -> Vec<&Statement> {
        self.statement
            .iter()
            .filter(|s| s.action.contains(&action))
            .collect()
    }
}

/// The policy document `command` needs on `stack`.
pub fn document(stack: &Stack, vars: &Vars, command: For) -> Document {
    Document {
        version: "2012-10-17",
        statement: grants(stack, vars, command)
            .into_iter()
            .map(|(sid, grant)| statement(sid, grant))
            .collect(),
    }
}

fn statement(sid: String, grant: Grant) -> Statement {
    let mut action = grant.actions;
    action.sort_unstable();
    action.dedup();
    let mut resource: Vec<String> = Vec::new();
    for r in grant.resources {
        if !resource.contains(&r) {
            resource.push(r);
        }
    }
    Statement {
        sid,
        effect: "Allow",
        action,
        resource,
        condition: grant.condition,
    }
}

/// `cognito_user_pool` → `CognitoUserPool`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The account, partition and region a policy is written for, and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub region: String,
    pub account_id: String,
    pub partition: String,
    /// The caller's ARN, when `sts:GetCallerIdentity` told the account and partition.
    pub caller: Option<String>,
    /// Why the account and partition are placeholders, when they are.
    pub unknown: Option<String>,
}

impl Target {
    /// Placeholders for the account and partition (and the region when none is known).
    pub fn placeholders(region: Option<String>, why: &str) -> Target {
        Target {
            region: region.unwrap_or_else(|| REGION.to_owned()),
            account_id: ACCOUNT_ID.to_owned(),
            partition: PARTITION.to_owned(),
            caller: None,
            unknown: Some(why.to_owned()),
        }
    }
}

/// The caller's account and partition from STS when there are credentials (and
/// `placeholders` is false), else placeholders, with the reason.
pub async fn target(conn: &Connection, stack: &Stack, placeholders: bool) -> Target {
    let region = conn.region.clone().or_else(|| stack.region.clone());
    if placeholders {
        return Target::placeholders(region, "--placeholders");
    }
    let aws = match Aws::connect(conn, stack.region.as_deref()).await {
        Ok(aws) => aws,
        Err(e) => return Target::placeholders(region, &format!("{e:#}")),
    };
    let identity = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Error::aws("aws account", "sts:GetCallerIdentity", e));
    match identity {
        Ok(identity) => {
            let arn = identity.arn().unwrap_or_default().to_owned();
            Target {
                region: aws.region.clone(),
                account_id: identity.account().unwrap_or(ACCOUNT_ID).to_owned(),
                partition: partition_of(&arn),
                caller: Some(arn),
                unknown: None,
            }
        }
        Err(e) => Target::placeholders(Some(aws.region.clone()), &e.to_string()),
    }
}

/// `infra permissions plan|apply`: the policy on stdout (JSON); in text mode, what it is for on
/// stderr, as comment lines.
pub async fn command(cli: &Cli, stack: &Stack, args: &PermissionsArgs) -> Result<u8, Error> {
    let command = match args.command {
        PermissionsFor::Plan => For::Plan {
            write_only: !args.skip_password_check,
        },
        PermissionsFor::Apply => For::Apply,
        PermissionsFor::Destroy => For::Destroy,
    };
    let target = target(&cli.connection(), stack, args.placeholders).await;
    let vars = stack.vars(&target.region, &target.account_id, &target.partition);
    let policy = document(stack, &vars, command);
    let text = if args.json {
        serde_json::to_string_pretty(&Printed {
            command: command.name(),
            stack: &stack.name,
            region: &target.region,
            account_id: &target.account_id,
            partition: &target.partition,
            caller: target.caller.as_deref(),
            placeholders_because: target.unknown.as_deref(),
            size: policy.size(),
            policy: &policy,
        })
    } else {
        for line in header(stack, &target, command, &policy) {
            eprintln!("# {line}");
        }
        serde_json::to_string_pretty(&policy)
    }
    .map_err(|e| Error::new("permissions", "print", e.to_string()))?;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_OK)
}

/// What `--json` prints: the policy, and what it is for.
#[derive(Serialize)]
struct Printed<'a> {
    command: &'static str,
    stack: &'a str,
    region: &'a str,
    account_id: &'a str,
    partition: &'a str,
    /// The caller's ARN, when STS told the account and partition.
    caller: Option<&'a str>,
    /// Why the account and partition are placeholders, when they are.
    placeholders_because: Option<&'a str>,
    /// IAM's measure: characters without whitespace.
    size: usize,
    policy: &'a Document,
}

/// IAM's limits on a policy's size, in characters without whitespace.
const INLINE_LIMIT: usize = 10_240;
const MANAGED_LIMIT: usize = 6_144;

/// What the text mode says on stderr about the policy it prints.
fn header(stack: &Stack, target: &Target, command: For, policy: &Document) -> Vec<String> {
    let mut lines = vec![format!(
        "The IAM policy of the identity that runs `infra {}` on the stack {} (account {}, \
         partition {}, region {}).",
        match command {
            For::Plan { write_only: false } => "plan --skip-password-check",
            other => other.name(),
        },
        stack.name,
        target.account_id,
        target.partition,
        target.region
    )];
    lines.push(match (&target.caller, &target.unknown) {
        (Some(caller), _) => format!("Account and partition: sts:GetCallerIdentity ({caller})."),
        (None, why) => format!(
            "Account and partition are placeholders ({}): replace them, or give the document \
             to CloudFormation's Fn::Sub.",
            // The first sentence of why: "no AWS credentials found in ...".
            why.as_deref()
                .and_then(|why| why.split(". ").next())
                .unwrap_or("not known")
        ),
    });
    lines.push(match command {
        For::Plan { write_only: true } => {
            "Read-only. It signs the stack's users in and reads the stack's secret values to \
             compare them (`permissions plan --skip-password-check`: without both)."
                .to_owned()
        }
        For::Plan { write_only: false } => {
            "Read-only, and neither signs in nor reads a secret value.".to_owned()
        }
        For::Apply => "Everything `infra apply` calls: the plan's reads, the writes, and \
                       iam:PassRole of the execution role to AgentCore only."
            .to_owned(),
        For::Destroy => "Everything `infra destroy` calls: the reads (no secret value) and the \
                         deletes, only of resources tagged for the stack."
            .to_owned(),
    });
    let size = policy.size();
    lines.push(format!(
        "{size} characters without whitespace: {}.",
        if size <= MANAGED_LIMIT {
            "fits a managed policy (6,144) or an inline role policy (10,240)"
        } else if size <= INLINE_LIMIT {
            "fits an inline role policy (10,240), not a managed policy (6,144)"
        } else {
            "more than an inline role policy takes (10,240): split it in two"
        }
    ));
    lines
}

/// Whether `action` (`service:Action`) only reads, by its name: it starts with a word that
/// reads (`Get`, `List`, `Describe`, ...) and with none that writes. A sign-in checks a
/// password, a decryption reads a secret value and a log filter reads events: none changes
/// anything. What the tests hold every plan policy to.
pub fn reads_only(action: &str) -> bool {
    let Some((_, name)) = action.split_once(':') else {
        return false;
    };
    let reads = ["Get", "List", "Describe", "BatchGet", "AdminGet"]
        .iter()
        .any(|p| name.starts_with(p))
        || action == "cognito-idp:AdminInitiateAuth"
        || action == "kms:Decrypt"
        || action == "logs:FilterLogEvents";
    reads && !WRITES.iter().any(|w| name.starts_with(w))
}

/// What writes, by the name's first word.
const WRITES: &[&str] = &[
    "Create",
    "Put",
    "Update",
    "Delete",
    "Tag",
    "Untag",
    "Attach",
    "Detach",
    "AdminCreate",
    "AdminSet",
    "AdminUpdate",
    "AdminDelete",
    "AdminDisable",
    "AdminEnable",
    "PassRole",
    "Set",
    "Initiate",
    "Upload",
    "Complete",
    "Retire",
];

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;
    use crate::resources::testing;

    /// The repository's stack.toml, with a log group (`log_retention_days`): every kind.
    fn repo_stack() -> Stack {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stack.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let with_logs = text.replacen(
            "[runtime.environment]",
            "log_retention_days = 30\n\n[runtime.environment]",
            1,
        );
        assert_ne!(with_logs, text, "stack.toml has no [runtime.environment]");
        testing::stack(&with_logs)
    }

    /// A stack with the options that change what is called: an adopted pool, a client that
    /// signs in only as an administrator, KMS keys, a secret named by ARN, an image by tag in
    /// the stack's repository.
    const OPTIONS: &str = r#"
[stack]
name = "demo"

[cognito.user_pool]
name = "Pool"
adopt = true

[cognito.client]
name = "Client"
explicit_auth_flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[cognito.users]]
username = "alice"
password = { env = "ALICE_PASSWORD" }

[iam.role]
name = "role"
path = "/service/"

[ecr.repository]
name = "demo"
encryption = "KMS"

[image]
uri = "${repository_uri}:v1"

[runtime]
name = "demo_mcp"
authorizer = "cognito"

[runtime.secrets]
API_KEY = "api_key"
OTHER = "other"

[secrets.api_key]
value = { env = "OPENAI_API_KEY" }
kms_key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

[secrets.other]
arn = "arn:aws:secretsmanager:us-west-2:111122223333:secret:shared/other-AbCdEf"
"#;

    fn policy(stack: &Stack, command: For) -> Document {
        document(stack, &testing::vars(stack), command)
    }

    const PLAN: For = For::Plan { write_only: true };
    const PLAN_SKIPPING: For = For::Plan { write_only: false };

    #[test]
    fn the_plan_policy_only_reads() {
        for stack in [repo_stack(), testing::stack(OPTIONS)] {
            for command in [PLAN, PLAN_SKIPPING] {
                let actions = policy(&stack, command).actions();
                assert!(!actions.is_empty());
                for action in &actions {
                    assert!(reads_only(action), "{action} in the plan policy");
                }
            }
        }
    }

    #[test]
    fn apply_takes_what_plan_takes_and_passes_the_role_to_agentcore_only() {
        for stack in [repo_stack(), testing::stack(OPTIONS)] {
            let apply = policy(&stack, For::Apply);
            let plan = policy(&stack, PLAN).actions();
            assert!(plan.is_subset(&apply.actions()));
            let pass = apply.allowing("iam:PassRole");
            assert_eq!(pass.len(), 1);
            assert_eq!(pass[0].action, ["iam:PassRole"]);
            assert_eq!(
                pass[0].condition.clone().unwrap(),
                json!({"StringEquals": {"iam:PassedToService": "bedrock-agentcore.amazonaws.com"}})
            );
            let role = &pass[0].resource;
            assert_eq!(role.len(), 1);
            assert!(role[0].contains(":role/"), "{role:?}");
        }
    }

    #[test]
    fn every_kind_declares_its_reads_and_its_writes() {
        let stack = repo_stack();
        let vars = testing::vars(&stack);
        for kind in KINDS {
            let grants = kind.permissions(&stack, &vars);
            for access in [Access::Read, Access::Write] {
                assert!(
                    grants.iter().any(|g| g.access == access),
                    "{} declares no {access:?} grant",
                    kind.type_name()
                );
            }
            for grant in &grants {
                assert!(!grant.actions.is_empty() && !grant.resources.is_empty());
                for action in &grant.actions {
                    let (service, name) = action.split_once(':').unwrap();
                    assert!(!service.is_empty() && name.starts_with(char::is_uppercase));
                }
            }
        }
    }

    #[test]
    fn statement_ids_are_unique_letters_and_digits() {
        for stack in [repo_stack(), testing::stack(OPTIONS)] {
            let sids: Vec<String> = grants(&stack, &testing::vars(&stack), For::Apply)
                .into_iter()
                .map(|(sid, _)| sid)
                .collect();
            let unique: BTreeSet<&String> = sids.iter().collect();
            assert_eq!(unique.len(), sids.len(), "{sids:?}");
            assert!(
                sids.iter()
                    .all(|s| s.chars().all(|c| c.is_ascii_alphanumeric()))
            );
        }
    }

    #[test]
    fn the_stack_s_resources_are_named_by_arn_with_placeholders_until_the_account_is_known() {
        let stack = repo_stack();
        let target = Target::placeholders(stack.region.clone(), "no credentials");
        let vars = stack.vars(&target.region, &target.account_id, &target.partition);
        let apply = document(&stack, &vars, For::Apply);
        let resources = |action: &str| -> Vec<String> {
            apply
                .allowing(action)
                .iter()
                .flat_map(|s| s.resource.clone())
                .collect()
        };
        assert_eq!(
            resources("iam:CreateRole"),
            ["arn:${AWS::Partition}:iam::${AWS::AccountId}:role/agentcore-web-search-mcp-role"]
        );
        assert_eq!(
            resources("ecr:PutImage"),
            ["arn:${AWS::Partition}:ecr:us-west-2:${AWS::AccountId}:repository/web-search-mcp"]
        );
        assert_eq!(
            resources("secretsmanager:PutSecretValue"),
            [
                "arn:${AWS::Partition}:secretsmanager:us-west-2:${AWS::AccountId}:secret:\
                 web-search-mcp/openai_api_key-*"
            ]
        );
        assert_eq!(
            resources("bedrock-agentcore:UpdateAgentRuntime"),
            [
                "arn:${AWS::Partition}:bedrock-agentcore:us-west-2:${AWS::AccountId}:runtime/\
                 web_search_mcp-*"
            ]
        );
        assert_eq!(
            resources("logs:PutRetentionPolicy"),
            [
                "arn:${AWS::Partition}:logs:us-west-2:${AWS::AccountId}:log-group:\
                 /aws/bedrock-agentcore/runtimes/web_search_mcp-*-DEFAULT*"
            ]
        );
        assert_eq!(
            resources("iam:CreateServiceLinkedRole"),
            [
                "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/\
                 runtime-identity.bedrock-agentcore.amazonaws.com/\
                 AWSServiceRoleForBedrockAgentCoreRuntimeIdentity"
            ]
        );
        // Where AWS picks the id, the stack's tag scopes the writes.
        let pool = apply.allowing("cognito-idp:UpdateUserPool");
        assert_eq!(
            pool[0].condition.clone().unwrap(),
            json!({"StringEquals": {"aws:ResourceTag/infra:stack": "web-search-mcp"}})
        );
        let create = apply.allowing("cognito-idp:CreateUserPool");
        assert_eq!(
            create[0].condition.clone().unwrap(),
            json!({"StringEquals": {"aws:RequestTag/infra:stack": "web-search-mcp"}})
        );
        let printed = serde_json::to_string(&apply).unwrap();
        assert!(!printed.contains("111122223333"));
        assert!(printed.starts_with(r#"{"Version":"2012-10-17","Statement":[{"Sid":"#));
    }

    #[test]
    fn what_the_options_change() {
        let stack = testing::stack(OPTIONS);
        let plan = policy(&stack, PLAN).actions();
        // A client that signs in only as an administrator: the password check needs IAM.
        assert!(plan.contains("cognito-idp:AdminInitiateAuth"));
        assert!(plan.contains("secretsmanager:GetSecretValue"));
        assert!(plan.contains("kms:Decrypt"));
        // The image by tag in the stack's repository: its manifest is read, nothing is pushed.
        assert!(plan.contains("ecr:BatchGetImage"));
        let skipping = policy(&stack, PLAN_SKIPPING).actions();
        for secret in [
            "cognito-idp:AdminInitiateAuth",
            "secretsmanager:GetSecretValue",
            "kms:Decrypt",
        ] {
            assert!(!skipping.contains(secret), "{secret}");
        }
        let apply = policy(&stack, For::Apply);
        assert!(!apply.actions().contains("ecr:PutImage"));
        assert!(apply.actions().contains("kms:CreateGrant"));
        // An adopted pool is tagged by its first update: that update cannot require the tag.
        let update = apply.allowing("cognito-idp:UpdateUserPool");
        assert_eq!(update[0].condition, None);
        // The role's path is in its ARN; a secret named by ARN is only described.
        assert_eq!(
            apply.allowing("iam:GetRole")[0].resource,
            ["arn:aws:iam::111122223333:role/service/role"]
        );
        let describe = &apply.allowing("secretsmanager:DescribeSecret")[0].resource;
        assert!(describe.iter().any(
            |r| r == "arn:aws:secretsmanager:us-west-2:111122223333:secret:shared/other-AbCdEf"
        ));
        for write in apply.allowing("secretsmanager:PutSecretValue") {
            assert_eq!(
                write.resource,
                ["arn:aws:secretsmanager:us-west-2:111122223333:secret:demo/api_key-*"]
            );
        }
        // The repository's stack signs in with USER_PASSWORD_AUTH: no IAM for it.
        assert!(
            !policy(&repo_stack(), PLAN)
                .actions()
                .contains("cognito-idp:AdminInitiateAuth")
        );
    }

    /// The ECR action each registry request needs, as ECR documents a push and a pull
    /// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html), each
    /// after `ecr:GetAuthorizationToken` for the registry's credentials.
    fn ecr_actions(method: &str, path: &str) -> Vec<&'static str> {
        let mut actions = vec!["ecr:GetAuthorizationToken"];
        actions.extend(match method {
            "HEAD" | "GET" if path.contains("/manifests/") => vec!["ecr:BatchGetImage"],
            "HEAD" if path.contains("/blobs/") => vec!["ecr:BatchCheckLayerAvailability"],
            "GET" if path.contains("/blobs/") => vec!["ecr:GetDownloadUrlForLayer"],
            "POST" if path.ends_with("/blobs/uploads/") => vec!["ecr:InitiateLayerUpload"],
            "PATCH" if path.contains("/blobs/uploads/") => vec!["ecr:UploadLayerPart"],
            // One monolithic PUT: the layer's only part, and its completion.
            "PUT" if path.contains("/blobs/uploads/") => {
                vec!["ecr:UploadLayerPart", "ecr:CompleteLayerUpload"]
            }
            "PUT" if path.contains("/manifests/") => vec!["ecr:PutImage"],
            _ => panic!("a registry request no ECR action is known for: {method} {path}"),
        });
        actions
    }

    /// A registry that has nothing and takes everything, recording `(method, path)` of each
    /// request. `HEAD` of a manifest by tag is refused (405), as some registries do, so a tag
    /// is resolved with `GET` too.
    async fn empty_registry() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    reader.read_line(&mut line).await.unwrap();
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap().to_owned();
                    let path = parts.next().unwrap().split('?').next().unwrap().to_owned();
                    let mut length = 0;
                    loop {
                        line.clear();
                        reader.read_line(&mut line).await.unwrap();
                        match line.trim_end().split_once(':') {
                            Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                                length = value.trim().parse().unwrap();
                            }
                            Some(_) => {}
                            None => break,
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).await.unwrap();
                    log.lock().unwrap().push((method.clone(), path.clone()));
                    let manifest = path.contains("/manifests/");
                    let (status, location) = match method.as_str() {
                        "HEAD" if manifest && !path.contains("sha256:") => (405, ""),
                        "HEAD" | "GET" => (404, ""),
                        "POST" => (202, "Location: /v2/repo/blobs/uploads/1\r\n"),
                        "PUT" => (201, ""),
                        _ => (400, ""),
                    };
                    let head = format!(
                        "HTTP/1.1 {status} Fake\r\nContent-Length: 0\r\nConnection: close\r\n\
                         {location}\r\n"
                    );
                    let mut stream = reader.into_inner();
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        (origin, seen)
    }

    /// ECR's layer actions are not seen by the emulator (tests push to a local registry): every
    /// request `container/registry.rs` makes is mapped to its ECR action here, and the image
    /// kind declares each: the reads of a plan (`HEAD`/`GET` of a manifest) in the plan's
    /// policy, the push's in the apply's.
    #[tokio::test]
    async fn every_registry_request_is_in_the_policy_of_its_command() {
        use crate::container::{ImageConfig, Platform, Registry, assemble};
        let (origin, seen) = empty_registry().await;
        let registry = Registry::new(&origin).unwrap();
        let image = assemble(
            b"a binary",
            &ImageConfig {
                ca_bundle: None,
                ..ImageConfig::server(Platform::LinuxArm64)
            },
        )
        .unwrap();
        let requests = |seen: &Arc<Mutex<Vec<(String, String)>>>| -> BTreeSet<&'static str> {
            let requests = std::mem::take(&mut *seen.lock().unwrap());
            assert!(!requests.is_empty());
            requests
                .iter()
                .flat_map(|(method, path)| ecr_actions(method, path))
                .collect()
        };
        // What a plan asks: is the built digest there (`[image] build`), what does a tag point
        // at (`[image] uri` by tag), is a pinned digest there.
        assert!(
            !registry
                .manifest_exists("repo", &image.digest)
                .await
                .unwrap()
        );
        assert_eq!(registry.resolve("repo", "v1").await.unwrap(), None);
        let read = requests(&seen);
        registry.push("repo", &image, &[]).await.unwrap();
        let pushed = requests(&seen);
        assert!(pushed.contains("ecr:PutImage") && pushed.contains("ecr:InitiateLayerUpload"));

        let stack = repo_stack();
        let plan = policy(&stack, PLAN).actions();
        let apply = policy(&stack, For::Apply).actions();
        for action in &read {
            assert!(
                plan.contains(*action),
                "{action} is not in the plan's policy"
            );
        }
        for action in read.iter().chain(&pushed) {
            assert!(
                apply.contains(*action),
                "{action} is not in the apply's policy"
            );
        }
        for action in pushed.difference(&read) {
            assert!(!plan.contains(*action), "{action} is in the plan's policy");
        }
    }
}
