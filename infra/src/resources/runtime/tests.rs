//! Plan tests for this kind, against in-memory live state (no AWS, no process).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::engine::{Action, Live, Plan};
use crate::resources::image::LiveImage;
use crate::resources::image::section::Platform;
use crate::resources::testing::{self, *};

const RUNTIME: &str = "agentcore_runtime.demo_mcp";
const REPOSITORY_URI: &str = "111122223333.dkr.ecr.us-west-2.amazonaws.com/demo";

/// A runtime of a prebuilt image behind the stack's Cognito pool, for the snapshots.
const A_RUNTIME: &str = r#"
[stack]
name = "demo"

[cognito.user_pool]
name = "Pool"

[cognito.client]
name = "Client"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[iam.role]
name = "role"

[image]
uri = "public.ecr.aws/demo/server@sha256:1111111111111111111111111111111111111111111111111111111111111111"

[runtime]
name = "demo_mcp"
description = "Web search over MCP"
authorizer = "cognito"
# The tests of plaintext variables from the environment.
allow_plaintext_secrets = true

[runtime.environment]
MODEL = "o3"
OPENAI_API_KEY = { env = "OPENAI_API_KEY" }
"#;

/// The converged stack, with the live runtime changed by `drift`.
fn drifted(stack: &Stack, drift: impl FnOnce(&mut LiveRuntime)) -> Plan {
    let live = LiveBuilder::converged(stack)
        .edit::<Runtime>(|found_runtime| drift(found(&mut found_runtime.runtime)))
        .build();
    plan_of(stack, &live)
}

/// STACK with the built image replaced by `[image] uri = "<uri>"`.
fn running(uri: &str) -> Stack {
    stack(&STACK.replace("build = \"server\"", &format!("uri = \"{uri}\"")))
}

fn value(v: Value) -> Shown {
    Shown::Value(v)
}

/// Nothing exists in AWS; the image was built (as `infra plan` always does first).
fn nothing_but_a_build() -> Live {
    LiveBuilder::new()
        .with::<Image>(LiveImage {
            built: Some((artifact("server", Platform::LinuxArm64, DIGEST), false)),
            tag_digest: None,
            pinned: None,
        })
        .build()
}

#[test]
fn from_nothing_every_resource_is_created_level_by_level_in_dependency_order() {
    let stack = stack(STACK);
    let live = nothing_but_a_build();
    let plan = plan_of(&stack, &live);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(plan.summary.create, 8);
    assert_eq!((plan.summary.update, plan.summary.delete), (0, 0));
    let levels: Vec<Vec<&str>> = crate::apply::levels(&plan)
        .iter()
        .map(|level| level.iter().map(|r| r.address.as_str()).collect())
        .collect();
    assert_eq!(
        levels,
        [
            vec![
                "cognito_user_pool.Pool",
                "iam_role.role",
                "ecr_repository.demo"
            ],
            vec![
                "cognito_user_pool_client.Client",
                "iam_role_policy.Logs",
                "image.server"
            ],
            vec!["cognito_user.alice", RUNTIME],
        ]
    );
}

#[test]
fn from_nothing_the_runtime_is_created_with_what_apply_will_learn_marked_as_such() {
    let plan = plan_of(&stack(STACK), &nothing_but_a_build());
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::Create);
    assert_eq!(runtime.reason, "does not exist");
    assert_eq!(
        fields(runtime),
        [
            "container_uri",
            "role_arn",
            "network_mode",
            "protocol",
            "description",
            "idle_timeout_seconds",
            "max_lifetime_seconds",
            "environment.MODEL",
            "environment.OPENAI_API_KEY",
            "authorizer.discovery_url",
            "authorizer.allowed_clients",
            "tags",
        ]
    );
    assert_eq!(
        change(runtime, "container_uri").after,
        value(json!(format!("{REPOSITORY_URI}@{DIGEST}")))
    );
    assert_eq!(
        change(runtime, "role_arn").after,
        value(json!("arn:aws:iam::111122223333:role/role"))
    );
    assert_eq!(
        change(runtime, "environment.MODEL").after,
        value(json!("o3"))
    );
    assert_eq!(
        change(runtime, "environment.OPENAI_API_KEY").after,
        Shown::Sensitive
    );
    // The pool and the client are created by the same apply: their ids come later.
    assert_eq!(
        change(runtime, "authorizer.discovery_url").after,
        Shown::KnownAfterApply
    );
    assert_eq!(
        change(runtime, "authorizer.allowed_clients").after,
        Shown::KnownAfterApply
    );
    assert_eq!(
        runtime.depends_on,
        [
            "cognito_user_pool.Pool",
            "cognito_user_pool_client.Client",
            "iam_role.role",
            "iam_role_policy.Logs",
            "ecr_repository.demo",
            "image.server"
        ]
    );
}

#[test]
fn a_built_image_runs_by_its_digest_in_the_stacks_repository() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .with::<Runtime>(Found::default())
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(
        change(resource(&plan, RUNTIME), "container_uri").after,
        value(json!(format!("{REPOSITORY_URI}@{DIGEST}")))
    );
}

#[test]
fn a_runtime_created_behind_an_existing_pool_and_client_trusts_exactly_them() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .with::<Runtime>(Found::default())
        .build();
    let plan = plan_of(&stack, &live);
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(
        change(runtime, "authorizer.discovery_url").after,
        value(json!(
            "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_AbC123/.well-known/openid-configuration"
        ))
    );
    assert_eq!(
        change(runtime, "authorizer.allowed_clients").after,
        value(json!([CLIENT_ID]))
    );
}

#[test]
fn a_converged_runtime_plans_nothing_and_keeps_its_id() {
    let stack = stack(STACK);
    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::NoOp);
    assert_eq!(runtime.id.as_deref(), Some("demo_mcp-AbC123"));
    assert!(runtime.changes.is_empty(), "{:?}", runtime.changes);
    assert!(runtime.notes.is_empty());
    assert!(!plan.has_changes());
}

#[test]
fn each_drifted_setting_is_updated_in_place_naming_only_that_setting() {
    let stack = stack(STACK);
    type Drift = fn(&mut LiveRuntime);
    let ours = format!("{REPOSITORY_URI}@{DIGEST}");
    let our_pool = discovery_url(REGION, POOL_ID);
    let cases: [(&str, Drift, Value, Value); 14] = [
        (
            "container_uri",
            |r| r.container_uri = Some("public.ecr.aws/other/image:latest".into()),
            json!("public.ecr.aws/other/image:latest"),
            json!(ours),
        ),
        (
            "role_arn",
            |r| r.role_arn = "arn:aws:iam::111122223333:role/other".into(),
            json!("arn:aws:iam::111122223333:role/other"),
            json!("arn:aws:iam::111122223333:role/role"),
        ),
        (
            "network_mode",
            |r| r.network_mode = "VPC".into(),
            json!("VPC"),
            json!("PUBLIC"),
        ),
        (
            "protocol",
            |r| r.protocol = Some("HTTP".into()),
            json!("HTTP"),
            json!("MCP"),
        ),
        (
            "description",
            |r| r.description = Some("set by hand".into()),
            json!("set by hand"),
            json!(null),
        ),
        (
            "idle_timeout_seconds",
            |r| r.idle_timeout_seconds = Some(60),
            json!(60),
            json!(900),
        ),
        (
            "max_lifetime_seconds",
            |r| r.max_lifetime_seconds = Some(3600),
            json!(3600),
            json!(28800),
        ),
        (
            "environment.MODEL",
            |r| {
                r.environment.insert("MODEL".into(), "gpt-4o".into());
            },
            json!("gpt-4o"),
            json!("o3"),
        ),
        (
            "authorizer.discovery_url",
            |r| {
                r.authorizer.as_mut().unwrap().0 = discovery_url(REGION, "us-west-2_Other");
            },
            json!(discovery_url(REGION, "us-west-2_Other")),
            json!(our_pool),
        ),
        (
            "authorizer.allowed_clients",
            |r| r.authorizer.as_mut().unwrap().1 = vec!["someone-else".into()],
            json!(["someone-else"]),
            json!([CLIENT_ID]),
        ),
        (
            "require_mmdsv2",
            |r| r.require_mmdsv2 = false,
            json!(false),
            json!(true),
        ),
        (
            "request_header_allowlist",
            |r| {
                r.request_header_allowlist =
                    vec!["X-Amzn-Bedrock-AgentCore-Runtime-Custom-A".into()]
            },
            json!(["X-Amzn-Bedrock-AgentCore-Runtime-Custom-A"]),
            json!([]),
        ),
        (
            "authorizer.allowed_scopes",
            |r| r.allowed_scopes = vec!["admin".into()],
            json!(["admin"]),
            json!([]),
        ),
        (
            "authorizer.allowed_audience",
            |r| r.allowed_audience = vec!["other".into()],
            json!(["other"]),
            json!([]),
        ),
    ];
    for (field, drift, before, after) in cases {
        let plan = drifted(&stack, drift);
        let runtime = resource(&plan, RUNTIME);
        assert_eq!(runtime.action, Action::Update, "{field}");
        assert_eq!(runtime.reason, "live settings differ from the stack");
        assert_eq!(runtime.id.as_deref(), Some("demo_mcp-AbC123"), "{field}");
        assert_eq!(fields(runtime), [field]);
        assert_eq!(change(runtime, field).before, value(before), "{field}");
        assert_eq!(change(runtime, field).after, value(after), "{field}");
        assert_eq!(
            plan.changed().count(),
            1,
            "{field}: only the runtime changes"
        );
    }
}

#[test]
fn only_missing_stack_tags_are_written_without_a_new_version() {
    let plan = drifted(&stack(STACK), |r| {
        r.tags.remove("infra:managed-by");
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::Update);
    assert_eq!(fields(runtime), ["tags"]);
    assert!(runtime.payload::<Step>().unwrap().only_tags);

    let plan = drifted(&stack(STACK), |r| {
        r.tags.remove("infra:managed-by");
        r.idle_timeout_seconds = Some(60);
    });
    let runtime = resource(&plan, RUNTIME);
    assert!(!runtime.payload::<Step>().unwrap().only_tags);
}

#[test]
fn a_changed_secret_is_updated_and_neither_value_is_ever_shown() {
    let plan = drifted(&stack(STACK), |r| {
        r.environment
            .insert("OPENAI_API_KEY".into(), "sk-old-key-in-aws".into());
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::Update);
    assert_eq!(fields(runtime), ["environment.OPENAI_API_KEY"]);
    let secret = change(runtime, "environment.OPENAI_API_KEY");
    assert_eq!(
        (&secret.before, &secret.after),
        (&Shown::Sensitive, &Shown::Sensitive)
    );
    // `text` and `json` check that the declared key is never shown; nor is the live one.
    for shown in [text(&plan), json(&plan)] {
        assert!(!shown.contains("sk-old-key-in-aws"), "{shown}");
    }
    assert!(text(&plan).contains("~ environment.OPENAI_API_KEY: (sensitive) -> (sensitive)"));
}

#[test]
fn a_variable_no_longer_declared_is_removed_without_showing_its_value() {
    let plan = drifted(&stack(STACK), |r| {
        r.environment
            .insert("LEGACY_TOKEN".into(), "t0ps3cret".into());
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(fields(runtime), ["environment.LEGACY_TOKEN"]);
    let removed = change(runtime, "environment.LEGACY_TOKEN");
    assert_eq!(
        (&removed.before, &removed.after),
        (&Shown::Sensitive, &Shown::Absent)
    );
    assert!(!text(&plan).contains("t0ps3cret"));
}

#[test]
fn a_plain_variable_no_longer_declared_is_removed_showing_its_old_value() {
    // Set by hand, or declared by an earlier version of the stack: a plain value like any other;
    // only a name that says it is a secret (a [runtime.secrets] ARN's included) stays hidden.
    let plan = drifted(&stack(A_RUNTIME), |r| {
        r.environment.insert("SEARCH_LIMIT".into(), "5".into());
        r.environment
            .insert("LEGACY_TOKEN".into(), "t0ps3cret".into());
        r.environment.insert(
            "OLD_KEY_SECRET_ARN".into(),
            "arn:aws:secretsmanager:us-west-2:111122223333:secret:demo/old-AbCdEf".into(),
        );
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(
        change(runtime, "environment.SEARCH_LIMIT").before,
        value(json!("5"))
    );
    let shown = text(&plan);
    assert!(!shown.contains("t0ps3cret"), "{shown}");
    insta::assert_snapshot!("removed_variables_text", shown);
}

#[test]
fn an_unset_secret_variable_keeps_the_value_the_runtime_has_and_says_so() {
    let stack = stack_without(STACK, &["OPENAI_API_KEY"]);
    let live = LiveBuilder::converged(&stack)
        .edit::<Runtime>(|found_runtime| {
            let runtime = found(&mut found_runtime.runtime);
            runtime
                .environment
                .insert("OPENAI_API_KEY".into(), "sk-live-key".into());
        })
        .build();
    let plan = plan_of(&stack, &live);
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::NoOp);
    assert_eq!(
        runtime.notes,
        ["environment.OPENAI_API_KEY: $OPENAI_API_KEY is unset, so the live value is kept"]
    );
    assert!(plan.blockers.is_empty());
    assert!(!text(&plan).contains("sk-live-key"));
}

#[test]
fn an_unset_secret_variable_blocks_when_the_runtime_has_no_value_for_it() {
    let stack = stack_without(STACK, &["OPENAI_API_KEY"]);
    let message = "$OPENAI_API_KEY is unset, and the runtime has no value for it yet";

    let plan = plan_of(&stack, &LiveBuilder::converged(&stack).build());
    assert_eq!(
        blockers(&plan),
        [(RUNTIME, Some("environment.OPENAI_API_KEY"))]
    );
    assert_eq!(plan.blockers[0].message, message);

    let plan = plan_of(&stack, &LiveBuilder::new().build());
    assert_eq!(
        blockers(&plan),
        [(RUNTIME, Some("environment.OPENAI_API_KEY"))]
    );
    assert_eq!(plan.blockers[0].message, message);
}

#[test]
fn a_tag_in_the_stacks_repository_runs_by_the_digest_it_points_at_now() {
    let stack = running("${repository_uri}:v1");
    let pinned = |digest: &str| format!("{REPOSITORY_URI}@{digest}");
    let live = |tag_points_at: &str| {
        LiveBuilder::converged(&stack)
            .edit::<Runtime>(|found_runtime| {
                found(&mut found_runtime.runtime).container_uri = Some(pinned(DIGEST));
            })
            .with::<Image>(LiveImage {
                built: None,
                tag_digest: Some(tag_points_at.into()),
                pinned: None,
            })
            .build()
    };
    let plan = plan_of(&stack, &live(DIGEST));
    assert_eq!(resource(&plan, RUNTIME).action, Action::NoOp);

    // The tag moved: the runtime moves with it.
    let plan = plan_of(&stack, &live(NEW_DIGEST));
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(fields(runtime), ["container_uri"]);
    assert_eq!(
        change(runtime, "container_uri").before,
        value(json!(pinned(DIGEST)))
    );
    assert_eq!(
        change(runtime, "container_uri").after,
        value(json!(pinned(NEW_DIGEST)))
    );
}

#[test]
fn a_tag_in_a_repository_this_apply_creates_is_known_after_apply() {
    let plan = plan_of(
        &running("${repository_uri}:v1"),
        &LiveBuilder::new().build(),
    );
    assert_eq!(
        change(resource(&plan, RUNTIME), "container_uri").after,
        Shown::KnownAfterApply
    );
}

#[test]
fn an_image_from_another_registry_runs_as_written() {
    let stack = running("public.ecr.aws/demo/server:1.0");
    let plan = plan_of(&stack, &LiveBuilder::new().build());
    assert_eq!(
        change(resource(&plan, RUNTIME), "container_uri").after,
        value(json!("public.ecr.aws/demo/server:1.0"))
    );
}

#[test]
fn an_apply_interrupted_before_default_served_the_new_version_is_finished_by_waiting() {
    // Killed while it waited: version 2 exists, DEFAULT still serves 1.
    let plan = drifted(&stack(STACK), |r| {
        r.version = "2".into();
        r.default_endpoint = Some(("UPDATING".into(), Some("1".into())));
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::Update);
    assert_eq!(fields(runtime), ["deployment"]);
    assert_eq!(
        change(runtime, "deployment").before,
        value(json!("runtime READY v2, DEFAULT UPDATING serving v1"))
    );
    assert_eq!(
        change(runtime, "deployment").after,
        value(json!("runtime READY v2, DEFAULT READY serving v2"))
    );
    assert!(
        runtime.notes[0].contains("apply waits until DEFAULT serves version 2"),
        "{:?}",
        runtime.notes
    );
    // Killed while the runtime itself was still being created or updated: the same.
    let plan = drifted(&stack(STACK), |r| r.status = "UPDATING".into());
    assert_eq!(fields(resource(&plan, RUNTIME)), ["deployment"]);
    // Settled: nothing to do.
    let plan = drifted(&stack(STACK), |_| {});
    assert_eq!(resource(&plan, RUNTIME).action, Action::NoOp);
}

#[test]
fn a_runtime_not_serving_its_latest_version_says_what_live_state_shows_and_no_more() {
    // What AWS reports tells a deployment under way from an endpoint settled on another version;
    // not who left it so (an apply stopped while it waited, another apply, a change by hand).
    type State = fn(&mut LiveRuntime);
    let cases: [(&str, State); 4] = [
        ("runtime UPDATING", |r| {
            r.version = "2".into();
            r.status = "UPDATING".into();
        }),
        ("DEFAULT UPDATING", |r| {
            r.version = "2".into();
            r.default_endpoint = Some(("UPDATING".into(), Some("1".into())));
        }),
        ("DEFAULT READY on an older version", |r| {
            r.version = "3".into();
            r.default_endpoint = Some(("READY".into(), Some("2".into())));
        }),
        ("DEFAULT UPDATE_FAILED", |r| {
            r.version = "2".into();
            r.default_endpoint = Some(("UPDATE_FAILED".into(), Some("1".into())));
        }),
    ];
    let mut shown = String::new();
    for (case, state) in cases {
        let plan = drifted(&stack(STACK), state);
        let runtime = resource(&plan, RUNTIME);
        assert_eq!(fields(runtime), ["deployment"], "{case}");
        assert!(
            !runtime.notes[0].starts_with("an earlier apply stopped"),
            "{case}: blames an earlier apply alone: {}",
            runtime.notes[0]
        );
        shown.push_str(&format!("{case}:\n{}\n", text(&plan)));
    }
    insta::assert_snapshot!("not_serving_the_latest_version_text", shown);
}

#[test]
fn a_failed_runtime_is_updated_again_and_the_failure_reason_is_noted() {
    let plan = drifted(&stack(STACK), |r| {
        r.status = "UPDATE_FAILED".into();
        r.failure_reason = Some("the image could not be pulled".into());
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::Update);
    assert_eq!(fields(runtime), ["status"]);
    assert_eq!(
        change(runtime, "status").before,
        value(json!("UPDATE_FAILED"))
    );
    assert_eq!(change(runtime, "status").after, value(json!("READY")));
    assert_eq!(
        runtime.notes,
        ["UPDATE_FAILED: the image could not be pulled"]
    );

    assert_eq!(runtime.reason, Action::Update.default_reason());
}

#[test]
fn an_image_an_earlier_version_ran_is_named_in_the_plan() {
    let stack = stack(STACK);
    let desired = testing::runtime(&stack).unwrap().container_uri.unwrap();
    let desired_digest = crate::resources::image::digest_in(&desired)
        .expect("the declared image is by digest")
        .to_owned();
    let plan = drifted(&stack, |r| {
        r.container_uri = Some(desired.replace(&desired_digest, NEW_DIGEST));
        r.version = "3".into();
        r.default_endpoint = Some(("READY".into(), Some("3".into())));
        r.same_image_as = Some(("1".into(), desired_digest.clone()));
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(fields(runtime), ["container_uri"]);
    assert_eq!(
        runtime.notes,
        [format!(
            "same image as version 1 ({desired_digest}), which this runtime ran before"
        )]
    );
    // Another digest than the one the stack deploys (read for another plan): no note.
    let plan = drifted(&stack, |r| {
        r.container_uri = Some(desired.replace(&desired_digest, NEW_DIGEST));
        r.same_image_as = Some(("1".into(), NEW_DIGEST.into()));
    });
    assert!(resource(&plan, RUNTIME).notes.is_empty());
}

#[test]
fn a_runtime_that_failed_to_create_is_planned_as_a_recovery_with_aws_reason() {
    let plan = drifted(&stack(STACK), |r| {
        r.status = "CREATE_FAILED".into();
        r.failure_reason = Some("Image not found (manifest unknown)".into());
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::Update);
    assert_eq!(runtime.reason, super::plan::RECOVERY_REASON);
    assert_eq!(
        runtime.notes,
        [
            "CREATE_FAILED: Image not found (manifest unknown)",
            super::plan::RECOVERY_NOTE
        ]
    );
    insta::assert_snapshot!("create_failed_text", text(&plan));

    let plan = drifted(&stack(STACK), |r| r.status = "CREATE_FAILED".into());
    assert_eq!(
        resource(&plan, RUNTIME).notes[0],
        "CREATE_FAILED: no reason given"
    );
}

#[test]
fn a_runtime_without_an_authorizer_in_the_stack_has_its_live_one_removed() {
    let stack = stack(&STACK.replace("authorizer = \"cognito\"\n", ""));
    let plan = drifted(&stack, |r| {
        r.authorizer = Some((discovery_url(REGION, POOL_ID), vec![CLIENT_ID.into()]));
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(fields(runtime), ["authorizer.discovery_url"]);
    assert_eq!(
        change(runtime, "authorizer.discovery_url").after,
        Shown::Absent
    );
}

#[test]
fn aws_cannot_rename_a_runtime_so_a_new_name_is_a_blocker() {
    let stack = stack(STACK);
    let old_arn = "arn:aws:bedrock-agentcore:us-west-2:111122223333:runtime/old_mcp-XyZ789";
    let live = LiveBuilder::converged(&stack)
        .with::<Runtime>(Found {
            runtime: Lookup::Missing,
            named_otherwise: vec![("old_mcp".into(), old_arn.into())],
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(RUNTIME, Some("name"))]);
    assert_eq!(
        plan.blockers[0].message,
        format!(
            "this stack's runtime is named \"old_mcp\" ({old_arn}); AWS cannot rename a runtime \
             in place, and a new one would get a new ARN and endpoint URL. Keep name = \"old_mcp\""
        )
    );
    assert!(plan.resource(RUNTIME).is_none());
}

#[test]
fn a_same_named_runtime_without_the_stack_tag_is_a_blocker() {
    let stack = stack(STACK);
    let plan = drifted(&stack, |r| {
        r.owned = false;
        r.tags.clear();
    });
    assert_eq!(blockers(&plan), [(RUNTIME, None)]);
    assert!(
        plan.blockers[0].message.starts_with(
            "an AgentCore runtime with this name already exists \
             (arn:aws:bedrock-agentcore:us-west-2:111122223333:runtime/demo_mcp-AbC123) \
             but is not tagged infra:stack=demo"
        ),
        "{}",
        plan.blockers[0].message
    );
    assert!(plan.resource(RUNTIME).is_none());
}

#[test]
fn several_same_named_runtimes_are_never_guessed_between() {
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .with::<Runtime>(Found {
            runtime: Lookup::Many {
                ids: vec!["demo_mcp-1".into(), "demo_mcp-2".into()],
                owned: false,
            },
            named_otherwise: Vec::new(),
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert_eq!(blockers(&plan), [(RUNTIME, None)]);
    assert!(
        plan.blockers[0].message.starts_with(
            "2 AgentCore runtimes named \"demo_mcp\" exist, none tagged for this stack"
        ),
        "{}",
        plan.blockers[0].message
    );
}

/// A runtime of this name made outside the stack (by hand, by another tool): no stack tags,
/// and a configuration of its own (another idle timeout and model).
fn made_by_hand(r: &mut LiveRuntime) {
    r.owned = false;
    r.tags = BTreeMap::from([("team".to_owned(), "search".to_owned())]);
    r.idle_timeout_seconds = Some(60);
    r.environment.insert("MODEL".into(), "gpt-4o".into());
}

fn adopting(text: &str) -> Stack {
    stack(&text.replace("name = \"demo_mcp\"", "name = \"demo_mcp\"\nadopt = true"))
}

#[test]
fn the_advice_for_a_runtime_without_the_stack_tag_is_one_the_runtime_section_takes() {
    let plan = drifted(&stack(A_RUNTIME), made_by_hand);
    assert_eq!(blockers(&plan), [(RUNTIME, None)]);
    assert!(plan.resource(RUNTIME).is_none());
    insta::assert_snapshot!("foreign_text", text(&plan));
    // The advice, followed: `adopt = true` in [runtime] is a valid stack.
    assert!(
        plan.blockers[0]
            .message
            .contains("set `adopt = true` in its section")
    );
    let adopted = adopting(A_RUNTIME);
    assert!(adopted.one::<Runtime>().unwrap().adopt);
}

#[test]
fn adopting_a_runtime_tags_it_and_updates_its_configuration_to_the_stack() {
    let plan = drifted(&adopting(A_RUNTIME), made_by_hand);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(runtime.action, Action::Update);
    assert_eq!(
        runtime.reason,
        "adopting: tags it for this stack and updates its configuration to what the stack \
         declares (a new runtime version)"
    );
    assert_eq!(
        fields(runtime),
        ["idle_timeout_seconds", "environment.MODEL", "tags"]
    );
    // Only the stack's tags are written; the runtime's own are left alone.
    assert_eq!(
        change(runtime, "tags").after,
        value(json!({"infra:managed-by": "infra", "infra:stack": "demo"}))
    );
    insta::assert_snapshot!("adopt_text", text(&plan));
}

#[test]
fn adopting_a_runtime_already_as_declared_only_tags_it() {
    let plan = drifted(&adopting(STACK), |r| {
        r.owned = false;
        r.tags.clear();
    });
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(fields(runtime), ["tags"]);
    assert_eq!(
        runtime.reason,
        "adopting: tags it for this stack; its configuration already is what the stack declares"
    );
    assert!(runtime.payload::<Step>().unwrap().only_tags);
}

#[test]
fn an_adopted_runtime_is_the_stacks_for_the_kinds_that_need_its_id() {
    let foreign = Found {
        runtime: Lookup::Found(LiveRuntime {
            owned: false,
            ..testing::runtime(&stack(STACK)).unwrap()
        }),
        named_otherwise: Vec::new(),
    };
    assert_eq!(Runtime::id(&stack(STACK), &foreign), None);
    assert_eq!(
        Runtime::id(&adopting(STACK), &foreign).as_deref(),
        Some("demo_mcp-AbC123")
    );
}

#[test]
fn mcp_url_encodes_the_whole_arn() {
    assert_eq!(
        super::mcp_url(
            &crate::aws::data_plane_endpoint_from("us-west-2", &|_| None),
            "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/web_search_mcp-AbC123"
        ),
        "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/\
         arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fweb_search_mcp-AbC123\
         /invocations?qualifier=DEFAULT"
    );
}

#[test]
fn the_data_plane_follows_the_sdk_endpoint_variables() {
    use crate::aws::data_plane_endpoint_from as endpoint;
    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }
    static GENERAL: [(&str, &str); 1] = [("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/")];
    assert_eq!(
        endpoint("eu-west-1", &env(&GENERAL)),
        "http://127.0.0.1:5000"
    );
    static BOTH: [(&str, &str); 2] = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        (
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
            "http://127.0.0.1:6000",
        ),
    ];
    assert_eq!(endpoint("eu-west-1", &env(&BOTH)), "http://127.0.0.1:6000");
    static IGNORED: [(&str, &str); 2] = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
    ];
    assert_eq!(
        endpoint("eu-west-1", &env(&IGNORED)),
        "https://bedrock-agentcore.eu-west-1.amazonaws.com"
    );
}

#[test]
fn snapshot_of_the_plan_that_creates_a_runtime_behind_a_new_pool() {
    let plan = plan_of(&stack(A_RUNTIME), &LiveBuilder::new().build());
    insta::assert_snapshot!("create_text", text(&plan));
    insta::assert_snapshot!("create_json", json(&plan));
}

#[test]
fn snapshot_of_the_plan_for_a_failed_runtime_with_drifted_settings() {
    let plan = drifted(&stack(A_RUNTIME), |r| {
        r.status = "UPDATE_FAILED".into();
        r.failure_reason = Some("the container exited with code 1".into());
        r.environment.insert("MODEL".into(), "gpt-4o".into());
        r.environment
            .insert("OPENAI_API_KEY".into(), "sk-old-key-in-aws".into());
        r.idle_timeout_seconds = Some(60);
    });
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", json(&plan));
}

#[test]
fn settings_the_stack_does_not_model_are_carried_over_and_never_planned() {
    use aws_sdk_bedrockagentcorecontrol::types::AllowedPort;
    let stack = stack(STACK);
    let live = LiveBuilder::converged(&stack)
        .edit::<Runtime>(|found| {
            let runtime = match &mut found.runtime {
                crate::engine::Lookup::Found(r) => r,
                _ => panic!("converged"),
            };
            runtime.carried.platform_version = Some("2".into());
            runtime.carried.allowed_ports = Some(vec![AllowedPort::Port(9000)]);
        })
        .build();
    let plan = plan_of(&stack, &live);
    assert!(
        !plan.has_changes(),
        "{:?}",
        plan.changed().collect::<Vec<_>>()
    );
}

#[test]
fn declared_scopes_audiences_and_headers_are_created_sorted_and_empty_ones_are_not_shown() {
    let text = STACK.replace(
        "authorizer = \"cognito\"",
        "authorizer = \"cognito\"\nallowed_scopes = [\"b\", \"a\"]\nrequest_header_allowlist = [\"X-Custom\"]",
    );
    let plan = plan_of(&stack(&text), &LiveBuilder::new().build());
    let runtime = resource(&plan, RUNTIME);
    assert_eq!(
        change(runtime, "authorizer.allowed_scopes").after,
        Shown::Value(json!(["a", "b"]))
    );
    assert_eq!(
        change(runtime, "request_header_allowlist").after,
        Shown::Value(json!(["X-Custom"]))
    );
    assert!(!fields(runtime).contains(&"authorizer.allowed_audience"));
}

/// Apply against mocked AgentCore: the whole configuration on every create and update, then the
/// wait until DEFAULT serves the version it made.
mod apply {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_sdk_bedrockagentcorecontrol::Client as AgentCore;
    use aws_sdk_bedrockagentcorecontrol::operation::create_agent_runtime::CreateAgentRuntimeOutput;
    use aws_sdk_bedrockagentcorecontrol::operation::get_agent_runtime::GetAgentRuntimeOutput;
    use aws_sdk_bedrockagentcorecontrol::operation::get_agent_runtime_endpoint::GetAgentRuntimeEndpointOutput;
    use aws_sdk_bedrockagentcorecontrol::operation::list_agent_runtimes::ListAgentRuntimesOutput;
    use aws_sdk_bedrockagentcorecontrol::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_bedrockagentcorecontrol::operation::tag_resource::TagResourceOutput;
    use aws_sdk_bedrockagentcorecontrol::operation::update_agent_runtime::UpdateAgentRuntimeOutput;
    use aws_sdk_bedrockagentcorecontrol::primitives::DateTime;
    use aws_sdk_bedrockagentcorecontrol::types::{
        AgentRuntime, AgentRuntimeArtifact, AgentRuntimeEndpointStatus, AgentRuntimeStatus,
        AuthorizerConfiguration, RuntimeMetadataConfiguration,
    };

    use super::*;
    use crate::resources::mocked::*;

    const ID: &str = "demo_mcp-New123";
    const ARN: &str = "arn:aws:bedrock-agentcore:us-west-2:111122223333:runtime/demo_mcp-New123";
    const LIVE_ID: &str = "demo_mcp-AbC123";

    /// Whether a create's or an update's configuration is the one STACK declares: the built
    /// image by digest, the role, Cognito's JWT authorizer for the stack's pool and client, and
    /// every variable (the secret one with its value).
    fn declared(
        artifact: Option<&AgentRuntimeArtifact>,
        role_arn: Option<&str>,
        authorizer: Option<&AuthorizerConfiguration>,
        environment: Option<&HashMap<String, String>>,
    ) -> bool {
        let image = match artifact {
            Some(AgentRuntimeArtifact::ContainerConfiguration(c)) => c.container_uri(),
            _ => "",
        };
        let Some(AuthorizerConfiguration::CustomJwtAuthorizer(jwt)) = authorizer else {
            return false;
        };
        let environment: BTreeMap<&str, &str> = environment
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        image == format!("{REPOSITORY_URI}@{DIGEST}")
            && role_arn == Some("arn:aws:iam::111122223333:role/role")
            && jwt.discovery_url()
                == "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_AbC123/.well-known/openid-configuration"
            && jwt.allowed_clients() == [CLIENT_ID]
            && environment == BTreeMap::from([("MODEL", "o3"), ("OPENAI_API_KEY", OPENAI_KEY)])
    }

    /// AgentCore's answers about the runtime `id` at the version `version` holds: READY with
    /// MMDSv2 on, and DEFAULT READY serving that version.
    fn deployed(id: &'static str, version: &Arc<AtomicU32>) -> [Rule; 2] {
        let (v1, v2) = (version.clone(), version.clone());
        let runtime = mock!(AgentCore::get_agent_runtime)
            .match_requests(move |req| req.agent_runtime_id() == Some(id))
            .then_compute_output(move |_| {
                GetAgentRuntimeOutput::builder()
                    .agent_runtime_id(id)
                    .agent_runtime_arn(format!(
                        "arn:aws:bedrock-agentcore:us-west-2:111122223333:runtime/{id}"
                    ))
                    .agent_runtime_name("demo_mcp")
                    .agent_runtime_version(v1.load(Ordering::SeqCst).to_string())
                    .role_arn("arn:aws:iam::111122223333:role/role")
                    .status(AgentRuntimeStatus::Ready)
                    .metadata_configuration(
                        RuntimeMetadataConfiguration::builder()
                            .require_mmdsv2(true)
                            .build()
                            .unwrap(),
                    )
                    .created_at(DateTime::from_secs(1_700_000_000))
                    .last_updated_at(DateTime::from_secs(1_700_000_000))
                    .build()
                    .unwrap()
            });
        let endpoint = mock!(AgentCore::get_agent_runtime_endpoint)
            .match_requests(move |req| {
                req.agent_runtime_id() == Some(id) && req.endpoint_name() == Some("DEFAULT")
            })
            .then_compute_output(move |_| {
                GetAgentRuntimeEndpointOutput::builder()
                    .agent_runtime_endpoint_arn(format!("{ARN}/runtime-endpoint/DEFAULT"))
                    .agent_runtime_arn(ARN)
                    .name("DEFAULT")
                    .id("DEFAULT")
                    .status(AgentRuntimeEndpointStatus::Ready)
                    .live_version(v2.load(Ordering::SeqCst).to_string())
                    .created_at(DateTime::from_secs(1_700_000_000))
                    .last_updated_at(DateTime::from_secs(1_700_000_000))
                    .build()
                    .unwrap()
            });
        [runtime, endpoint]
    }

    /// `UpdateAgentRuntime` of `id` with the declared configuration, MMDSv2 on and the idle
    /// timeout `idle`: makes the next version.
    fn update(id: &'static str, idle: i32, version: &Arc<AtomicU32>) -> Rule {
        let version = version.clone();
        mock!(AgentCore::update_agent_runtime)
            .match_requests(move |req| {
                req.agent_runtime_id() == Some(id)
                    && declared(
                        req.agent_runtime_artifact(),
                        req.role_arn(),
                        req.authorizer_configuration(),
                        req.environment_variables(),
                    )
                    && req
                        .lifecycle_configuration()
                        .and_then(|l| l.idle_runtime_session_timeout())
                        == Some(idle)
                    && req
                        .metadata_configuration()
                        .is_some_and(|m| m.require_mmdsv2())
            })
            .then_compute_output(move |_| {
                let made = version.fetch_add(1, Ordering::SeqCst) + 1;
                UpdateAgentRuntimeOutput::builder()
                    .agent_runtime_id(id)
                    .agent_runtime_arn(ARN)
                    .agent_runtime_version(made.to_string())
                    .status(AgentRuntimeStatus::Updating)
                    .created_at(DateTime::from_secs(1_700_000_000))
                    .last_updated_at(DateTime::from_secs(1_700_000_000))
                    .build()
                    .unwrap()
            })
    }

    /// Apply the runtime, everything else existing as declared and the runtime not.
    async fn apply_create(rules: &[&Rule]) -> Applied {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .with::<Runtime>(Found::default())
            .build();
        apply_mocked::<Runtime>(&stack, &live, RUNTIME, rules).await
    }

    fn create_fails(code: &'static str, message: &'static str) -> Rule {
        mock!(AgentCore::create_agent_runtime).then_error(move || aws_error(code, message))
    }

    #[tokio::test]
    async fn a_create_sends_the_declared_configuration_then_waits_until_default_serves_it() {
        let create = mock!(AgentCore::create_agent_runtime)
            .match_requests(|req| {
                req.agent_runtime_name() == Some("demo_mcp")
                    && req.client_token().is_some_and(|t| t.starts_with("infra-"))
                    && declared(
                        req.agent_runtime_artifact(),
                        req.role_arn(),
                        req.authorizer_configuration(),
                        req.environment_variables(),
                    )
                    && stack_tags(
                        req.tags()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (k.as_str(), v.as_str())),
                    )
            })
            .then_output(|| {
                CreateAgentRuntimeOutput::builder()
                    .agent_runtime_id(ID)
                    .agent_runtime_arn(ARN)
                    .agent_runtime_version("1")
                    .status(AgentRuntimeStatus::Creating)
                    .created_at(DateTime::from_secs(1_700_000_000))
                    .build()
                    .unwrap()
            });
        let [runtime, endpoint] = deployed(ID, &Arc::new(AtomicU32::new(1)));
        let applied = apply_create(&[&create, &runtime, &endpoint]).await;
        assert_eq!(applied.id(), ID);
        // READY twice in a row, then DEFAULT serving version 1; MMDSv2 on: no update.
        assert_eq!(
            (
                create.num_calls(),
                runtime.num_calls(),
                endpoint.num_calls()
            ),
            (1, 2, 1)
        );
    }

    #[tokio::test]
    async fn a_changed_idle_timeout_is_one_update_with_the_whole_configuration() {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<Runtime>(|f| found(&mut f.runtime).idle_timeout_seconds = Some(60))
            .build();
        let version = Arc::new(AtomicU32::new(1));
        let update = update(LIVE_ID, 900, &version);
        let [runtime, endpoint] = deployed(LIVE_ID, &version);
        let applied =
            apply_mocked::<Runtime>(&stack, &live, RUNTIME, &[&update, &runtime, &endpoint]).await;
        assert_eq!(applied.id(), LIVE_ID);
        assert_eq!(update.num_calls(), 1);
        // It waited for the version the update made.
        assert_eq!(version.load(Ordering::SeqCst), 2);
        assert_eq!(endpoint.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_runtime_created_meanwhile_by_another_apply_is_awaited_then_updated_to_the_stack() {
        let create = create_fails(
            "ConflictException",
            "An agent runtime with the name demo_mcp already exists",
        );
        let list = mock!(AgentCore::list_agent_runtimes).then_output(|| {
            let other = AgentRuntime::builder()
                .agent_runtime_id(ID)
                .agent_runtime_arn(ARN)
                .agent_runtime_name("demo_mcp")
                .agent_runtime_version("1")
                .description("")
                .status(AgentRuntimeStatus::Creating)
                .last_updated_at(DateTime::from_secs(1_700_000_000))
                .build()
                .unwrap();
            ListAgentRuntimesOutput::builder()
                .agent_runtimes(other)
                .build()
                .unwrap()
        });
        let tags = mock!(AgentCore::list_tags_for_resource)
            .match_requests(|req| req.resource_arn() == Some(ARN))
            .then_output(|| {
                ListTagsForResourceOutput::builder()
                    .tags("infra:stack", "demo")
                    .tags("infra:managed-by", "infra")
                    .build()
            });
        // The other apply's runtime runs another image: the stack's configuration replaces it.
        let version = Arc::new(AtomicU32::new(1));
        let update = update(ID, 900, &version);
        let [runtime, endpoint] = deployed(ID, &version);
        let rules = [&create, &list, &tags, &runtime, &endpoint, &update];
        let applied = apply_create(&rules).await;
        assert_eq!(applied.id(), ID);
        assert!(
            applied.said(
                "agentcore_runtime.demo_mcp: already exists, though the plan did not find it"
            )
        );
        assert_eq!((update.num_calls(), version.load(Ordering::SeqCst)), (1, 2));
    }

    const LIVE_ARN: &str =
        "arn:aws:bedrock-agentcore:us-west-2:111122223333:runtime/demo_mcp-AbC123";

    /// `TagResource` of the live runtime with exactly the stack's tags.
    fn tag() -> Rule {
        mock!(AgentCore::tag_resource)
            .match_requests(|req| {
                req.resource_arn() == Some(LIVE_ARN)
                    && stack_tags(
                        req.tags()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (k.as_str(), v.as_str())),
                    )
            })
            .then_output(|| TagResourceOutput::builder().build())
    }

    #[tokio::test]
    async fn adopting_updates_the_runtime_to_the_stack_and_tags_it_for_the_stack() {
        let stack = adopting(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<Runtime>(|f| made_by_hand(found(&mut f.runtime)))
            .build();
        let version = Arc::new(AtomicU32::new(1));
        // The declared configuration: idle timeout 900 and MODEL = "o3" again.
        let update = update(LIVE_ID, 900, &version);
        let [runtime, endpoint] = deployed(LIVE_ID, &version);
        let tag = tag();
        let rules = [&update, &runtime, &endpoint, &tag];
        let applied = apply_mocked::<Runtime>(&stack, &live, RUNTIME, &rules).await;
        assert_eq!(applied.id(), LIVE_ID);
        assert_eq!((update.num_calls(), tag.num_calls()), (1, 1));
        assert_eq!(version.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn adopting_a_runtime_already_as_declared_is_one_tag_call_and_no_new_version() {
        let stack = adopting(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<Runtime>(|f| {
                let runtime = found(&mut f.runtime);
                runtime.owned = false;
                runtime.tags.clear();
            })
            .build();
        // No UpdateAgentRuntime rule: an update would fail the test.
        let tag = tag();
        let applied = apply_mocked::<Runtime>(&stack, &live, RUNTIME, &[&tag]).await;
        assert_eq!(applied.id(), LIVE_ID);
        assert_eq!(tag.num_calls(), 1);
    }

    /// The stack's runtime, failed to create.
    fn failed_to_create() -> (Stack, Live) {
        let stack = stack(STACK);
        let live = LiveBuilder::converged(&stack)
            .edit::<Runtime>(|f| {
                let runtime = found(&mut f.runtime);
                runtime.status = "CREATE_FAILED".into();
                runtime.failure_reason = Some("Image not found".into());
            })
            .build();
        (stack, live)
    }

    #[tokio::test]
    async fn a_failed_create_aws_refuses_to_update_is_deleted_and_created_again() {
        use aws_sdk_bedrockagentcorecontrol::operation::delete_agent_runtime::DeleteAgentRuntimeOutput;
        let (stack, live) = failed_to_create();
        let refused = mock!(AgentCore::update_agent_runtime)
            .match_requests(|req| req.agent_runtime_id() == Some(LIVE_ID))
            .then_error(|| aws_error("ConflictException", "the runtime is in CREATE_FAILED"));
        let delete = mock!(AgentCore::delete_agent_runtime)
            .match_requests(|req| req.agent_runtime_id() == Some(LIVE_ID))
            .then_output(|| {
                DeleteAgentRuntimeOutput::builder()
                    .agent_runtime_id(LIVE_ID)
                    .status(AgentRuntimeStatus::Deleting)
                    .build()
                    .unwrap()
            });
        let gone = mock!(AgentCore::get_agent_runtime)
            .match_requests(|req| req.agent_runtime_id() == Some(LIVE_ID))
            .then_error(|| aws_error("ResourceNotFoundException", "no such runtime"));
        let create = mock!(AgentCore::create_agent_runtime)
            .match_requests(|req| {
                declared(
                    req.agent_runtime_artifact(),
                    req.role_arn(),
                    req.authorizer_configuration(),
                    req.environment_variables(),
                )
            })
            .then_output(|| {
                CreateAgentRuntimeOutput::builder()
                    .agent_runtime_id(ID)
                    .agent_runtime_arn(ARN)
                    .agent_runtime_version("1")
                    .status(AgentRuntimeStatus::Creating)
                    .created_at(DateTime::from_secs(1_700_000_000))
                    .build()
                    .unwrap()
            });
        let [runtime, endpoint] = deployed(ID, &Arc::new(AtomicU32::new(1)));
        let rules = [&refused, &delete, &gone, &create, &runtime, &endpoint];
        let applied = apply_mocked::<Runtime>(&stack, &live, RUNTIME, &rules).await;
        assert_eq!(applied.id(), ID);
        assert_eq!(
            (refused.num_calls(), delete.num_calls(), create.num_calls()),
            (1, 1, 1)
        );
        assert!(applied.said(
            "agentcore_runtime.demo_mcp: AWS refused to update the runtime that failed to create \
             (ConflictException: the runtime is in CREATE_FAILED); deleting it (it never served a \
             request) and creating it again"
        ));
    }

    #[tokio::test]
    async fn a_failed_create_aws_updates_is_not_deleted() {
        let (stack, live) = failed_to_create();
        let version = Arc::new(AtomicU32::new(1));
        let update = update(LIVE_ID, 900, &version);
        let [runtime, endpoint] = deployed(LIVE_ID, &version);
        // No DeleteAgentRuntime rule: a delete would fail the test.
        let rules = [&update, &runtime, &endpoint];
        let applied = apply_mocked::<Runtime>(&stack, &live, RUNTIME, &rules).await;
        assert_eq!(applied.id(), LIVE_ID);
        assert_eq!((update.num_calls(), version.load(Ordering::SeqCst)), (1, 2));
    }

    #[tokio::test]
    async fn another_update_error_of_a_failed_create_is_reported_and_nothing_is_deleted() {
        let (stack, live) = failed_to_create();
        let message = "User is not authorized to perform bedrock-agentcore:UpdateAgentRuntime";
        let denied = mock!(AgentCore::update_agent_runtime)
            .then_error(move || aws_error("AccessDeniedException", message));
        let applied = apply_mocked::<Runtime>(&stack, &live, RUNTIME, &[&denied]).await;
        assert_failed(
            &applied,
            RUNTIME,
            "UpdateAgentRuntime",
            "AccessDeniedException",
            message,
        );
    }

    #[tokio::test]
    async fn a_refused_create_names_the_runtime_the_operation_and_aws_message() {
        let message = "Invalid container URI: the image does not exist";
        let applied = apply_create(&[&create_fails("ValidationException", message)]).await;
        assert_failed(
            &applied,
            RUNTIME,
            "CreateAgentRuntime",
            "ValidationException",
            message,
        );
    }
}
