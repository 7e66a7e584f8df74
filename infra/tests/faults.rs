//! Faults: an `apply` killed after each of its writes, and a flaky AWS. `infra` reaches the
//! emulator through the fault-injecting proxy of `support::faults`; results are read back
//! through the AWS API, directly from the emulator.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use support::faults::{Fault, FaultProxy, Mode};
use support::stacks::{OTHER_DIGEST, update_every_kind};
use support::{Aws, Moto, PASSWORD, PREBUILT_DIGEST, Project, STACK_NAME};

const POOL: &str = "MCPServerPool";
const CLIENT: &str = "MCPServerPoolClient";
const USER: &str = "testuser";
const ROLE: &str = "agentcore-web-search-mcp-role";
const REPOSITORY: &str = "web-search-mcp";
const SECRET: &str = "web-search-mcp/openai_api_key";
const RUNTIME: &str = "web_search_mcp";
/// Everything in the emulator (which holds nothing but this stack's resources), by identity.
#[derive(Debug, Clone, Default, PartialEq)]
struct Inventory {
    /// (id, name) of every pool.
    pools: Vec<(String, String)>,
    /// (id, name) of every app client, in every pool.
    clients: Vec<(String, String)>,
    /// (name, id) of every role.
    roles: Vec<(String, String)>,
    repositories: Vec<String>,
    /// (name, ARN) of every secret.
    secrets: Vec<(String, String)>,
    /// (name, id, ARN) of every runtime.
    runtimes: Vec<(String, String, String)>,
}

impl Inventory {
    async fn read(aws: &Aws) -> Inventory {
        let mut inv = Inventory::default();
        let pools = aws
            .cognito
            .list_user_pools()
            .max_results(60)
            .send()
            .await
            .unwrap();
        for pool in pools.user_pools() {
            let id = pool.id().unwrap().to_owned();
            inv.pools
                .push((id.clone(), pool.name().unwrap_or_default().to_owned()));
            let clients = aws
                .cognito
                .list_user_pool_clients()
                .user_pool_id(&id)
                .max_results(60)
                .send()
                .await
                .unwrap();
            for c in clients.user_pool_clients() {
                inv.clients.push((
                    c.client_id().unwrap().to_owned(),
                    c.client_name().unwrap_or_default().to_owned(),
                ));
            }
        }
        let roles = aws.iam.list_roles().send().await.unwrap();
        for r in roles.roles() {
            inv.roles
                .push((r.role_name().to_owned(), r.role_id().to_owned()));
        }
        let repos = aws.ecr.describe_repositories().send().await.unwrap();
        for r in repos.repositories() {
            inv.repositories
                .push(r.repository_name().unwrap().to_owned());
        }
        let secrets = aws.secrets.list_secrets().send().await.unwrap();
        for s in secrets.secret_list() {
            inv.secrets
                .push((s.name().unwrap().to_owned(), s.arn().unwrap().to_owned()));
        }
        let runtimes = aws.agentcore.list_agent_runtimes().send().await.unwrap();
        for r in runtimes.agent_runtimes() {
            inv.runtimes.push((
                r.agent_runtime_name().to_owned(),
                r.agent_runtime_id().to_owned(),
                r.agent_runtime_arn().to_owned(),
            ));
        }
        inv
    }

    /// The identities a later apply must keep: pool id, client id, role id, secret ARN, runtime
    /// id and ARN, by what they are; only those present exactly once.
    fn identities(&self) -> BTreeMap<&'static str, String> {
        let mut ids = BTreeMap::new();
        let mut one = |what: &'static str, found: Vec<String>| {
            if let [id] = found.as_slice() {
                ids.insert(what, id.clone());
            }
        };
        one("pool id", self.pools.iter().map(|p| p.0.clone()).collect());
        one(
            "client id",
            self.clients.iter().map(|c| c.0.clone()).collect(),
        );
        one("role id", self.roles.iter().map(|r| r.1.clone()).collect());
        one(
            "secret ARN",
            self.secrets.iter().map(|s| s.1.clone()).collect(),
        );
        one(
            "runtime id",
            self.runtimes.iter().map(|r| r.1.clone()).collect(),
        );
        one(
            "runtime ARN",
            self.runtimes.iter().map(|r| r.2.clone()).collect(),
        );
        ids
    }

    /// A short account of what exists, for failure messages.
    fn summary(&self) -> String {
        format!(
            "pools {:?}, clients {:?}, roles {:?}, repositories {:?}, secrets {:?}, runtimes {:?}",
            self.pools, self.clients, self.roles, self.repositories, self.secrets, self.runtimes
        )
    }
}

/// What is wrong with the emulator's contents, against the stack `from_repo` declares with the
/// `expected` settings: exactly one of each, named as declared, tagged for the stack, wired
/// together. Empty when it is right.
async fn converged(aws: &Aws, inv: &Inventory, expected: &Expected) -> Vec<String> {
    let mut wrong = Vec::new();
    let names = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    let check = |wrong: &mut Vec<String>, what: &str, got: Vec<String>, want: &str| {
        if got != [want] {
            wrong.push(format!("{what}: {got:?}, expected exactly [{want:?}]"));
        }
    };
    check(
        &mut wrong,
        "pools",
        names(inv.pools.iter().map(|p| p.1.as_str()).collect()),
        POOL,
    );
    check(
        &mut wrong,
        "app clients",
        names(inv.clients.iter().map(|c| c.1.as_str()).collect()),
        CLIENT,
    );
    check(
        &mut wrong,
        "roles",
        names(inv.roles.iter().map(|r| r.0.as_str()).collect()),
        ROLE,
    );
    check(
        &mut wrong,
        "repositories",
        inv.repositories.clone(),
        REPOSITORY,
    );
    check(
        &mut wrong,
        "secrets",
        names(inv.secrets.iter().map(|s| s.0.as_str()).collect()),
        SECRET,
    );
    check(
        &mut wrong,
        "runtimes",
        names(inv.runtimes.iter().map(|r| r.0.as_str()).collect()),
        RUNTIME,
    );
    if !wrong.is_empty() {
        return wrong;
    }
    let pool_id = &inv.pools[0].0;
    let client_id = &inv.clients[0].0;
    let stack_tag = |tags: Option<&str>| tags == Some(STACK_NAME);

    let pool = aws
        .cognito
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap();
    if !stack_tag(
        pool.user_pool_tags()
            .and_then(|t| t.get("infra:stack"))
            .map(String::as_str),
    ) {
        wrong.push("the pool is not tagged for the stack".into());
    }
    let min = pool
        .policies()
        .and_then(|p| p.password_policy())
        .and_then(|p| p.minimum_length());
    if min != Some(expected.minimum_length) {
        wrong.push(format!("pool minimum_length {min:?}"));
    }
    let client = aws
        .cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .send()
        .await
        .unwrap();
    let mut flows: Vec<String> = client
        .user_pool_client()
        .unwrap()
        .explicit_auth_flows()
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    flows.sort();
    if flows != expected.auth_flows {
        wrong.push(format!("client auth flows {flows:?}"));
    }
    let users = aws
        .cognito
        .list_users()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap();
    let users: Vec<(String, String)> = users
        .users()
        .iter()
        .map(|u| {
            (
                u.username().unwrap_or_default().to_owned(),
                u.user_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    if users != [(USER.to_owned(), "CONFIRMED".to_owned())] {
        wrong.push(format!("users {users:?}"));
    } else if !aws.can_sign_in(client_id, USER, PASSWORD).await {
        wrong.push("the user cannot sign in with the declared password".into());
    }

    let role = aws.iam.get_role().role_name(ROLE).send().await.unwrap();
    let role = role.role().unwrap();
    if !role
        .tags()
        .iter()
        .any(|t| t.key() == "infra:stack" && t.value() == STACK_NAME)
    {
        wrong.push("the role is not tagged for the stack".into());
    }
    if role.description() != Some(expected.role_description) {
        wrong.push(format!("role description {:?}", role.description()));
    }
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    let mut inline = inline.policy_names().to_vec();
    inline.sort();
    if inline != ["AgentCoreRuntime", "infra-secrets"] {
        wrong.push(format!("inline policies {inline:?}"));
    } else {
        let document = aws
            .iam
            .get_role_policy()
            .role_name(ROLE)
            .policy_name("AgentCoreRuntime")
            .send()
            .await
            .unwrap();
        let document = support::policy(document.policy_document()).to_string();
        if document.contains("logs:GetLogEvents") != expected.extra_log_action {
            wrong.push(format!("AgentCoreRuntime policy {document}"));
        }
    }

    let repo = aws
        .ecr
        .describe_repositories()
        .repository_names(REPOSITORY)
        .send()
        .await
        .unwrap();
    let repo = &repo.repositories()[0];
    let tags = aws
        .ecr
        .list_tags_for_resource()
        .resource_arn(repo.repository_arn().unwrap())
        .send()
        .await
        .unwrap();
    for key in ["infra:stack", "infra:managed-by"] {
        if !tags.tags().iter().any(|t| t.key() == key) {
            wrong.push(format!("the repository lacks the tag {key}"));
        }
    }
    let mutability = repo.image_tag_mutability().map(|m| m.as_str());
    if mutability != Some(expected.mutability) {
        wrong.push(format!("repository image_tag_mutability {mutability:?}"));
    }
    let scan = repo
        .image_scanning_configuration()
        .map(|c| c.scan_on_push());
    if scan != Some(expected.scan_on_push) {
        wrong.push(format!("repository scan_on_push {scan:?}"));
    }
    match aws
        .ecr
        .get_lifecycle_policy()
        .repository_name(REPOSITORY)
        .send()
        .await
    {
        Ok(lifecycle) => {
            let text: serde_json::Value =
                serde_json::from_str(lifecycle.lifecycle_policy_text().unwrap()).unwrap();
            let keep = &text["rules"][0]["selection"]["countNumber"];
            if *keep != expected.keep_images {
                wrong.push(format!("lifecycle keeps {keep}"));
            }
        }
        Err(e) => wrong.push(format!("no lifecycle policy: {e}")),
    }

    let secret = aws
        .secrets
        .describe_secret()
        .secret_id(SECRET)
        .send()
        .await
        .unwrap();
    if !secret
        .tags()
        .iter()
        .any(|t| t.key() == Some("infra:stack") && t.value() == Some(STACK_NAME))
    {
        wrong.push("the secret is not tagged for the stack".into());
    }
    if secret.description() != Some(expected.secret_description) {
        wrong.push(format!("secret description {:?}", secret.description()));
    }
    let value = aws.secret_value(SECRET).await;
    if value != support::OPENAI_KEY {
        wrong.push("the secret does not hold the declared value".into());
    }

    let (_, runtime_id, runtime_arn) = &inv.runtimes[0];
    let runtime = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(runtime_id)
        .send()
        .await
        .unwrap();
    if runtime.status().as_str() != "READY" {
        wrong.push(format!("runtime status {}", runtime.status().as_str()));
    }
    let tags = aws
        .agentcore
        .list_tags_for_resource()
        .resource_arn(runtime_arn)
        .send()
        .await
        .unwrap();
    if !stack_tag(
        tags.tags()
            .and_then(|t| t.get("infra:stack"))
            .map(String::as_str),
    ) {
        wrong.push("the runtime is not tagged for the stack".into());
    }
    if runtime.role_arn() != role.arn() {
        wrong.push(format!("runtime role {}", runtime.role_arn()));
    }
    let env = runtime.environment_variables().cloned().unwrap_or_default();
    if env.get("OPENAI_API_KEY_SECRET_ARN") != Some(&inv.secrets[0].1) {
        wrong.push(format!("runtime secret ARN {env:?}"));
    }
    if env.get("OPENAI_MODEL").map(String::as_str) != Some(expected.model) {
        wrong.push(format!("runtime OPENAI_MODEL {env:?}"));
    }
    if runtime.description() != Some(expected.runtime_description) {
        wrong.push(format!("runtime description {:?}", runtime.description()));
    }
    let uri = match runtime.agent_runtime_artifact() {
        Some(
            aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeArtifact::ContainerConfiguration(c),
        ) => c.container_uri().to_owned(),
        other => format!("{other:?}"),
    };
    if !uri.ends_with(expected.digest) {
        wrong.push(format!("runtime image {uri}"));
    }
    // DEFAULT (the endpoint the MCP URL names) serves the runtime's latest version.
    let (status, live) = aws.default_endpoint(runtime_id).await;
    if status != "READY" || live.as_deref() != Some(runtime.agent_runtime_version()) {
        wrong.push(format!(
            "DEFAULT is {status} serving version {live:?}; the runtime is at version {}",
            runtime.agent_runtime_version()
        ));
    }
    let jwt = runtime
        .authorizer_configuration()
        .and_then(|a| a.as_custom_jwt_authorizer().ok());
    match jwt {
        Some(jwt)
            if jwt.allowed_clients() == [client_id.clone()]
                && jwt.discovery_url().contains(pool_id.as_str()) => {}
        other => wrong.push(format!(
            "runtime authorizer {other:?} (pool {pool_id}, client {client_id})"
        )),
    }
    wrong
}

/// The settings the read-back expects: the repository's stack, or the update-all stack.
struct Expected {
    minimum_length: i32,
    auth_flows: Vec<String>,
    role_description: &'static str,
    extra_log_action: bool,
    mutability: &'static str,
    scan_on_push: bool,
    keep_images: i64,
    secret_description: &'static str,
    model: &'static str,
    runtime_description: &'static str,
    digest: &'static str,
}

fn repo_settings() -> Expected {
    Expected {
        minimum_length: 8,
        auth_flows: vec![
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
            "ALLOW_USER_PASSWORD_AUTH".into(),
        ],
        role_description: "Execution role of the web-search MCP server on AgentCore Runtime",
        extra_log_action: false,
        mutability: "IMMUTABLE",
        scan_on_push: true,
        keep_images: 10,
        secret_description: "OpenAI API key of the web search MCP server",
        model: "o3",
        runtime_description: "OpenAI web search over MCP",
        digest: PREBUILT_DIGEST,
    }
}

fn updated_settings() -> Expected {
    Expected {
        minimum_length: 10,
        auth_flows: vec![
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
            "ALLOW_USER_PASSWORD_AUTH".into(),
            "ALLOW_USER_SRP_AUTH".into(),
        ],
        role_description: "Execution role of the web-search MCP server (updated)",
        extra_log_action: true,
        mutability: "MUTABLE",
        scan_on_push: false,
        keep_images: 5,
        secret_description: "The OpenAI API key (updated)",
        model: "gpt-4.1",
        runtime_description: "OpenAI web search over MCP (updated)",
        digest: OTHER_DIGEST,
    }
}

/// Changes only AWS-side state can ask for: the user's password and the secret's value (both
/// write-only, from the environment), and a tag removed from the repository.
async fn drift_write_only_state(aws: &Aws, inv: &Inventory) {
    aws.cognito
        .admin_set_user_password()
        .user_pool_id(&inv.pools[0].0)
        .username(USER)
        .password("An0ther-Passw0rd!")
        .permanent(true)
        .send()
        .await
        .unwrap();
    aws.secrets
        .put_secret_value()
        .secret_id(SECRET)
        .secret_string("sk-stale")
        .send()
        .await
        .unwrap();
    let repo = aws
        .ecr
        .describe_repositories()
        .repository_names(REPOSITORY)
        .send()
        .await
        .unwrap();
    aws.ecr
        .untag_resource()
        .resource_arn(repo.repositories()[0].repository_arn().unwrap())
        .tag_keys("infra:managed-by")
        .send()
        .await
        .unwrap();
}

/// How an interrupted run ended.
#[derive(Debug)]
enum Interrupted {
    /// Killed right after its k-th write was answered; the writes it had made.
    Killed(Vec<String>),
    /// It ended by itself first (k was not below its number of writes).
    Finished(i32),
}

/// `infra apply --yes` through `proxy`, SIGKILLed as soon as its k-th write has been answered
/// by the emulator. Writes after the k-th are held by the proxy, so the emulator has seen
/// exactly k writes when the process dies.
fn apply_killed_after(project: &Project, proxy: &FaultProxy, k: usize, log: &Path) -> Interrupted {
    proxy.set_mode(Mode::HoldWritesAfter(k));
    let mut child = project.spawn_at(&proxy.endpoint, &["apply", "--yes"], log);
    let reached = proxy.wait_for_writes(k, &mut child, Duration::from_secs(60));
    if let Some(status) = child.try_wait().unwrap() {
        return Interrupted::Finished(status.code().unwrap_or(-1));
    }
    assert!(
        reached,
        "k={k}: infra made {} writes in 60 s and did not end:\n{}",
        proxy.writes_answered(),
        std::fs::read_to_string(log).unwrap_or_default()
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let writes = proxy.forwarded_writes();
    assert_eq!(writes.len(), k, "exactly k writes reached the emulator");
    Interrupted::Killed(writes)
}

/// One point of a sweep: `project` is applied, killed after its k-th write (of `last`), then
/// applied again directly. `before`: the identities the emulator holds before, which must
/// survive. Returns what went wrong, empty when all is right.
async fn kill_point(
    moto: &Moto,
    aws: &Aws,
    proxy: &FaultProxy,
    project: &Project,
    (k, last): (usize, usize),
    before: &BTreeMap<&'static str, String>,
    expected: &Expected,
) -> Vec<String> {
    let log = project.dir.path().join(format!("interrupted-{k}.log"));
    let interrupted = apply_killed_after(project, proxy, k, &log);
    let after_kill = Inventory::read(aws).await;
    let mut wrong = Vec::new();
    let made = match &interrupted {
        Interrupted::Killed(writes) => writes.last().cloned().unwrap_or_default(),
        // After its last write, an apply may end before the kill.
        Interrupted::Finished(0) if k == last => "(none: it had ended)".to_owned(),
        Interrupted::Finished(code) => {
            wrong.push(format!("the interrupted apply ended by itself with {code}"));
            String::new()
        }
    };
    // What the first run created keeps its identity; so must what the interrupted run made.
    let mut identities = after_kill.identities();
    for (what, id) in before {
        if identities.get(what) != Some(id) {
            wrong.push(format!(
                "{what} changed during the interrupted apply: {id} -> {:?}",
                identities.get(what)
            ));
        }
        identities.insert(what, id.clone());
    }
    let again = project.infra(moto, &["apply", "--yes"]);
    if again.code != 0 {
        wrong.push(format!(
            "the second apply exited {}:\n{}{}",
            again.code, again.stdout, again.stderr
        ));
    }
    let end = Inventory::read(aws).await;
    // An apply killed while it waited for the runtime's new version leaves DEFAULT moving to
    // it; the runtime kind plans the rest of that wait (`~ deployment`), so the next apply
    // ends only once DEFAULT serves the latest version.
    if let Some(lag) = default_lag(aws, &end).await {
        wrong.push(format!("the apply after the kill ended while {lag}"));
    }
    wrong.extend(converged(aws, &end, expected).await);
    let kept = end.identities();
    for (what, id) in &identities {
        if kept.get(what) != Some(id) {
            wrong.push(format!(
                "{what} {id} (there after the kill) is now {:?}",
                kept.get(what)
            ));
        }
    }
    if again.code == 0 {
        let plan = project.infra(moto, &["plan", "--detailed-exitcode"]);
        if plan.code != 0 {
            wrong.push(format!(
                "plan --detailed-exitcode exited {}:\n{}",
                plan.code, plan.stdout
            ));
        }
    }
    if !wrong.is_empty() {
        wrong.insert(
            0,
            format!(
                "k={k} (killed after {made}); after the kill: {}",
                after_kill.summary()
            ),
        );
        wrong.push(format!(
            "the interrupted run's output:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        ));
    }
    wrong
}

/// `Some(what)` when the only runtime's DEFAULT endpoint is not READY serving its latest
/// version. (Each call moves the emulator's DEFAULT one poll closer.)
async fn default_lag(aws: &Aws, inv: &Inventory) -> Option<String> {
    let [(_, id, _)] = inv.runtimes.as_slice() else {
        return None;
    };
    let runtime = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(id)
        .send()
        .await
        .unwrap();
    let (status, live) = aws.default_endpoint(id).await;
    (status != "READY" || live.as_deref() != Some(runtime.agent_runtime_version())).then(|| {
        format!(
            "DEFAULT was {status} serving version {live:?} and the runtime is at version {}",
            runtime.agent_runtime_version()
        )
    })
}

/// Fail with every broken kill point at once.
fn report(sweep: &str, n: usize, failures: Vec<(usize, Vec<String>)>, started: Instant) {
    let failed: Vec<usize> = failures.iter().map(|(k, _)| *k).collect();
    eprintln!(
        "{sweep}: {n} writes; kill points 1..={n} in {:.1}s; failed: {failed:?}",
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        let text: Vec<String> = failures
            .into_iter()
            .map(|(_, wrong)| wrong.join("\n  "))
            .collect();
        panic!(
            "{sweep}: kill points that did not converge: {failed:?}\n{}",
            text.join("\n\n")
        );
    }
}

#[tokio::test]
async fn an_apply_from_empty_killed_after_any_write_is_completed_by_the_next_apply() {
    let started = Instant::now();
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let proxy = FaultProxy::start(moto.port, Mode::Pass);
    let project = Project::from_repo(|s| s);

    // The writes of a whole apply from empty, through the proxy.
    project
        .infra_at(&proxy.endpoint, &["apply", "--yes"])
        .expect(0);
    let writes = proxy.forwarded_writes();
    assert_eq!(moto.writes().len(), writes.len());
    let n = writes.len();
    eprintln!("apply from empty: {n} writes: {writes:?}");
    assert!(n >= 9, "{writes:?}");

    let mut failures = Vec::new();
    for k in 1..=n {
        moto.reset();
        let wrong = kill_point(
            &moto,
            &aws,
            &proxy,
            &project,
            (k, n),
            &BTreeMap::new(),
            &repo_settings(),
        )
        .await;
        if !wrong.is_empty() {
            failures.push((k, wrong));
        }
    }
    report("apply from empty", n, failures, started);
}

#[tokio::test]
async fn an_apply_updating_every_kind_killed_after_any_write_is_completed_by_the_next_apply() {
    let started = Instant::now();
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let proxy = FaultProxy::start(moto.port, Mode::Pass);
    let base = Project::from_repo(|s| s);
    let updated = Project::from_repo(update_every_kind);

    // Deployed as the repository declares it, drifted where only AWS can, then updated.
    let deploy = async || {
        moto.reset();
        base.infra(&moto, &["apply", "--yes"]).expect(0);
        let inv = Inventory::read(&aws).await;
        drift_write_only_state(&aws, &inv).await;
        inv.identities()
    };
    let before = deploy().await;
    assert_eq!(before.len(), 6, "{before:?}");
    proxy.set_mode(Mode::Pass);
    updated
        .infra_at(&proxy.endpoint, &["apply", "--yes"])
        .expect(0);
    let writes = proxy.forwarded_writes();
    let n = writes.len();
    eprintln!("apply updating every kind: {n} writes: {writes:?}");
    let wrong = converged(&aws, &Inventory::read(&aws).await, &updated_settings()).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    for op in [
        "UpdateUserPool",
        "UpdateUserPoolClient",
        "AdminSetUserPassword",
        "PutRolePolicy",
        "PutImageTagMutability",
        "PutLifecyclePolicy",
        "TagResource",
        "UpdateSecret",
        "PutSecretValue",
        "UpdateAgentRuntime",
    ] {
        assert!(writes.iter().any(|w| w == op), "no {op} in {writes:?}");
    }

    let mut failures = Vec::new();
    for k in 1..=n {
        let before = deploy().await;
        let wrong = kill_point(
            &moto,
            &aws,
            &proxy,
            &updated,
            (k, n),
            &before,
            &updated_settings(),
        )
        .await;
        if !wrong.is_empty() {
            failures.push((k, wrong));
        }
    }
    report("apply updating every kind", n, failures, started);
}

/// The faults a flaky AWS answers with.
const FLAKY: [Fault; 5] = [
    Fault::Throttle,
    Fault::BareThrottle,
    Fault::Unavailable,
    Fault::Reset,
    Fault::ResetAfter,
];

#[tokio::test]
async fn on_a_flaky_aws_apply_and_plan_converge_in_bounded_time_and_log_each_retry() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let proxy = FaultProxy::start(
        moto.port,
        Mode::Flaky {
            fraction: 0.25,
            // With this seed the writes of an apply from empty meet every kind of fault:
            // CreateRepository a reset, PutRolePolicy a 503 and a throttle, AdminCreateUser a
            // 503, AdminSetUserPassword a lost answer (the choice is a hash of the seed, the
            // operation and its count, so the interleaving of concurrent calls does not change
            // it).
            seed: 3,
            faults: FLAKY.to_vec(),
            max_per_call: 2,
        },
    );
    let project = Project::from_repo(|s| s);

    let started = Instant::now();
    let plan = project.infra_at(&proxy.endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    let apply = project
        .infra_at(&proxy.endpoint, &["-v", "apply", "--yes"])
        .expect(0);
    let took = started.elapsed();
    let log = proxy.log();
    let faults: Vec<_> = log.iter().filter(|s| s.fault.is_some()).collect();
    eprintln!(
        "flaky plan + apply: {} calls, {} faults, {:.1}s",
        log.len(),
        faults.len(),
        took.as_secs_f64()
    );
    for fault in FLAKY {
        assert!(
            faults.iter().any(|s| s.write && s.fault == Some(fault)),
            "no write met {fault:?}: {log:?}"
        );
    }
    eprintln!(
        "faulted writes: {:?}",
        faults
            .iter()
            .filter(|s| s.write)
            .map(|s| format!(
                "{} {:?} (attempt {})",
                s.operation,
                s.fault.unwrap(),
                s.attempt
            ))
            .collect::<Vec<_>>()
    );
    assert!(took < Duration::from_secs(90), "took {took:?}");
    // Each retry is logged at debug level with its attempt number.
    assert!(
        apply.stderr.contains("(attempt 2)"),
        "no retry logged:\n{}",
        apply.stderr
    );
    let wrong = converged(&aws, &Inventory::read(&aws).await, &repo_settings()).await;
    assert!(wrong.is_empty(), "{wrong:#?}\n{}", apply.stdout);

    // Converged: a plan through the same flaky AWS finds nothing to do.
    proxy.set_mode(Mode::Flaky {
        fraction: 0.3,
        seed: 11,
        faults: FLAKY.to_vec(),
        max_per_call: 2,
    });
    let plan = project.infra_at(&proxy.endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(proxy.log().iter().any(|s| s.fault.is_some()));
}

#[tokio::test]
async fn a_call_that_keeps_failing_ends_the_apply_naming_the_resource_the_operation_and_the_message()
 {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let proxy = FaultProxy::start(
        moto.port,
        Mode::Always {
            operation: "CreateRole".into(),
            fault: Fault::Unavailable,
        },
    );
    let project = Project::from_repo(|s| s);
    let started = Instant::now();
    let run = project
        .infra_at(&proxy.endpoint, &["-v", "apply", "--yes"])
        .expect(1);
    let took = started.elapsed();
    let attempts: Vec<u32> = proxy
        .log()
        .iter()
        .filter(|s| s.operation == "CreateRole")
        .map(|s| s.attempt)
        .collect();
    eprintln!(
        "CreateRole always 503: {attempts:?} in {:.1}s",
        took.as_secs_f64()
    );
    assert_eq!(attempts, [1, 2, 3, 4, 5], "bounded retries");
    assert!(took < Duration::from_secs(45), "took {took:?}");
    let out = format!("{}{}", run.stdout, run.stderr);
    for line in out.lines().filter(|l| l.starts_with("error:")) {
        eprintln!("{line}");
    }
    assert!(
        out.contains(&format!("iam_role.{ROLE}: CreateRole failed"))
            && out.contains("Service is unavailable, try again later (injected)"),
        "{out}"
    );
    for attempt in 2..=5 {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains("CreateRole → 503")
                    && l.ends_with(&format!("(attempt {attempt})"))),
            "attempt {attempt} not logged:\n{}",
            run.stderr
        );
    }
    // What the rest of the level did stays done; the next apply completes the stack.
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let wrong = converged(&aws, &Inventory::read(&aws).await, &repo_settings()).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A 429 that carries no AWS error code (a proxy's or load balancer's page) is throttling too:
/// the SDK's standard mode retries only modelled throttling codes and 5xx statuses.
#[tokio::test]
async fn a_429_without_an_aws_error_code_is_retried_as_throttling() {
    let moto = Moto::start();
    let reads = [
        "ListUserPools",
        "GetRole",
        "DescribeRepositories",
        "ListAgentRuntimes",
    ];
    let proxy = FaultProxy::start(
        moto.port,
        Mode::FirstAttempt {
            operations: reads.iter().map(|r| r.to_string()).collect(),
            fault: Fault::BareThrottle,
        },
    );
    let project = Project::from_repo(|s| s);
    let run = project.infra_at(&proxy.endpoint, &["-v", "plan"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for read in reads {
        let attempts: Vec<u32> = proxy
            .log()
            .iter()
            .filter(|s| s.operation == read)
            .map(|s| s.attempt)
            .collect();
        assert!(attempts.starts_with(&[1, 2]), "{read}: {attempts:?}");
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&format!("{read} → 429"))),
            "the 429 of {read} is not logged:\n{}",
            run.stderr
        );
    }
    assert!(run.stdout.contains("Plan: 9 to create"), "{}", run.stdout);
}

#[tokio::test]
async fn a_write_that_is_never_answered_fails_the_apply_within_the_call_timeout() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let proxy = FaultProxy::start(
        moto.port,
        Mode::Always {
            operation: "CreateSecret".into(),
            fault: Fault::Stall,
        },
    );
    let project = Project::from_repo(|s| s);
    let started = Instant::now();
    let run = project
        .infra_at(&proxy.endpoint, &["--call-timeout", "3", "apply", "--yes"])
        .expect(1);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let out = format!("{}{}", run.stdout, run.stderr);
    // The resource, the operation and the bound. (Unlike a read that times out, a write that
    // times out during apply is not followed by the line naming the endpoint and
    // --call-timeout: cli.rs prints that hint for single errors only.)
    assert!(
        out.contains("secret.openai_api_key: CreateSecret failed")
            && out.contains("timed out")
            && out.contains("after 3s"),
        "{out}"
    );
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let wrong = converged(&aws, &Inventory::read(&aws).await, &repo_settings()).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_retried_without_making_a_second_resource() {
    // Each create (and every other write of an apply from empty) is executed by the emulator,
    // then the connection is reset before the answer gets back: the SDK sends it again.
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    let writes = [
        "CreateUserPool",
        "CreateUserPoolClient",
        "AdminCreateUser",
        "AdminSetUserPassword",
        "CreateRole",
        "PutRolePolicy",
        "CreateRepository",
        "PutLifecyclePolicy",
        "CreateSecret",
        "CreateAgentRuntime",
    ];
    let proxy = FaultProxy::start(
        moto.port,
        Mode::FirstAttempt {
            operations: writes.iter().map(|w| w.to_string()).collect(),
            fault: Fault::ResetAfter,
        },
    );
    let run = project.infra_at(&proxy.endpoint, &["-v", "apply", "--yes"]);
    let lost: Vec<String> = proxy
        .log()
        .iter()
        .filter(|s| s.fault == Some(Fault::ResetAfter))
        .map(|s| s.operation.clone())
        .collect();
    let inv = Inventory::read(&aws).await;
    let wrong = converged(&aws, &inv, &repo_settings()).await;
    assert!(
        run.code == 0 && wrong.is_empty(),
        "lost answers of {lost:?}; apply exited {}; {wrong:#?}\n{}\n{}\n{}",
        run.code,
        inv.summary(),
        run.stdout,
        run.stderr
    );
    for w in writes {
        assert!(
            lost.iter().any(|l| l == w),
            "{w} was not interrupted: {lost:?}"
        );
    }
    // How each repeat was absorbed (a duplicate pool or client settled, "already exists" read).
    for line in run.stdout.lines().filter(|l| {
        l.contains("meanwhile") || l.contains("at the same time") || l.contains("already")
    }) {
        eprintln!("{line}");
    }
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[test]
fn a_server_error_without_an_aws_code_says_the_status_and_the_request_id() {
    // An HTTP 500 with an empty body: no AWS error code for the SDK to read. The SDK retries it
    // (a server error is transient); when every attempt fails, the user gets the status and the
    // request id to give AWS support, not "unhandled error".
    let moto = Moto::start();
    let proxy = FaultProxy::start(
        moto.port,
        Mode::Always {
            operation: "DescribeSecret".into(),
            fault: Fault::BareServerError,
        },
    );
    let project = Project::from_repo(|s| s);
    let run = project.infra_at(&proxy.endpoint, &["plan"]).expect(1);
    assert!(
        run.stderr.contains(
            "secret.openai_api_key: DescribeSecret failed: HTTP 500 with no AWS error code in \
             the answer, request id req-injected-500: AWS's side failed"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("unhandled error"), "{}", run.stderr);
}
