//! `infra destroy` against the emulator, through the `infra` binary: it deletes exactly what
//! the stack owns (read back through the AWS API), keeps what it does not, refuses when a
//! section protects a resource, and finishes when run again after being killed at any point.

mod support;

use std::time::Duration;

use support::faults::{FaultProxy, Mode};
use support::{Aws, Moto, OPENAI_KEY, PASSWORD, Project, STACK_NAME};

const POOL: &str = "MCPServerPool";
const ROLE: &str = "agentcore-web-search-mcp-role";
const REPOSITORY: &str = "web-search-mcp";
const RUNTIME: &str = "web_search_mcp";
const SECRETS: [&str; 2] = ["COGNITO_PASSWORD", "OPENAI_API_KEY"];

/// A second stack in the same account: every name differs.
fn other_stack() -> Project {
    Project::from_repo(|s| {
        s.replace("web-search-mcp", "other-mcp")
            .replace("web_search_mcp", "other_mcp")
            .replace("MCPServerPool", "OtherPool")
    })
}

/// What of a stack exists, read through the AWS API.
#[derive(Debug, PartialEq)]
struct Left {
    pools: usize,
    role: bool,
    repository: bool,
    runtime: bool,
    /// Secrets of the stack not scheduled for deletion.
    secrets: usize,
    /// A runtime's log group.
    log_group: bool,
}

async fn left(
    aws: &Aws,
    pool: &str,
    role: &str,
    repository: &str,
    runtime: &str,
    stack: &str,
) -> Left {
    let runtimes = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let runtime_id = runtimes
        .agent_runtimes()
        .iter()
        .find(|r| r.agent_runtime_name() == runtime)
        .map(|r| r.agent_runtime_id().to_owned());
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix("/aws/bedrock-agentcore/runtimes/")
        .send()
        .await
        .unwrap();
    let secrets = aws.secrets.list_secrets().send().await.unwrap();
    Left {
        pools: aws.pool_ids(pool).await.len(),
        role: aws.iam.get_role().role_name(role).send().await.is_ok(),
        repository: aws
            .ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .is_ok(),
        runtime: runtime_id.is_some(),
        secrets: secrets
            .secret_list()
            .iter()
            .filter(|s| {
                s.name()
                    .is_some_and(|n| n.starts_with(&format!("{stack}/")))
            })
            .filter(|s| s.deleted_date().is_none())
            .count(),
        // Only the first stack declares its runtime's group.
        log_group: !groups.log_groups().is_empty(),
    }
}

async fn ours(aws: &Aws) -> Left {
    left(aws, POOL, ROLE, REPOSITORY, RUNTIME, STACK_NAME).await
}

const NOTHING: Left = Left {
    pools: 0,
    role: false,
    repository: false,
    runtime: false,
    secrets: 0,
    log_group: false,
};

/// With the runtime's log group declared, so destroy has every kind to delete.
fn with_log_group(s: String) -> String {
    s.replacen("[runtime]\n", "[runtime]\nlog_retention_days = 14\n", 1)
}

#[tokio::test]
async fn destroy_deletes_what_the_stack_owns_and_leaves_a_foreign_pool_and_a_second_stack() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(with_log_group);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let other = other_stack();
    other.infra(&moto, &["apply", "--yes"]).expect(0);
    // Someone else's pool with the stack's pool name (names are not unique in Cognito).
    let foreign = aws
        .cognito
        .create_user_pool()
        .pool_name(POOL)
        .send()
        .await
        .unwrap();
    let foreign = foreign.user_pool().unwrap().id().unwrap().to_owned();
    let before = ours(&aws).await;
    assert_eq!(before.pools, 2);
    assert!(
        before.role && before.repository && before.runtime && before.log_group,
        "{before:?}"
    );

    // Without a terminal and without --yes: refused before any call.
    moto.start_recording();
    let refused = project.infra(&moto, &["destroy"]).expect(1);
    assert!(
        refused.stderr.contains("destroy needs confirmation"),
        "{}",
        refused.stderr
    );
    assert_eq!(moto.operations(), Vec::<String>::new());

    // No secret value is needed, or shown.
    let destroy = project
        .infra_env_without(&moto, &["destroy", "--yes"], &[], &SECRETS)
        .expect(0);
    let all = format!("{}{}", destroy.stdout, destroy.stderr);
    for secret in [PASSWORD, OPENAI_KEY] {
        assert!(!all.contains(secret));
    }
    assert!(
        destroy.stdout.contains("Destroy: 10 to delete."),
        "{}",
        destroy.stdout
    );
    assert!(
        destroy
            .stdout
            .contains("  - agentcore_runtime.web_search_mcp"),
        "{}",
        destroy.stdout
    );
    assert!(
        destroy.stdout.contains(&format!(
            "cognito_user_pool.MCPServerPool[{foreign}] is kept: not owned by this stack (it \
             does not carry the stack's tag) [id={foreign}]"
        )),
        "{}",
        destroy.stdout
    );
    assert!(
        destroy
            .stdout
            .contains("Destroy complete! 10 of 10 deleted."),
        "{}",
        destroy.stdout
    );
    assert!(
        destroy.stdout.contains(&format!(
            "  kept: cognito_user_pool.MCPServerPool[{foreign}] (not owned"
        )),
        "{}",
        destroy.stdout
    );

    // Read back: only the foreign pool is left of the names; the second stack is whole.
    assert_eq!(
        ours(&aws).await,
        Left {
            pools: 1,
            ..NOTHING
        }
    );
    assert_eq!(aws.pool_ids(POOL).await, vec![foreign]);
    let theirs = left(
        &aws,
        "OtherPool",
        "agentcore-other-mcp-role",
        "other-mcp",
        "other_mcp",
        "other-mcp",
    )
    .await;
    assert_eq!(
        theirs,
        Left {
            pools: 1,
            role: true,
            repository: true,
            runtime: true,
            secrets: 1,
            log_group: false
        }
    );
    other
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);

    // A second destroy: nothing to do, no write.
    moto.start_recording();
    let again = project
        .infra_env_without(&moto, &["destroy", "--yes"], &[], &SECRETS)
        .expect(0);
    assert!(
        again.stdout.contains("Nothing to destroy"),
        "{}",
        again.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_foreign_same_named_role_and_repository_are_kept_and_reported() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.iam
        .create_role()
        .role_name(ROLE)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    aws.ecr
        .create_repository()
        .repository_name(REPOSITORY)
        .send()
        .await
        .unwrap();
    let project = Project::from_repo(|s| s);
    moto.start_recording();
    let destroy = project
        .infra(&moto, &["destroy", "--yes", "--json"])
        .expect(0);
    assert_eq!(moto.writes(), Vec::<String>::new());
    let report: serde_json::Value = serde_json::from_str(&destroy.stdout).unwrap();
    let kept: Vec<&str> = report["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        kept,
        [
            format!("ecr_repository.{REPOSITORY}"),
            format!("iam_role.{ROLE}")
        ]
    );
    assert!(
        report["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not owned by this stack")
    );
    assert_eq!(report["complete"], true);
    assert!(aws.iam.get_role().role_name(ROLE).send().await.is_ok());
}

#[tokio::test]
async fn protect_refuses_before_anything_is_deleted() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| {
        s.replacen(
            &format!("name = \"{ROLE}\"\n"),
            &format!("name = \"{ROLE}\"\nprotect = true\n"),
            1,
        )
    });
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    moto.start_recording();
    let destroy = project.infra(&moto, &["destroy", "--yes"]).expect(1);
    assert!(
        destroy.stdout.contains(&format!(
            "✗ iam_role.{ROLE}: protect: protect = true in [iam.role]: destroy deletes nothing \
             while it is set"
        )),
        "{}",
        destroy.stdout
    );
    assert!(destroy.stdout.contains("Nothing was deleted."));
    assert_eq!(moto.writes(), Vec::<String>::new());
    let still = ours(&aws).await;
    assert!(still.role && still.runtime && still.repository && still.pools == 1);
}

#[tokio::test]
async fn a_repository_with_an_image_the_stack_did_not_push_is_kept_unless_forced() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    // Someone pushes a tagged image into the stack's repository.
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "layers": []
    });
    aws.ecr
        .put_image()
        .repository_name(REPOSITORY)
        .image_manifest(manifest.to_string())
        .image_tag("theirs")
        .send()
        .await
        .unwrap();

    // And an image infra pushed: by digest, untagged.
    put_image(&aws, REPOSITORY, None).await;
    let destroy = project.infra(&moto, &["destroy", "--yes"]).expect(0);
    assert!(
        destroy.stdout.contains(&format!(
            "# image.{REPOSITORY} will be destroyed: the 1 untagged image(s) infra pushed"
        )),
        "{}",
        destroy.stdout
    );
    let left_images = aws
        .ecr
        .list_images()
        .repository_name(REPOSITORY)
        .send()
        .await
        .unwrap();
    let tags: Vec<Option<&str>> = left_images
        .image_ids()
        .iter()
        .map(|i| i.image_tag())
        .collect();
    assert_eq!(tags, [Some("theirs")], "only someone else's image is left");
    assert!(
        destroy.stdout.contains(&format!(
            "ecr_repository.{REPOSITORY} is kept: holds 1 image(s) this stack did not push \
             (tagged theirs); --force-delete-images deletes the repository with them"
        )),
        "{}",
        destroy.stdout
    );
    let left_over = ours(&aws).await;
    assert_eq!(
        left_over,
        Left {
            repository: true,
            ..NOTHING
        }
    );

    let forced = project
        .infra(&moto, &["destroy", "--yes", "--force-delete-images"])
        .expect(0);
    assert!(
        forced.stdout.contains("Destroy complete! 1 of 1 deleted."),
        "{}",
        forced.stdout
    );
    assert_eq!(ours(&aws).await, NOTHING);
}

/// Killed right after its k-th delete, for every k, then run again: the second run finishes.
#[tokio::test]
async fn destroy_killed_after_any_delete_is_finished_by_a_second_destroy() {
    let moto = Moto::start();
    let project = Project::from_repo(with_log_group);

    // How many writes a whole destroy makes.
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    moto.start_recording();
    project.infra(&moto, &["destroy", "--yes"]).expect(0);
    let writes = moto.writes().len();
    assert!(writes >= 10, "{:?}", moto.writes());

    for k in 1..writes {
        // A fresh account each time: a destroyed secret is only scheduled for deletion, and a
        // re-apply of the same name would (rightly) refuse it.
        let moto = Moto::start();
        let aws = Aws::new(&moto).await;
        let proxy = FaultProxy::start(moto.port, Mode::Pass);
        project.infra(&moto, &["apply", "--yes"]).expect(0);
        proxy.set_mode(Mode::HoldWritesAfter(k));
        let log = project.dir.path().join(format!("destroy-{k}.log"));
        let mut child = project.spawn_at(&proxy.endpoint, &["destroy", "--yes"], &log);
        let reached = proxy.wait_for_writes(k, &mut child, Duration::from_secs(60));
        assert!(
            reached,
            "k={k}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(proxy.forwarded_writes().len(), k);
        proxy.set_mode(Mode::Pass);

        let again = project.infra(&moto, &["destroy", "--yes"]);
        assert_eq!(again.code, 0, "k={k}:\n{}{}", again.stdout, again.stderr);
        assert_eq!(ours(&aws).await, NOTHING, "k={k}:\n{}", again.stdout);
    }
}

#[tokio::test]
async fn permissions_destroy_prints_the_deletes_and_no_other_write() {
    let moto = Moto::start();
    let project = Project::from_repo(with_log_group);
    let run = project
        .infra_env_without(&moto, &["permissions", "destroy", "--json"], &[], &SECRETS)
        .expect(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed["command"], "destroy");
    let actions: Vec<&str> = printed["policy"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
        })
        .collect();
    for delete in [
        "bedrock-agentcore:DeleteAgentRuntime",
        "ecr:BatchDeleteImage",
        "ecr:DeleteRepository",
        "logs:DeleteLogGroup",
        "iam:DeleteRolePolicy",
        "iam:DeleteRole",
        "cognito-idp:AdminDeleteUser",
        "cognito-idp:DeleteUserPoolClient",
        "cognito-idp:DeleteUserPool",
        "secretsmanager:DeleteSecret",
    ] {
        assert!(actions.contains(&delete), "{delete}: {actions:?}");
    }
    for not_needed in [
        "iam:CreateRole",
        "iam:PassRole",
        "secretsmanager:GetSecretValue",
        "cognito-idp:InitiateAuth",
        "bedrock-agentcore:CreateAgentRuntime",
    ] {
        assert!(!actions.contains(&not_needed), "{not_needed}: {actions:?}");
    }
}

/// A pool renamed in the stack file: the old one, still tagged for the stack, is listed as no
/// longer declared and kept; `apply --prune` deletes it once the runtime uses the new one.
#[tokio::test]
async fn a_renamed_pool_is_listed_as_no_longer_declared_and_deleted_by_apply_prune() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let old = aws.pool_ids(POOL).await;
    assert_eq!(old.len(), 1);
    project.edit_stack(|s| s.replace("name = \"MCPServerPool\"", "name = \"RenamedPool\""));

    let plan = project.infra(&moto, &["plan"]).expect(0);
    let listed = format!(
        "  - cognito_user_pool.MCPServerPool (no longer declared; apply --prune deletes it) [id={}]",
        old[0]
    );
    assert!(plan.stdout.contains(&listed), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("+ cognito_user_pool.RenamedPool"),
        "{}",
        plan.stdout
    );
    // The runtime's authorizer moves: the old pool's tokens stop working, and the plan says so.
    assert!(
        plan.stdout.contains(&format!(
            "# note: the JWT authorizer moves to another user pool: access tokens issued by the \
             old pool (https://cognito-idp.us-west-2.amazonaws.com/{}) stop working",
            old[0]
        )),
        "{}",
        plan.stdout
    );
    let json = project.infra(&moto, &["plan", "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let undeclared: Vec<&serde_json::Value> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["undeclared"] == true)
        .collect();
    assert_eq!(undeclared.len(), 1);
    assert_eq!(undeclared[0]["action"], "no-op");

    // Without --prune: kept.
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(aws.pool_ids(POOL).await, old);
    let again = project.infra(&moto, &["plan"]).expect(0);
    assert!(again.stdout.contains(&listed), "{}", again.stdout);

    // With --prune: deleted, and the next plan is empty.
    let pruned = project
        .infra(&moto, &["apply", "--yes", "--prune"])
        .expect(0);
    assert!(
        pruned
            .stdout
            .contains("cognito_user_pool.MCPServerPool: Destruction complete"),
        "{}",
        pruned.stdout
    );
    assert!(aws.pool_ids(POOL).await.is_empty());
    assert_eq!(aws.pool_ids("RenamedPool").await.len(), 1);
    let last = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
    assert!(
        !last.stdout.contains("no longer declared"),
        "{}",
        last.stdout
    );
}

/// On a terminal destroy asks, and only `yes` deletes.
#[tokio::test]
async fn on_a_terminal_destroy_asks_first_and_only_yes_deletes() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);

    moto.start_recording();
    let no = project
        .infra_on_terminal(&moto, "destroy", "no\n", &[("NO_COLOR", "1")])
        .expect(1);
    assert!(
        no.stdout.contains(
            "Do you really want to destroy every resource listed above of the stack web-search-mcp?"
        ),
        "{}",
        no.stdout
    );
    assert!(
        no.stdout
            .contains("Destroy cancelled; nothing was deleted."),
        "{}",
        no.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
    assert!(ours(&aws).await.runtime);

    let yes = project
        .infra_on_terminal(&moto, "destroy", "yes\n", &[("NO_COLOR", "1")])
        .expect(0);
    assert!(
        yes.stdout.contains("Destroy complete! 9 of 9 deleted."),
        "{}",
        yes.stdout
    );
    assert_eq!(ours(&aws).await, NOTHING);
}

/// A renamed repository: the old one is listed as no longer declared; `apply --prune` deletes
/// it with the untagged images infra pushed, and keeps (and says so) one holding a tagged image.
#[tokio::test]
async fn a_renamed_repository_is_pruned_with_its_pushed_images_unless_it_holds_someone_elses() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    // An image infra pushed (by digest, untagged) into the repository about to be renamed.
    put_image(&aws, REPOSITORY, None).await;
    project.edit_stack(|s| {
        s.replacen(
            &format!("[ecr.repository]\nname = \"{REPOSITORY}\""),
            "[ecr.repository]\nname = \"renamed-mcp\"",
            1,
        )
    });
    let plan = project.infra(&moto, &["plan"]).expect(0);
    assert!(
        plan.stdout.contains(&format!(
            "  - ecr_repository.{REPOSITORY} (no longer declared; apply --prune deletes it)"
        )),
        "{}",
        plan.stdout
    );
    project
        .infra(&moto, &["apply", "--yes", "--prune"])
        .expect(0);
    let exists = |name: &'static str| {
        let ecr = aws.ecr.clone();
        async move {
            ecr.describe_repositories()
                .repository_names(name)
                .send()
                .await
                .is_ok()
        }
    };
    assert!(!exists(REPOSITORY).await);
    assert!(exists("renamed-mcp").await);

    // Renamed again, with someone's tagged image in it: listed, kept, and --prune keeps it.
    put_image(&aws, "renamed-mcp", Some("theirs")).await;
    project.edit_stack(|s| s.replace("name = \"renamed-mcp\"", "name = \"third-mcp\""));
    let pruned = project
        .infra(&moto, &["apply", "--yes", "--prune"])
        .expect(0);
    assert!(
        pruned.stdout.contains(
            "  - ecr_repository.renamed-mcp (no longer declared; kept: holds 1 image(s) this \
             stack did not push (tagged theirs); delete them to let it go)"
        ),
        "{}",
        pruned.stdout
    );
    assert!(exists("renamed-mcp").await);
}

/// Put an image into a repository through ECR's API: tagged, or by digest alone.
async fn put_image(aws: &Aws, repository: &str, tag: Option<&str>) {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": format!("sha256:{:064x}", tag.map_or(1, |t| t.len()))},
        "layers": []
    });
    aws.ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest.to_string())
        .set_image_tag(tag.map(str::to_owned))
        .send()
        .await
        .unwrap();
}
