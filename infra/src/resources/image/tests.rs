//! Plan tests for this kind, against in-memory live state (no AWS, no process).
//!
//! The image is built before anything is read; what the registry said of its digest decides
//! the plan. A prebuilt `uri` is not a resource of this kind: the runtime just runs it, unless
//! it is pinned by digest in the stack's repository and the registry lacks that digest.

use serde_json::json;

use super::*;
use crate::container::ImageFormat;
use crate::engine::{Plan, Shown};
use crate::resources::testing::*;

const IMAGE: &str = "image.server";

/// A repository and the image built into it, for the snapshots.
const A_BUILT_IMAGE: &str = r#"
[stack]
name = "demo"

[ecr.repository]
name = "demo"

[image]
build = "server"
"#;

/// The converged stack, where the build produced `digest` and the registry has it or not.
fn built(stack: &Stack, digest: &str, in_registry: bool) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<Image>(|image| {
            let (artifact, registry_has_it) = image.built.as_mut().expect("a built image");
            *artifact = artifact_for(digest, artifact.platform);
            *registry_has_it = in_registry;
        })
        .build();
    plan_of(stack, &live)
}

fn artifact_for(digest: &str, platform: Platform) -> Arc<Artifact> {
    artifact("server", platform, digest)
}

#[test]
fn from_nothing_the_built_image_is_pushed_after_its_repository_is_created() {
    let stack = stack(STACK);
    let live = LiveBuilder::new()
        .with::<Image>(LiveImage {
            built: Some((artifact_for(DIGEST, Platform::LinuxArm64), false)),
            tag_digest: None,
            pinned: None,
        })
        .build();
    let plan = plan_of(&stack, &live);
    let image = resource(&plan, IMAGE);
    assert_eq!(image.action, Action::Create);
    assert_eq!(
        image.reason,
        "built from the workspace; the registry lacks this digest"
    );
    assert_eq!(image.id, None);
    assert_eq!(
        fields(image),
        ["digest", "platform", "format", "compressed_bytes"]
    );
    assert_eq!(change(image, "digest").after, Shown::Value(json!(DIGEST)));
    assert_eq!(
        change(image, "platform").after,
        Shown::Value(json!("linux/arm64"))
    );
    assert_eq!(change(image, "format").after, Shown::Value(json!("docker")));
    assert_eq!(
        change(image, "compressed_bytes").after,
        Shown::Value(json!(11_500))
    );
    assert_eq!(image.depends_on, ["ecr_repository.demo"]);
}

#[test]
fn an_image_the_registry_already_has_is_not_pushed_again() {
    let stack = stack(STACK);
    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    let image = resource(&plan, IMAGE);
    assert_eq!(image.action, Action::NoOp);
    assert_eq!(image.reason, "the registry has this digest");
    assert_eq!(image.id.as_deref(), Some(DIGEST));
    assert!(image.changes.is_empty());
}

#[test]
fn a_new_build_the_registry_lacks_is_pushed_and_the_runtime_moves_to_its_digest() {
    let plan = built(&stack(STACK), NEW_DIGEST, false);
    let image = resource(&plan, IMAGE);
    assert_eq!(image.action, Action::Create);
    assert_eq!(
        change(image, "digest").after,
        Shown::Value(json!(NEW_DIGEST))
    );
    let runtime = resource(&plan, "agentcore_runtime.demo_mcp");
    assert_eq!(fields(runtime), ["container_uri"]);
    assert_eq!(
        change(runtime, "container_uri").after,
        Shown::Value(json!(format!(
            "111122223333.dkr.ecr.us-west-2.amazonaws.com/demo@{NEW_DIGEST}"
        )))
    );
}

#[test]
fn an_image_built_for_amd64_says_so() {
    // Only without [runtime]: AgentCore Runtime runs linux/arm64 alone.
    let stack = stack(&A_BUILT_IMAGE.replace(
        "build = \"server\"",
        "build = \"server\"\nplatform = \"linux/amd64\"",
    ));
    let live = LiveBuilder::new()
        .with::<Image>(LiveImage {
            built: Some((artifact_for(DIGEST, Platform::LinuxAmd64), false)),
            tag_digest: None,
            pinned: None,
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(
        change(resource(&plan, IMAGE), "platform").after,
        Shown::Value(json!("linux/amd64"))
    );
}

#[test]
fn a_prebuilt_uri_is_not_an_image_to_push() {
    let stack = stack(&STACK.replace(
        "build = \"server\"",
        "uri = \"public.ecr.aws/demo/server:1.0\"",
    ));
    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    assert!(plan.resources.iter().all(|r| r.type_name != Image::TYPE));
    assert!(!plan.has_changes());
}

#[test]
fn no_image_is_pushed_into_a_foreign_repository() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<Repository>(|repository| {
            let repository = found(repository);
            repository.owned = false;
            repository.tags.clear();
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [("ecr_repository.demo", None)]);
    assert!(plan.resource(IMAGE).is_none());
}

#[test]
fn only_a_tag_in_the_stacks_repository_is_resolved_to_a_digest() {
    let repository = "111122223333.dkr.ecr.us-west-2.amazonaws.com/demo";
    let uri = |template: &str| {
        stack(&STACK.replace("build = \"server\"", &format!("uri = \"{template}\"")))
    };
    let tagged = uri("${repository_uri}:v1");
    assert_eq!(
        tag_in_repository(&tagged, &format!("{repository}:v1"), repository),
        Some("v1")
    );
    let pinned = format!("{repository}@{DIGEST}");
    let by_digest = uri(
        "${repository_uri}@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    );
    assert_eq!(tag_in_repository(&by_digest, &pinned, repository), None);
    let elsewhere = uri("public.ecr.aws/demo/server:1.0");
    assert_eq!(
        tag_in_repository(&elsewhere, "public.ecr.aws/demo/server:1.0", repository),
        None
    );
    // A built image is pushed by digest: there is no tag to resolve.
    let building = stack(STACK);
    assert_eq!(
        tag_in_repository(&building, &format!("{repository}:v1"), repository),
        None
    );
}

#[test]
fn snapshot_of_the_plan_that_creates_the_repository_and_pushes_the_image() {
    let live = LiveBuilder::new()
        .with::<Image>(LiveImage {
            built: Some((artifact_for(DIGEST, Platform::LinuxArm64), false)),
            tag_digest: None,
            pinned: None,
        })
        .build();
    let plan = plan_of(&stack(A_BUILT_IMAGE), &live);
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_new_build() {
    let plan = built(&stack(A_BUILT_IMAGE), NEW_DIGEST, false);
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

/// [`STACK`] running `uri` (a template) instead of building.
fn running(uri: &str) -> Stack {
    stack(&STACK.replace("build = \"server\"", &format!("uri = \"{uri}\"")))
}

/// [`running`] `${repository_uri}@DIGEST`, converged; the read found the registry has the
/// digest or not.
fn pinned(registry_has_it: bool) -> (Stack, Plan) {
    let stack = running(&format!("${{repository_uri}}@{DIGEST}"));
    let live = LiveBuilder::converged(&stack)
        .edit::<Image>(|image| image.pinned = Some((DIGEST.into(), registry_has_it)))
        .build();
    let plan = plan_of(&stack, &live);
    (stack, plan)
}

#[test]
fn a_digest_pinned_in_the_stacks_repository_that_the_registry_has_changes_nothing() {
    let (_, plan) = pinned(true);
    assert_eq!(blockers(&plan), []);
    assert!(!plan.has_changes());
    assert!(plan.resources.iter().all(|r| r.type_name != Image::TYPE));
}

#[test]
fn a_digest_pinned_in_the_stacks_repository_that_the_registry_lacks_blocks_the_plan() {
    let (_, plan) = pinned(false);
    assert_eq!(blockers(&plan), [("image", Some("uri"))]);
    let message = &plan.blockers[0].message;
    for expected in [
        DIGEST,
        "is not in the repository demo (111122223333.dkr.ecr.us-west-2.amazonaws.com/demo)",
        "Its lifecycle policy (keep_images = 5) may have expired it",
        "Push that image to the repository again, or change [image] uri",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message}");
    }
    // The runtime already runs it: nothing else to say.
    assert!(!plan.has_changes());

    // Without a lifecycle policy, none is blamed.
    let stack = stack(&STACK.replace("keep_images = 5\n", "").replace(
        "build = \"server\"",
        &format!("uri = \"${{repository_uri}}@{DIGEST}\""),
    ));
    let live = LiveBuilder::converged(&stack)
        .edit::<Image>(|image| image.pinned = Some((DIGEST.into(), false)))
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [("image", Some("uri"))]);
    assert!(
        !plan.blockers[0].message.contains("lifecycle"),
        "{}",
        plan.blockers[0].message
    );
}

#[test]
fn from_empty_a_pinned_digest_plans_the_repository_and_a_runtime_that_runs_it() {
    // From empty there is no repository to ask (`read` leaves `pinned` unset; the e2e test in
    // tests/image.rs shows no registry is asked): the plan creates the repository and a runtime
    // that runs the pinned digest.
    let stack = running(&format!("${{repository_uri}}@{DIGEST}"));
    let plan = plan_of(&stack, &LiveBuilder::new().build());
    assert_eq!(blockers(&plan), []);
    assert_eq!(
        resource(&plan, "ecr_repository.demo").action,
        Action::Create
    );
    assert_eq!(
        change(
            resource(&plan, "agentcore_runtime.demo_mcp"),
            "container_uri"
        )
        .after,
        Shown::Value(json!(format!(
            "111122223333.dkr.ecr.us-west-2.amazonaws.com/demo@{DIGEST}"
        )))
    );
}

#[test]
fn only_a_digest_in_the_stacks_repository_is_checked() {
    let repository = "111122223333.dkr.ecr.us-west-2.amazonaws.com/demo";
    let check = |template: &str| {
        let stack = running(template);
        let rendered = template.replace("${repository_uri}", repository);
        digest_in_repository(&stack, &rendered, repository).map(str::to_owned)
    };
    assert_eq!(
        check(&format!("${{repository_uri}}@{DIGEST}")).as_deref(),
        Some(DIGEST)
    );
    assert_eq!(
        check(&format!("${{repository_uri}}:v1@{DIGEST}")).as_deref(),
        Some(DIGEST)
    );
    // Written out rather than through the placeholder: the same repository.
    assert_eq!(
        check(&format!("{repository}@{DIGEST}")).as_deref(),
        Some(DIGEST)
    );
    assert_eq!(check("${repository_uri}:v1"), None);
    // Another repository whose name starts with the stack's, another account, another registry.
    assert_eq!(check(&format!("{repository}-prebuilt@{DIGEST}")), None);
    assert_eq!(
        check(&format!(
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/demo@{DIGEST}"
        )),
        None
    );
    assert_eq!(check(&format!("public.ecr.aws/demo/server@{DIGEST}")), None);
    // A built image is not a uri to check.
    let building = stack(STACK);
    let uri = format!("{repository}@{DIGEST}");
    assert_eq!(digest_in_repository(&building, &uri, repository), None);
}

/// A repository with a lifecycle policy, and an image pinned by digest in it.
const A_PINNED_IMAGE: &str = r#"
[stack]
name = "demo"

[ecr.repository]
name = "demo"
keep_images = 5

[image]
uri = "${repository_uri}@sha256:1111111111111111111111111111111111111111111111111111111111111111"
"#;

#[test]
fn snapshot_of_the_plan_for_a_pinned_digest_the_registry_lacks() {
    let stack = stack(A_PINNED_IMAGE);
    let live = LiveBuilder::converged(&stack)
        .edit::<Image>(|image| image.pinned = Some((DIGEST.into(), false)))
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [("image", Some("uri"))]);
    insta::assert_snapshot!("missing_digest_text", text(&plan));
    insta::assert_snapshot!("missing_digest_json", json(&plan));
}

/// `[image]` of [`A_BUILT_IMAGE`] with `line` added, parsed.
fn with_image_line(line: &str) -> Result<Stack, String> {
    let text = A_BUILT_IMAGE.replace("build = \"server\"", &format!("build = \"server\"\n{line}"));
    crate::registry::parse_stack(std::path::Path::new("stack.toml"), &text, &|_| None)
        .map_err(|e| e.to_string())
}

fn format_of(stack: &Stack) -> Option<ImageFormat> {
    match stack.one::<Image>() {
        Some(ImageSpec::Build { format, .. }) => Some(*format),
        _ => None,
    }
}

#[test]
fn the_format_is_docker_unless_the_stack_says_oci() {
    assert_eq!(format_of(&stack(A_BUILT_IMAGE)), Some(ImageFormat::Docker));
    let docker = with_image_line("format = \"docker\"").unwrap();
    assert_eq!(format_of(&docker), Some(ImageFormat::Docker));
    let oci = with_image_line("format = \"oci\"").unwrap();
    assert_eq!(format_of(&oci), Some(ImageFormat::Oci));
}

#[test]
fn an_unknown_format_is_refused_with_its_position_and_the_allowed_values() {
    let error = with_image_line("format = \"OCI\"").unwrap_err();
    assert_eq!(
        error.lines().next().unwrap(),
        "stack.toml:10:10: image.format: \"OCI\" is not an image format; allowed: \"docker\" \
         (the default: Docker image manifest v2 schema 2), \"oci\" (OCI image manifest v1)"
    );
    assert!(error.contains("format = \"OCI\""), "{error}");
    let error = with_image_line("format = 2").unwrap_err();
    assert!(
        error.starts_with(
            "stack.toml:10:10: image.format: expected \"docker\" or \"oci\"; found the integer 2"
        ),
        "{error}"
    );
}

#[test]
fn a_format_with_a_prebuilt_uri_is_refused() {
    let text = A_BUILT_IMAGE.replace(
        "build = \"server\"",
        "uri = \"${repository_uri}:v1\"\nformat = \"oci\"",
    );
    let error = crate::registry::parse_stack(std::path::Path::new("stack.toml"), &text, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("stack.toml:10:10: image.format: only with build = \"...\""),
        "{error}"
    );
}

#[test]
fn the_artifact_is_assembled_in_the_declared_format() {
    let binary = b"the server binary";
    let docker = assemble(&stack(A_BUILT_IMAGE), binary).unwrap().unwrap();
    let oci = assemble(&with_image_line("format = \"oci\"").unwrap(), binary)
        .unwrap()
        .unwrap();
    assert_eq!(docker.image.format(), Some(ImageFormat::Docker));
    assert_eq!(
        docker.image.media_type().as_deref(),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
    assert_eq!(oci.image.format(), Some(ImageFormat::Oci));
    assert_eq!(
        oci.image.media_type().as_deref(),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    // The digest the plan shows is the declared format's, and the same on every build.
    assert_ne!(docker.image.digest, oci.image.digest);
    let again = assemble(&with_image_line("format = \"oci\"").unwrap(), binary)
        .unwrap()
        .unwrap();
    assert_eq!(again.image.digest, oci.image.digest);
    // No [image] build, nothing to assemble.
    let prebuilt = A_BUILT_IMAGE.replace("build = \"server\"", "uri = \"${repository_uri}:v1\"");
    assert!(assemble(&stack(&prebuilt), binary).unwrap().is_none());
}

#[test]
fn an_oci_image_says_so_in_the_plan() {
    let stack = with_image_line("format = \"oci\"").unwrap();
    let live = LiveBuilder::new()
        .with::<Image>(LiveImage {
            built: Some((artifact_for(DIGEST, Platform::LinuxArm64), false)),
            tag_digest: None,
            pinned: None,
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(
        change(resource(&plan, IMAGE), "format").after,
        Shown::Value(json!("oci"))
    );
}

/// Apply against mocked ECR, as far as it goes in process: the push authenticates with ECR
/// first (the push itself needs a registry over HTTPS; `tests/image.rs` covers it).
mod apply {
    use aws_sdk_ecr::Client as Ecr;
    use aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenOutput;
    use aws_sdk_ecr::types::AuthorizationData;

    use super::*;
    use crate::resources::mocked::*;

    /// Push the built image the registry lacks, into the existing repository.
    async fn push(rules: &[&Rule]) -> Applied {
        assert!(
            std::env::var_os(REGISTRY_OVERRIDE).is_none(),
            "these tests authenticate with ECR: unset ${REGISTRY_OVERRIDE}"
        );
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<Image>(|image| image.built.as_mut().expect("a built image").1 = false)
            .build();
        apply_mocked::<Image>(&stack, &live, IMAGE, rules).await
    }

    #[tokio::test]
    async fn a_push_ecr_refuses_to_authenticate_names_the_image_the_operation_and_aws_message() {
        let message = "User is not authorized to perform: ecr:GetAuthorizationToken";
        let token = mock!(Ecr::get_authorization_token)
            .then_error(move || aws_error("AccessDeniedException", message));
        let applied = push(&[&token]).await;
        assert_failed(
            &applied,
            IMAGE,
            "GetAuthorizationToken",
            "AccessDeniedException",
            message,
        );
    }

    #[tokio::test]
    async fn an_ecr_token_without_user_and_password_is_an_error_before_any_upload() {
        let token = mock!(Ecr::get_authorization_token).then_output(|| {
            let data = AuthorizationData::builder().authorization_token("bm90LWEtcGFpcg==");
            GetAuthorizationTokenOutput::builder()
                .authorization_data(data.build())
                .build()
        });
        let applied = push(&[&token]).await;
        assert_eq!(
            applied.error().to_string(),
            "image.server: GetAuthorizationToken failed: ECR returned no usable token"
        );
    }
}
