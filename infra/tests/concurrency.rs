//! Two `infra apply --yes` at once, against one emulator whose creates take a while to take
//! effect (`EMULATOR_CREATE_DELAY_MS`, scripts/emulator.py item 13), so both applies read
//! "absent" before either's create lands, as two CI jobs would on AWS. Each case is repeated;
//! after each repetition the final state is read back through the AWS API and every resource is
//! counted by name and tag: exactly one each, and the plan is empty.

mod support;

use std::sync::Barrier;
use std::time::Instant;

use support::{Aws, Moto, Project, Run, STACK_NAME};

const POOL: &str = "MCPServerPool";
const CLIENT: &str = "MCPServerPoolClient";
const USER: &str = "testuser";
const ROLE: &str = "agentcore-web-search-mcp-role";
const REPOSITORY: &str = "web-search-mcp";
const SECRET: &str = "web-search-mcp/openai_api_key";
const RUNTIME: &str = "web_search_mcp";

/// Repetitions of each case.
const REPETITIONS: usize = 10;
/// How long the emulator's creates take to take effect: longer than the gap between the two
/// applies' reads, shorter than it takes to make the tests slow.
const CREATE_DELAY_MS: &str = "150";

/// What a repetition ended with.
#[derive(Debug, Default)]
struct Tally {
    both_succeeded: usize,
    loser_failed: usize,
    /// Repetitions in which an apply met the other's create (a progress line says so).
    raced: usize,
}

/// `infra apply --yes` twice, the two processes released together.
fn two_applies(project: &Project, moto: &Moto) -> [Run; 2] {
    let barrier = Barrier::new(2);
    let apply = || {
        barrier.wait();
        project.infra(moto, &["apply", "--yes"])
    };
    std::thread::scope(|s| {
        let a = s.spawn(apply);
        let b = s.spawn(apply);
        [a.join().unwrap(), b.join().unwrap()]
    })
}

/// Both exit 0, or one exits 1 with a message naming what failed and a re-run is a no-op;
/// then the plan is empty and every resource exists exactly once.
fn check(runs: &[Run; 2], project: &Project, moto: &Moto, aws: &Aws, tally: &mut Tally) {
    let codes = [runs[0].code, runs[1].code];
    let both = |r: &Run| format!("--- stdout\n{}\n--- stderr\n{}", r.stdout, r.stderr);
    match codes {
        [0, 0] => tally.both_succeeded += 1,
        [0, 1] | [1, 0] => {
            tally.loser_failed += 1;
            let loser = &runs[codes.iter().position(|c| *c == 1).unwrap()];
            assert!(
                loser.stderr.contains("error: ") && loser.stderr.contains(" failed"),
                "the loser's message names what failed:\n{}",
                both(loser)
            );
            eprintln!("the loser exited 1:\n{}", loser.stderr);
            moto.start_recording();
            project.infra(moto, &["apply", "--yes"]).expect(0);
            assert_eq!(moto.writes(), Vec::<String>::new(), "a re-run is a no-op");
        }
        _ => panic!(
            "exit codes {codes:?}\n{}\n{}",
            both(&runs[0]),
            both(&runs[1])
        ),
    }
    if runs
        .iter()
        .any(|r| r.stdout.contains("meanwhile") || r.stdout.contains("at the same time"))
    {
        tally.raced += 1;
    }
    project
        .infra(moto, &["plan", "--detailed-exitcode"])
        .expect(0);
    let counts = tokio_runtime().block_on(census(aws));
    assert_eq!(
        counts,
        Census::ONE_EACH,
        "\n{}\n{}",
        both(&runs[0]),
        both(&runs[1])
    );
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// How many of each resource exist with the stack's names: (all with the name, those tagged for
/// the stack). Clients and users are counted across every pool with the name.
#[derive(Debug, PartialEq, Eq)]
struct Census {
    pools: (usize, usize),
    clients: usize,
    users: usize,
    roles: (usize, usize),
    repositories: (usize, usize),
    secrets: (usize, usize),
    runtimes: (usize, usize),
}

impl Census {
    const ONE_EACH: Census = Census {
        pools: (1, 1),
        clients: 1,
        users: 1,
        roles: (1, 1),
        repositories: (1, 1),
        secrets: (1, 1),
        runtimes: (1, 1),
    };
}

fn tagged<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    tags.into_iter()
        .any(|(k, v)| k == "infra:stack" && v == STACK_NAME)
}

async fn census(aws: &Aws) -> Census {
    let pool_ids = aws.pool_ids(POOL).await;
    let (mut tagged_pools, mut clients, mut users) = (0, 0, 0);
    for id in &pool_ids {
        let pool = aws
            .cognito
            .describe_user_pool()
            .user_pool_id(id)
            .send()
            .await
            .unwrap();
        let tags = pool.user_pool().unwrap().user_pool_tags().unwrap();
        tagged_pools += usize::from(tagged(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        clients += aws.client_ids(id, CLIENT).await.len();
        let listed = aws
            .cognito
            .list_users()
            .user_pool_id(id)
            .send()
            .await
            .unwrap();
        users += listed
            .users()
            .iter()
            .filter(|u| u.username() == Some(USER))
            .count();
    }

    let roles = aws.iam.list_roles().send().await.unwrap();
    let roles: Vec<_> = roles
        .roles()
        .iter()
        .filter(|r| r.role_name() == ROLE)
        .collect();
    let role_tags = match roles.first() {
        Some(_) => aws.iam.get_role().role_name(ROLE).send().await.unwrap(),
        None => aws_sdk_iam::operation::get_role::GetRoleOutput::builder().build(),
    };
    let tagged_roles = role_tags.role().map_or(0, |r| {
        usize::from(tagged(r.tags().iter().map(|t| (t.key(), t.value()))))
    });

    let repositories = aws.ecr.describe_repositories().send().await.unwrap();
    let mut tagged_repositories = 0;
    let named: Vec<_> = repositories
        .repositories()
        .iter()
        .filter(|r| r.repository_name() == Some(REPOSITORY))
        .collect();
    for repository in &named {
        let tags = aws
            .ecr
            .list_tags_for_resource()
            .resource_arn(repository.repository_arn().unwrap())
            .send()
            .await
            .unwrap();
        tagged_repositories +=
            usize::from(tagged(tags.tags().iter().map(|t| (t.key(), t.value()))));
    }

    let secrets = aws.secrets.list_secrets().send().await.unwrap();
    let secrets: Vec<_> = secrets
        .secret_list()
        .iter()
        .filter(|s| s.name() == Some(SECRET))
        .collect();
    let tagged_secrets = secrets
        .iter()
        .filter(|s| tagged(s.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)))))
        .count();

    let runtimes = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let runtimes: Vec<_> = runtimes
        .agent_runtimes()
        .iter()
        .filter(|r| r.agent_runtime_name() == RUNTIME)
        .collect();
    let mut tagged_runtimes = 0;
    for runtime in &runtimes {
        let tags = aws
            .agentcore
            .list_tags_for_resource()
            .resource_arn(runtime.agent_runtime_arn())
            .send()
            .await
            .unwrap();
        tagged_runtimes += usize::from(tagged(
            tags.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ));
    }

    Census {
        pools: (pool_ids.len(), tagged_pools),
        clients,
        users,
        roles: (roles.len(), tagged_roles),
        repositories: (named.len(), tagged_repositories),
        secrets: (secrets.len(), tagged_secrets),
        runtimes: (runtimes.len(), tagged_runtimes),
    }
}

fn emulator() -> (Moto, Aws) {
    let moto = Moto::start_with_env(&[("EMULATOR_CREATE_DELAY_MS", CREATE_DELAY_MS)]);
    let aws = tokio_runtime().block_on(Aws::new(&moto));
    (moto, aws)
}

#[test]
fn two_applies_at_once_from_an_empty_account_make_one_of_each() {
    let (moto, aws) = emulator();
    let project = Project::from_repo(|s| s);
    let mut tally = Tally::default();
    let started = Instant::now();
    for _ in 0..REPETITIONS {
        moto.reset();
        moto.start_recording();
        let runs = two_applies(&project, &moto);
        check(&runs, &project, &moto, &aws, &mut tally);
    }
    eprintln!(
        "from empty, {REPETITIONS} repetitions in {:.1}s: {tally:?}",
        started.elapsed().as_secs_f64()
    );
    // The delay makes the race real: repetitions meet the other apply's create (all of them
    // here; fewer on a loaded machine, where the two processes start further apart).
    assert!(tally.raced >= 3, "{tally:?}");
}

#[test]
fn two_applies_at_once_of_a_pending_change_on_a_converged_stack_agree() {
    let (moto, aws) = emulator();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let mut tally = Tally::default();
    let started = Instant::now();
    let original = std::fs::read_to_string(project.dir.path().join("stack.toml")).unwrap();
    for i in 0..REPETITIONS {
        // A change to the pool, the role and the runtime (a new runtime version) each time.
        let changed = original
            .replace(
                "password_policy = { minimum_length = 8 }",
                &format!("password_policy = {{ minimum_length = {} }}", 9 + i % 2),
            )
            .replace(
                "description = \"Execution role",
                &format!("description = \"v{i}: Execution role"),
            )
            .replace(
                "description = \"OpenAI web search",
                &format!("description = \"v{i}: OpenAI web search"),
            );
        assert_ne!(changed, original);
        project.write_stack(&changed);
        moto.start_recording();
        let runs = two_applies(&project, &moto);
        check(&runs, &project, &moto, &aws, &mut tally);
    }
    eprintln!(
        "on a converged stack, {REPETITIONS} repetitions in {:.1}s: {tally:?}",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn two_applies_at_once_of_different_runtime_settings_leave_one_runtime_with_one_of_them() {
    let (moto, aws) = emulator();
    // DEFAULT's lag after an update is not what this tests; it only makes the waits longer.
    moto.emulator_settings(r#"{"endpoint_lag_polls": 0}"#);
    // Two versions of the stack: their creates differ, so their runtime creates carry different
    // client tokens and the slower one meets the name check (ConflictException).
    let projects = ["first", "second"].map(|which| {
        Project::from_repo(|s| {
            s.replace(
                "description = \"OpenAI web search over MCP\"",
                &format!("description = \"{which}\""),
            )
        })
    });
    let barrier = Barrier::new(2);
    let runs: [Run; 2] = std::thread::scope(|s| {
        let handles = projects.each_ref().map(|project| {
            let (barrier, moto) = (&barrier, &moto);
            s.spawn(move || {
                barrier.wait();
                project.infra(moto, &["apply", "--yes"])
            })
        });
        handles.map(|h| h.join().unwrap())
    });
    assert!(
        runs.iter().any(|r| r.stdout.contains(
            "agentcore_runtime.web_search_mcp: already exists, though the plan did not find it"
        )),
        "{runs:#?}"
    );
    // The runtime ends with the settings of the apply that wrote last. Both exit 0 when the
    // other one's update came first; otherwise the other's check after apply (it retries for
    // 7 s) says that its stack did not converge, naming the runtime.
    let codes = [runs[0].code, runs[1].code];
    assert!(codes.contains(&0), "{runs:#?}");
    if let Some(loser) = runs.iter().find(|r| r.code != 0) {
        assert!(
            loser.code == 1
                && loser.stderr.contains("did not converge")
                && loser.stderr.contains("agentcore_runtime.web_search_mcp"),
            "{loser:#?}"
        );
    }
    assert_eq!(tokio_runtime().block_on(census(&aws)), Census::ONE_EACH);
    // The runtime has one version's settings: that version's plan is empty, the other's not.
    let mut planned: Vec<i32> = projects
        .iter()
        .map(|p| p.infra(&moto, &["plan", "--detailed-exitcode"]).code)
        .collect();
    planned.sort();
    assert_eq!(planned, [0, 2]);
    eprintln!("different settings: exit codes {codes:?}");
}

/// A pool named like the stack's, tagged for it, holding `users`: what two applies at once by
/// an older infra left (each created a pool, its client and its user).
async fn tagged_pool(aws: &Aws, users: &[&str]) -> String {
    let pool = aws
        .cognito
        .create_user_pool()
        .pool_name(POOL)
        .user_pool_tags("infra:stack", STACK_NAME)
        .user_pool_tags("infra:managed-by", "infra")
        .send()
        .await
        .unwrap();
    let id = pool.user_pool().unwrap().id().unwrap().to_owned();
    aws.cognito
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name(CLIENT)
        .send()
        .await
        .unwrap();
    for user in users {
        aws.cognito
            .admin_create_user()
            .user_pool_id(&id)
            .username(*user)
            .send()
            .await
            .unwrap();
    }
    id
}

#[test]
fn duplicates_left_by_an_older_infra_are_deleted_when_empty_and_explained_otherwise() {
    let moto = Moto::start();
    let rt = tokio_runtime();
    let aws = rt.block_on(Aws::new(&moto));
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let kept = rt.block_on(aws.pool_ids(POOL)).remove(0);

    // A second pool with the stack's client and user: nothing the stack does not declare.
    let extra = rt.block_on(tagged_pool(&aws, &[USER]));
    // And a second client in the kept pool, which the runtime does not allow.
    let extra_client = rt.block_on(async {
        let out = aws
            .cognito
            .create_user_pool_client()
            .user_pool_id(&kept)
            .client_name(CLIENT)
            .send()
            .await
            .unwrap();
        out.user_pool_client()
            .unwrap()
            .client_id()
            .unwrap()
            .to_owned()
    });
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    for expected in [
        format!("cognito_user_pool.{POOL}[{extra}] will be deleted"),
        format!("the stack keeps {kept}"),
        format!("cognito_user_pool_client.{CLIENT}[{extra_client}] will be deleted"),
        "Plan: 0 to create, 0 to update, 2 to delete.".to_owned(),
    ] {
        assert!(
            plan.stdout.contains(&expected),
            "{expected}:\n{}",
            plan.stdout
        );
    }
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(rt.block_on(aws.pool_ids(POOL)), std::slice::from_ref(&kept));
    assert_eq!(rt.block_on(census(&aws)), Census::ONE_EACH);
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);

    // A second pool with a user the stack does not declare: explained, never deleted.
    let other = rt.block_on(tagged_pool(&aws, &[USER, "someone-else"]));
    moto.start_recording();
    let plan = project.infra(&moto, &["plan"]).expect(1);
    for expected in [
        format!("2 user pools named \"{POOL}\" are tagged for this stack"),
        format!("infra keeps {kept} (created 20"),
        "the runtime's authorizer uses it)".to_owned(),
        format!("{other} (created 20"),
        "it has users the stack does not declare: someone-else".to_owned(),
        format!("aws cognito-idp delete-user-pool --user-pool-id {other}"),
    ] {
        assert!(
            plan.stdout.contains(&expected),
            "{expected}:\n{}",
            plan.stdout
        );
    }
    project.infra(&moto, &["apply", "--yes"]).expect(1);
    assert_eq!(moto.writes(), Vec::<String>::new());
    // `output` tells the truth too: exit 1, the pool blocked, and why.
    let output = project.infra(&moto, &["output", "--json"]).expect(1);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let pool = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == format!("cognito_user_pool.{POOL}"))
        .unwrap_or_else(|| panic!("no pool in {json:#}"));
    assert_eq!(pool["status"], "blocked", "{json:#}");
    assert!(
        output
            .stderr
            .contains(&format!("cognito_user_pool.{POOL} blocked: "))
            && output.stderr.contains("2 user pools named"),
        "{}",
        output.stderr
    );
    // Doing what the message says ends it.
    rt.block_on(aws.cognito.delete_user_pool().user_pool_id(&other).send())
        .unwrap();
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}
