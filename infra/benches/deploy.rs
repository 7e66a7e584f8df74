//! `infra apply` from empty, a no-op `infra plan` and an `apply` that updates every kind, each
//! run as a user runs it (one process, against the emulator with `EMULATOR_LATENCY_MS`, default
//! 20, standing in for the round trip to AWS), each against its floor: the chain of AWS calls
//! that must happen one after another, made back to back by a bare SDK client on the same
//! emulator in the same run. The image build is left out (the stack names a prebuilt image) and
//! so is the runtime's own wait (from the create or update call's answer to the runtime
//! serving). Also the original article's setup scripts (`benches/article/`), on the same
//! emulator, for a side-by-side ratio.
//!
//! Run: `scripts/test-tools.sh && cargo bench -p infra --bench deploy`
//! (`DEPLOY_BENCH_RUNS=N` timed runs of each, default 10, interleaved; medians reported).
//!
//! The floors, with the rules that make each call wait for the one before it:
//! - read chain (a no-op plan): ListUserPools (the pool is found by name) → DescribeUserPool
//!   (its tags say whether it is the stack's: a pool that is not is never looked into) →
//!   ListUserPoolClients → DescribeUserPoolClient (its auth flows say whether a sign-in can
//!   verify the password: a sign-in that cannot work is not tried, failed sign-ins count
//!   against the user) → InitiateAuth. Every other read runs beside this chain.
//! - apply from empty: ListUserPools (nothing found) → CreateUserPool → ListUserPools (pool
//!   names are not unique: another apply may have made the same pool) → CreateUserPoolClient
//!   (needs the pool id) → ListUserPoolClients (the same for clients) → CreateAgentRuntime (its
//!   authorizer needs the pool and client ids); then, after the runtime's wait, the read chain
//!   again (apply verifies what it left).
//! - apply updating every kind: the read chain, one write (every id is known, so the updates
//!   need nothing from each other; the runtime's update stands for them), the read chain.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_bedrockagentcorecontrol::types::{
    AgentRuntimeArtifact, AuthorizerConfiguration, ContainerConfiguration,
    CustomJwtAuthorizerConfiguration, NetworkConfiguration, NetworkMode, ProtocolConfiguration,
    ServerProtocol,
};
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType,
};
use infra::aws::Aws;
use support::{Moto, OPENAI_KEY, PASSWORD, Project, STACK_NAME, prebuilt_image, workspace_root};

const POOL: &str = "MCPServerPool";
const CLIENT: &str = "MCPServerPoolClient";
const RUNTIME: &str = "web_search_mcp";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/agentcore-web-search-mcp-role";

fn main() {
    let runs: usize = std::env::var("DEPLOY_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let latency = std::env::var("EMULATOR_LATENCY_MS").unwrap_or_else(|_| "20".into());
    let moto = Moto::start_with_env(&[("EMULATOR_LATENCY_MS", &latency)]);
    // The repository's stack with a prebuilt image, and the same with every kind changed.
    let project = Project::from_repo(|s| s);
    let converged = std::fs::read_to_string(project.dir.path().join("stack.toml")).unwrap();
    let updated = support::stacks::update_every_kind(converged.clone());
    let article = tempfile::tempdir().unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let aws = tokio.block_on(async {
        let config = moto.sdk_config().await;
        Aws::from_config(&config).unwrap()
    });

    // One round of everything first: it warms the emulator (moto loads each service on first
    // use) and counts each scenario's calls.
    let mut calls = BTreeMap::new();
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for round in 0..=runs {
        // Recording costs the emulator CPU on every call: only the first round counts calls.
        let ops = || (round == 0).then(|| moto.operations());
        let count_calls = || {
            if round == 0 {
                moto.start_recording();
            } else {
                moto.stop_recording();
            }
        };
        let mut record = |name: &'static str, time: Duration, ops: Option<Vec<String>>| {
            if round == 0 {
                if let Some(ops) = ops {
                    calls.insert(name, ops);
                }
            } else {
                times.entry(name).or_default().push(time);
            }
        };
        moto.reset();
        count_calls();
        let t = tokio.block_on(floor_create(&aws));
        record("floor: create chain", t, ops());
        moto.reset();

        project.write_stack(&converged);
        count_calls();
        let apply = infra(&project, &moto, &["apply", "--yes", "-v"]);
        record("apply from empty", apply.without_wait(), ops());
        record("apply from empty: runtime wait", apply.wait, None);
        record("apply from empty: first call", apply.first_call, None);

        count_calls();
        let t = tokio.block_on(floor_reads(&aws));
        record("floor: read chain", t, ops());

        count_calls();
        let plan = infra(&project, &moto, &["plan", "--detailed-exitcode", "-v"]);
        record("no-op plan", plan.wall, ops());
        record("no-op plan: first call", plan.first_call, None);

        project.write_stack(&updated);
        count_calls();
        let update = infra(&project, &moto, &["apply", "--yes", "-v"]);
        record("update every kind", update.without_wait(), ops());
        record("update every kind: runtime wait", update.wait, None);

        count_calls();
        let t = tokio.block_on(floor_update(&aws, round));
        record("floor: one update", t, ops());

        moto.reset();
        count_calls();
        let t = article_scripts(&moto, article.path());
        record("article's scripts from empty", t, ops());
    }

    let median = |name: &str| {
        let mut t = times[name].clone();
        t.sort();
        t[t.len() / 2]
    };
    let reads = median("floor: read chain");
    let floors = [
        ("apply from empty", median("floor: create chain") + reads),
        ("no-op plan", reads),
        (
            "update every kind",
            reads + median("floor: one update") + reads,
        ),
    ];
    println!(
        "infra against the emulator, {latency} ms added to each AWS call ({runs} runs of each, \
         interleaved; medians)"
    );
    println!(
        "  one call on the read chain: {:.1} ms on average",
        ms(reads) / 5.0
    );
    // The process's own start (to its first AWS call), which the in-process floor does not pay.
    let start = median("no-op plan: first call").min(median("apply from empty: first call"));
    println!(
        "  {:<34} {:>9} {:>9} {:>7} {:>14} {:>6}",
        "", "wall", "floor", "ratio", "w/o start", "calls"
    );
    for (name, floor) in floors {
        let wall = median(name);
        println!(
            "  {name:<34} {:>6.0} ms {:>6.0} ms {:>6.2}x {:>13.2}x {:>6}",
            ms(wall),
            ms(floor),
            wall.as_secs_f64() / floor.as_secs_f64(),
            (wall - start).as_secs_f64() / floor.as_secs_f64(),
            calls[name].len()
        );
    }
    for name in [
        "apply from empty: runtime wait",
        "update every kind: runtime wait",
    ] {
        println!("  {name:<34} {:>6.0} ms (left out above)", ms(median(name)));
    }
    for name in ["apply from empty: first call", "no-op plan: first call"] {
        println!(
            "  {name:<34} {:>6.0} ms after the process started",
            ms(median(name))
        );
    }
    let article = median("article's scripts from empty");
    let ours = median("apply from empty");
    println!(
        "  {:<34} {:>6.0} ms {:>9} {:>7} {:>6}",
        "article's scripts from empty",
        ms(article),
        "",
        "",
        calls["article's scripts from empty"].len()
    );
    println!(
        "  article's scripts / infra apply from empty: {:.2}x",
        article.as_secs_f64() / ours.as_secs_f64()
    );
    for (name, ops) in &calls {
        let mut counts = BTreeMap::<&str, usize>::new();
        for op in ops {
            *counts.entry(op).or_default() += 1;
        }
        println!("  calls of {name}: {counts:?}");
    }
}

/// One `infra` run: its wall time, when its first AWS call left (process start, stack file,
/// AWS configuration) and, for an apply, the runtime's own wait.
struct Timed {
    wall: Duration,
    first_call: Duration,
    wait: Duration,
}

impl Timed {
    fn without_wait(&self) -> Duration {
        self.wall - self.wait
    }
}

/// Run `infra ARGS` as a user would, with stdout and stderr in one pipe (so their lines keep
/// their order), timing each line as it arrives. The runtime's wait runs from the answer to
/// its create or update call (`-v` logs each call when it is answered) to the progress line
/// that says the runtime is done.
fn infra(project: &Project, moto: &Moto, args: &[&str]) -> Timed {
    // The check after apply (a token, then an MCP round trip through the runtime) needs an
    // image the emulator can run (tests/client.rs does it): the tests' environment has it off.
    let mut cmd = project.command(moto, Command::new("sh"));
    cmd.args(["-c", "exec \"$0\" \"$@\" 2>&1", env!("CARGO_BIN_EXE_infra")])
        .args(args)
        .env("COGNITO_PASSWORD", PASSWORD)
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start infra");
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        lines.push((started.elapsed(), line.unwrap()));
    }
    let status = child.wait().unwrap();
    let wall = started.elapsed();
    let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    for secret in [PASSWORD, OPENAI_KEY] {
        assert!(!text.contains(secret), "infra {args:?} printed a secret");
    }
    assert!(status.success(), "infra {args:?} failed:\n{text}");
    let at = |found: &dyn Fn(&str) -> bool| lines.iter().find(|(_, l)| found(l)).map(|(t, _)| *t);
    let requested = at(&|l| {
        l.contains("DEBUG infra::aws:")
            && (l.contains(" CreateAgentRuntime → ") || l.contains(" UpdateAgentRuntime → "))
    });
    let served = at(&|l| l.starts_with("agentcore_runtime.") && l.contains(" complete after "));
    // `-v` logs each call when it is answered, with its duration: when the first one left.
    let first_call = lines
        .iter()
        .filter_map(|(at, l)| {
            let took = l.split(" → ").nth(1)?.split(" in ").nth(1)?;
            let ms: u64 = took
                .strip_suffix(" ms")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            at.checked_sub(Duration::from_millis(ms))
        })
        .min()
        .expect("-v logs the calls");
    let wait = match (requested, served) {
        (Some(from), Some(to)) => to - from,
        (None, None) => Duration::ZERO,
        _ => panic!("infra {args:?}: a runtime write without its end, or the reverse:\n{text}"),
    };
    Timed {
        wall,
        first_call,
        wait,
    }
}

/// The create chain of an apply from empty, back to back (see the module's comment).
async fn floor_create(aws: &Aws) -> Duration {
    let started = Instant::now();
    let cognito = &aws.cognito;
    let pools = cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert!(pools.user_pools().iter().all(|p| p.name() != Some(POOL)));
    let tags = [
        ("infra:stack".to_owned(), STACK_NAME.to_owned()),
        ("infra:managed-by".to_owned(), "infra".to_owned()),
    ];
    let pool = cognito
        .create_user_pool()
        .pool_name(POOL)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(PasswordPolicyType::builder().minimum_length(8).build())
                .build(),
        )
        .set_user_pool_tags(Some(tags.iter().cloned().collect()))
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name(CLIENT)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let client_id = client
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();
    cognito
        .list_user_pool_clients()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    runtime_request(aws, &pool_id, &client_id, "OpenAI web search over MCP")
        .create()
        .await;
    started.elapsed()
}

/// The read chain of a no-op plan, back to back (see the module's comment).
async fn floor_reads(aws: &Aws) -> Duration {
    let started = Instant::now();
    let cognito = &aws.cognito;
    let pools = cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    let pool_id = pools
        .user_pools()
        .iter()
        .find(|p| p.name() == Some(POOL))
        .and_then(|p| p.id())
        .unwrap()
        .to_owned();
    cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let clients = cognito
        .list_user_pool_clients()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let client_id = clients.user_pool_clients()[0]
        .client_id()
        .unwrap()
        .to_owned();
    cognito
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    cognito
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "testuser")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    started.elapsed()
}

/// One runtime update (a new description each round), timed alone.
async fn floor_update(aws: &Aws, round: usize) -> Duration {
    let runtimes = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let runtime = &runtimes.agent_runtimes()[0];
    let id = runtime.agent_runtime_id().to_owned();
    let pools = aws
        .cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    let pool_id = pools.user_pools()[0].id().unwrap().to_owned();
    let clients = aws
        .cognito
        .list_user_pool_clients()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let client_id = clients.user_pool_clients()[0]
        .client_id()
        .unwrap()
        .to_owned();
    let request = runtime_request(aws, &pool_id, &client_id, &format!("round {round}"));
    let started = Instant::now();
    request.update(&id).await;
    started.elapsed()
}

/// What a runtime create or update sends for the stack.
struct RuntimeRequest<'a> {
    aws: &'a Aws,
    artifact: AgentRuntimeArtifact,
    network: NetworkConfiguration,
    protocol: ProtocolConfiguration,
    authorizer: AuthorizerConfiguration,
    description: String,
}

fn runtime_request<'a>(
    aws: &'a Aws,
    pool_id: &str,
    client_id: &str,
    description: &str,
) -> RuntimeRequest<'a> {
    RuntimeRequest {
        aws,
        artifact: AgentRuntimeArtifact::ContainerConfiguration(
            ContainerConfiguration::builder()
                .container_uri(prebuilt_image())
                .build()
                .unwrap(),
        ),
        network: NetworkConfiguration::builder()
            .network_mode(NetworkMode::Public)
            .build()
            .unwrap(),
        protocol: ProtocolConfiguration::builder()
            .server_protocol(ServerProtocol::Mcp)
            .build()
            .unwrap(),
        authorizer: AuthorizerConfiguration::CustomJwtAuthorizer(
            CustomJwtAuthorizerConfiguration::builder()
                .discovery_url(format!(
                    "https://cognito-idp.us-west-2.amazonaws.com/{pool_id}/.well-known/openid-configuration"
                ))
                .allowed_clients(client_id)
                .build()
                .unwrap(),
        ),
        description: description.to_owned(),
    }
}

/// The settings a create and an update both send (their builders are different types).
macro_rules! with_configuration {
    ($builder:expr, $request:expr) => {
        $builder
            .agent_runtime_artifact($request.artifact)
            .role_arn(ROLE_ARN)
            .network_configuration($request.network)
            .protocol_configuration($request.protocol)
            .authorizer_configuration($request.authorizer)
            .description($request.description)
            .environment_variables("OPENAI_MODEL", "o3")
    };
}

impl RuntimeRequest<'_> {
    async fn create(self) {
        let create = self.aws.agentcore.create_agent_runtime();
        with_configuration!(create.agent_runtime_name(RUNTIME), self)
            .send()
            .await
            .unwrap();
    }

    async fn update(self, id: &str) {
        let update = self.aws.agentcore.update_agent_runtime();
        with_configuration!(update.agent_runtime_id(id), self)
            .send()
            .await
            .unwrap();
    }
}

/// The article's three scripts, one Python process after another, until the runtime's create
/// or update has answered (`deploy.py` prints `requested` then; its wait is left out).
fn article_scripts(moto: &Moto, dir: &Path) -> Duration {
    let scripts = workspace_root().join("infra/benches/article");
    let python = workspace_root().join(".venv/bin/python");
    let started = Instant::now();
    for script in ["setup_cognito.py", "create_role.py", "deploy.py"] {
        let mut child = Command::new(&python)
            .arg(scripts.join(script))
            .current_dir(dir)
            .env_clear()
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-west-2")
            .env("AWS_CONFIG_FILE", dir.join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("none"))
            .env("COGNITO_PASSWORD", PASSWORD)
            .env("OPENAI_API_KEY", OPENAI_KEY)
            .env("IMAGE_URI", prebuilt_image())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the article's script");
        let mut requested = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            if line.unwrap() == "requested" {
                requested = Some(started.elapsed());
            }
        }
        assert!(child.wait().unwrap().success(), "{script} failed");
        if let Some(at) = requested {
            return at;
        }
    }
    panic!("deploy.py never printed `requested`");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
