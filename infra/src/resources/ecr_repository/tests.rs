//! Plan tests for this kind, against in-memory live state (no AWS, no process).

use serde_json::json;

use super::*;
use crate::engine::{Action, Plan, Shown};
use crate::resources::testing::*;
use crate::stack::Stack;

const REPOSITORY: &str = "ecr_repository.demo";
const URI: &str = "111122223333.dkr.ecr.us-west-2.amazonaws.com/demo";

/// A repository alone, for the snapshots.
const A_REPOSITORY: &str = r#"
[stack]
name = "demo"

[ecr.repository]
name = "demo"
image_tag_mutability = "IMMUTABLE"
scan_on_push = true
keep_images = 10
"#;

/// The converged stack, with the live repository changed by `drift`.
fn drifted(stack: &Stack, drift: impl FnOnce(&mut LiveRepository)) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<Repository>(|repository| drift(found(repository)))
        .build();
    plan_of(stack, &live)
}

#[test]
fn from_nothing_the_repository_is_created_with_its_settings_and_lifecycle_policy() {
    let plan = plan_of(&stack(STACK), &LiveBuilder::new().build());
    let repository = resource(&plan, REPOSITORY);
    assert_eq!(repository.action, Action::Create);
    assert_eq!(repository.reason, "does not exist");
    assert_eq!(
        fields(repository),
        [
            "image_tag_mutability",
            "scan_on_push",
            "encryption",
            "lifecycle_policy",
            "tags"
        ]
    );
    assert_eq!(
        change(repository, "image_tag_mutability").after,
        Shown::Value(json!("MUTABLE"))
    );
    assert_eq!(
        change(repository, "encryption").after,
        Shown::Value(json!("AES256"))
    );
    assert_eq!(
        change(repository, "lifecycle_policy").after,
        Shown::Document(lifecycle_policy(5))
    );
    assert!(repository.depends_on.is_empty());
}

#[test]
fn without_keep_images_no_lifecycle_policy_is_managed() {
    let stack = stack(&STACK.replace("keep_images = 5\n", ""));
    let plan = plan_of(&stack, &LiveBuilder::new().build());
    assert!(!fields(resource(&plan, REPOSITORY)).contains(&"lifecycle_policy"));

    // A policy set in AWS is then left alone.
    let plan = drifted(&stack, |r| r.lifecycle_policy = Some(lifecycle_policy(3)));
    assert_eq!(resource(&plan, REPOSITORY).action, Action::NoOp);
}

#[test]
fn a_converged_repository_plans_nothing_and_is_known_by_its_uri() {
    let stack = stack(STACK);
    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    let repository = resource(&plan, REPOSITORY);
    assert_eq!(repository.action, Action::NoOp);
    assert_eq!(repository.id.as_deref(), Some(URI));
    assert!(repository.changes.is_empty(), "{:?}", repository.changes);
}

#[test]
fn drifted_tag_mutability_is_updated_in_place() {
    let plan = drifted(&stack(STACK), |r| {
        r.image_tag_mutability = "IMMUTABLE".into()
    });
    let repository = resource(&plan, REPOSITORY);
    assert_eq!(repository.action, Action::Update);
    assert_eq!(repository.id.as_deref(), Some(URI));
    assert_eq!(fields(repository), ["image_tag_mutability"]);
    assert_eq!(
        change(repository, "image_tag_mutability").before,
        Shown::Value(json!("IMMUTABLE"))
    );
    assert_eq!(
        change(repository, "image_tag_mutability").after,
        Shown::Value(json!("MUTABLE"))
    );
}

#[test]
fn drifted_scan_on_push_is_updated_in_place() {
    let plan = drifted(&stack(STACK), |r| r.scan_on_push = true);
    let repository = resource(&plan, REPOSITORY);
    assert_eq!(repository.action, Action::Update);
    assert_eq!(fields(repository), ["scan_on_push"]);
    assert_eq!(
        change(repository, "scan_on_push").before,
        Shown::Value(json!(true))
    );
    assert_eq!(
        change(repository, "scan_on_push").after,
        Shown::Value(json!(false))
    );
}

#[test]
fn a_drifted_or_missing_lifecycle_policy_is_put_in_place() {
    let plan = drifted(&stack(STACK), |r| {
        r.lifecycle_policy = Some(lifecycle_policy(3))
    });
    let repository = resource(&plan, REPOSITORY);
    assert_eq!(repository.action, Action::Update);
    assert_eq!(fields(repository), ["lifecycle_policy"]);
    assert_eq!(
        change(repository, "lifecycle_policy").before,
        Shown::Document(lifecycle_policy(3))
    );
    assert_eq!(
        change(repository, "lifecycle_policy").after,
        Shown::Document(lifecycle_policy(5))
    );

    let plan = drifted(&stack(STACK), |r| r.lifecycle_policy = None);
    let policy = change(resource(&plan, REPOSITORY), "lifecycle_policy");
    assert_eq!(policy.before, Shown::Absent);
    assert_eq!(policy.after, Shown::Document(lifecycle_policy(5)));
}

#[test]
fn a_missing_stack_tag_is_restored() {
    let plan = drifted(&stack(STACK), |r| {
        r.tags.remove("infra:managed-by");
    });
    let repository = resource(&plan, REPOSITORY);
    assert_eq!(fields(repository), ["tags"]);
    assert_eq!(
        change(repository, "tags").after,
        Shown::Value(json!({"infra:managed-by": "infra"}))
    );
}

#[test]
fn ecr_fixes_encryption_at_creation_so_a_difference_is_a_blocker() {
    let plan = drifted(&stack(STACK), |r| {
        r.encryption = "KMS".into();
        r.kms_key = Some("arn:aws:kms:us-west-2:111122223333:key/k1".into());
    });
    assert_eq!(blockers(&plan), [(REPOSITORY, Some("encryption"))]);
    assert!(
        plan.blockers[0].message.starts_with(
            "is KMS (arn:aws:kms:us-west-2:111122223333:key/k1) in AWS and AES256 in the stack; \
             ECR fixes a repository's encryption at creation"
        ),
        "{}",
        plan.blockers[0].message
    );
}

#[test]
fn another_kms_key_is_a_blocker_too() {
    let stack = stack(&STACK.replace(
        "keep_images = 5",
        "keep_images = 5\nencryption = \"KMS\"\nkms_key = \"key-a\"",
    ));
    let plan = drifted(&stack, |r| r.kms_key = Some("key-b".into()));
    assert_eq!(blockers(&plan), [(REPOSITORY, Some("encryption"))]);
    assert!(
        plan.blockers[0]
            .message
            .starts_with("is KMS (key-b) in AWS and KMS (key-a) in the stack"),
        "{}",
        plan.blockers[0].message
    );
}

#[test]
fn a_same_named_repository_without_the_stack_tag_blocks_it_the_image_and_the_runtime() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<Repository>(|repository| {
            let repository = found(repository);
            repository.owned = false;
            repository.tags.clear();
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(REPOSITORY, None)]);
    assert!(
        plan.blockers[0].message.starts_with(
            "an ECR repository with this name already exists \
             (arn:aws:ecr:us-west-2:111122223333:repository/demo) but is not tagged infra:stack=demo"
        ),
        "{}",
        plan.blockers[0].message
    );
    for dependent in [REPOSITORY, "image.server", "agentcore_runtime.demo_mcp"] {
        assert!(plan.resource(dependent).is_none(), "{dependent} is planned");
    }
    assert_eq!(resource(&plan, "iam_role.role").action, Action::NoOp);
}

#[test]
fn adopting_a_foreign_repository_only_adds_the_stack_tags() {
    let stack = stack(&STACK.replace("keep_images = 5", "keep_images = 5\nadopt = true"));
    let live = LiveBuilder::converged(&stack)
        .edit::<Repository>(|repository| {
            let repository = found(repository);
            repository.owned = false;
            repository.tags = BTreeMap::new();
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let repository = resource(&plan, REPOSITORY);
    assert_eq!(repository.action, Action::Update);
    assert_eq!(repository.reason, "adopting: tags it for this stack");
    assert_eq!(repository.id.as_deref(), Some(URI));
    assert_eq!(fields(repository), ["tags"]);
    assert_eq!(
        change(repository, "tags").after,
        Shown::Value(json!({"infra:managed-by": "infra", "infra:stack": "demo"}))
    );
    assert_eq!(plan.changed().count(), 1, "only the repository changes");
}

#[test]
fn snapshot_of_the_plan_that_creates_a_repository() {
    let plan = plan_of(&stack(A_REPOSITORY), &LiveBuilder::new().build());
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_drifted_repository() {
    let plan = drifted(&stack(A_REPOSITORY), |r| {
        r.image_tag_mutability = "MUTABLE".into();
        r.scan_on_push = false;
        r.lifecycle_policy = Some(lifecycle_policy(30));
    });
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

/// Apply against mocked ECR: the calls each plan makes, and what AWS's answers lead to.
mod apply {
    use aws_sdk_ecr::Client as Ecr;
    use aws_sdk_ecr::operation::create_repository::CreateRepositoryOutput;
    use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
    use aws_sdk_ecr::operation::get_lifecycle_policy::GetLifecyclePolicyOutput;
    use aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_ecr::operation::put_image_scanning_configuration::PutImageScanningConfigurationOutput;
    use aws_sdk_ecr::operation::put_lifecycle_policy::PutLifecyclePolicyOutput;
    use aws_sdk_ecr::types::{
        ImageScanningConfiguration, ImageTagMutability, Repository as EcrRepository, Tag as EcrTag,
    };

    use super::*;
    use crate::resources::mocked::*;

    const ARN: &str = "arn:aws:ecr:us-west-2:111122223333:repository/demo";

    /// The repository as ECR describes it, scanning on push or not.
    fn described(scan_on_push: bool) -> EcrRepository {
        EcrRepository::builder()
            .repository_name("demo")
            .repository_arn(ARN)
            .repository_uri(URI)
            .image_tag_mutability(ImageTagMutability::Mutable)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(scan_on_push)
                    .build(),
            )
            .build()
    }

    /// `PutImageScanningConfiguration` turning scanning off, as the stack declares.
    fn scanning_off() -> Rule {
        mock!(Ecr::put_image_scanning_configuration)
            .match_requests(|req| {
                req.repository_name() == Some("demo")
                    && req
                        .image_scanning_configuration()
                        .is_some_and(|c| !c.scan_on_push())
            })
            .then_output(|| PutImageScanningConfigurationOutput::builder().build())
    }

    fn create_fails(code: &'static str, message: &'static str) -> Rule {
        mock!(Ecr::create_repository).then_error(move || aws_error(code, message))
    }

    #[tokio::test]
    async fn a_create_sends_the_settings_and_tags_then_puts_the_lifecycle_policy() {
        let create = mock!(Ecr::create_repository)
            .match_requests(|req| {
                req.repository_name() == Some("demo")
                    && req.image_tag_mutability() == Some(&ImageTagMutability::Mutable)
                    && req
                        .image_scanning_configuration()
                        .is_some_and(|c| !c.scan_on_push())
                    && req
                        .encryption_configuration()
                        .is_some_and(|e| e.encryption_type().as_str() == "AES256")
                    && stack_tags(req.tags().iter().map(|t| (t.key(), t.value())))
            })
            .then_output(|| {
                CreateRepositoryOutput::builder()
                    .repository(described(false))
                    .build()
            });
        let lifecycle = mock!(Ecr::put_lifecycle_policy)
            .match_requests(|req| {
                let policy = req.lifecycle_policy_text().and_then(json_of);
                req.repository_name() == Some("demo")
                    && policy.is_some_and(|p| p["rules"][0]["selection"]["countNumber"] == json!(5))
            })
            .then_output(|| PutLifecyclePolicyOutput::builder().build());
        let live = LiveBuilder::new().build();
        let applied =
            apply_mocked::<Repository>(&stack(STACK), &live, REPOSITORY, &[&create, &lifecycle])
                .await;
        assert_eq!(applied.id(), URI);
        assert_eq!((create.num_calls(), lifecycle.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn scanning_turned_on_out_of_band_is_turned_off_with_one_call() {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<Repository>(|repository| found(repository).scan_on_push = true)
            .build();
        let scanning = scanning_off();
        let applied = apply_mocked::<Repository>(&stack, &live, REPOSITORY, &[&scanning]).await;
        assert_eq!(applied.id(), URI);
        assert_eq!(scanning.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_repository_created_meanwhile_by_another_apply_is_read_and_updated_to_the_stack() {
        let create = create_fails(
            "RepositoryAlreadyExistsException",
            "The repository with name 'demo' already exists in the registry with id '111122223333'",
        );
        let describe = mock!(Ecr::describe_repositories)
            .match_requests(|req| req.repository_names() == ["demo"])
            .then_output(|| {
                DescribeRepositoriesOutput::builder()
                    .repositories(described(true))
                    .build()
            });
        let tags = mock!(Ecr::list_tags_for_resource)
            .match_requests(|req| req.resource_arn() == Some(ARN))
            .then_output(|| {
                let tag = |k, v| EcrTag::builder().key(k).value(v).build().unwrap();
                ListTagsForResourceOutput::builder()
                    .tags(tag("infra:stack", "demo"))
                    .tags(tag("infra:managed-by", "infra"))
                    .build()
            });
        let lifecycle = mock!(Ecr::get_lifecycle_policy).then_output(|| {
            GetLifecyclePolicyOutput::builder()
                .lifecycle_policy_text(lifecycle_policy(5).to_string())
                .build()
        });
        // The other apply's repository scans on push: only that is changed.
        let scanning = scanning_off();
        let rules = [&create, &describe, &tags, &lifecycle, &scanning];
        let applied = apply_mocked::<Repository>(
            &stack(STACK),
            &LiveBuilder::new().build(),
            REPOSITORY,
            &rules,
        )
        .await;
        assert_eq!(applied.id(), URI);
        assert!(
            applied.said("ecr_repository.demo: already exists, though the plan did not find it")
        );
        assert_eq!(scanning.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_create_names_the_repository_the_operation_and_aws_message() {
        let message = "The maximum number of repositories has been reached.";
        let create = create_fails("LimitExceededException", message);
        let applied = apply_mocked::<Repository>(
            &stack(STACK),
            &LiveBuilder::new().build(),
            REPOSITORY,
            &[&create],
        )
        .await;
        assert_failed(
            &applied,
            REPOSITORY,
            "CreateRepository",
            "LimitExceededException",
            message,
        );
    }
}
