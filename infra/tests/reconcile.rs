//! plan → apply → plan against a real AWS-compatible endpoint (moto server), through the
//! `infra` binary exactly as a user runs it. Results are read back through the AWS API.

mod support;

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType,
};
use support::{Aws, Moto, PASSWORD, Project, STACK_NAME, policy};

const POOL: &str = "MCPServerPool";
const CLIENT: &str = "MCPServerPoolClient";
const ROLE: &str = "agentcore-web-search-mcp-role";

#[tokio::test]
async fn apply_from_empty_creates_the_declared_stack_and_a_second_apply_writes_nothing() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);

    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout
            .contains("Plan: 9 to create, 0 to update, 0 to delete."),
        "{}",
        plan.stdout
    );
    assert!(moto.writes().is_empty(), "plan wrote: {:?}", moto.writes());

    moto.start_recording();
    let apply = project.infra(&moto, &["apply", "--yes"]).expect(0);
    // Each create once; the pool is described only by the verify: after CreateUserPool, the
    // duplicate check lists same-named pools and describes them only when another one exists.
    let count = |op: &str| moto.operations().iter().filter(|o| *o == op).count();
    for create in [
        "CreateUserPool",
        "CreateUserPoolClient",
        "AdminCreateUser",
        "CreateRole",
        "CreateRepository",
        "CreateSecret",
        "CreateAgentRuntime",
    ] {
        assert_eq!(count(create), 1, "{create}: {:?}", moto.operations());
    }
    assert_eq!(count("ListUserPools"), 3, "read, duplicate check, verify");
    assert_eq!(count("DescribeUserPool"), 1, "the verify's read only");
    assert!(
        apply
            .stdout
            .contains("Apply complete! Resources: 9 created, 0 updated, 0 deleted."),
        "{}",
        apply.stdout
    );
    assert!(
        apply
            .stdout
            .contains("Verified: live AWS matches the stack."),
        "{}",
        apply.stdout
    );

    // The user pool: one, tagged for the stack, with the declared password policy.
    let pools = aws.pool_ids(POOL).await;
    assert_eq!(pools.len(), 1);
    let pool = aws
        .cognito
        .describe_user_pool()
        .user_pool_id(&pools[0])
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap();
    assert_eq!(
        pool.user_pool_tags()
            .unwrap()
            .get("infra:stack")
            .map(String::as_str),
        Some(STACK_NAME)
    );
    let password_policy = pool.policies().unwrap().password_policy().unwrap();
    assert_eq!(password_policy.minimum_length(), Some(8));

    // The app client, with exactly the declared auth flows and no secret.
    let clients = aws.client_ids(&pools[0], CLIENT).await;
    assert_eq!(clients.len(), 1);
    let client = aws
        .cognito
        .describe_user_pool_client()
        .user_pool_id(&pools[0])
        .client_id(&clients[0])
        .send()
        .await
        .unwrap();
    let client = client.user_pool_client().unwrap();
    let mut flows: Vec<&str> = client
        .explicit_auth_flows()
        .iter()
        .map(|f| f.as_str())
        .collect();
    flows.sort();
    assert_eq!(
        flows,
        ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    );
    assert!(client.client_secret().is_none());

    // The user: confirmed, and the declared password signs in.
    let user = aws
        .cognito
        .admin_get_user()
        .user_pool_id(&pools[0])
        .username("testuser")
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_status().unwrap().as_str(), "CONFIRMED");
    assert!(aws.can_sign_in(&clients[0], "testuser", PASSWORD).await);

    // The role: AgentCore trust policy scoped to the account, stack tags, the inline policy.
    let role = aws.iam.get_role().role_name(ROLE).send().await.unwrap();
    let role = role.role().unwrap();
    let trust = policy(role.assume_role_policy_document().unwrap());
    let statement = if trust["Statement"].is_array() {
        &trust["Statement"][0]
    } else {
        &trust["Statement"]
    };
    assert_eq!(
        statement["Principal"]["Service"],
        "bedrock-agentcore.amazonaws.com"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:SourceAccount"],
        "123456789012"
    );
    assert!(
        role.tags()
            .iter()
            .any(|t| t.key() == "infra:stack" && t.value() == STACK_NAME)
    );
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    let mut names = inline.policy_names().to_vec();
    names.sort();
    assert_eq!(names, ["AgentCoreRuntime", "infra-secrets"]);
    let document = aws
        .iam
        .get_role_policy()
        .role_name(ROLE)
        .policy_name("AgentCoreRuntime")
        .send()
        .await
        .unwrap();
    let document = policy(document.policy_document());
    let ecr = document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ECRImageAccess")
        .unwrap();
    assert_eq!(
        ecr["Resource"],
        "arn:aws:ecr:us-west-2:123456789012:repository/web-search-mcp"
    );

    // Second apply: reads only, and says so.
    moto.start_recording();
    let again = project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(moto.writes(), Vec::<String>::new());
    assert!(
        !moto.operations().is_empty(),
        "the second apply must read live state"
    );
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn out_of_band_drift_is_planned_field_by_field_and_repaired_in_place() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let pool_id = aws.pool_ids(POOL).await.remove(0);
    let client_id = aws.client_ids(&pool_id, CLIENT).await.remove(0);
    let role_id = aws
        .iam
        .get_role()
        .role_name(ROLE)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .role_id()
        .to_owned();

    // Drift, made the way a colleague in the console would.
    aws.iam
        .put_role_policy()
        .role_name(ROLE)
        .policy_name("AgentCoreRuntime")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    aws.iam
        .update_assume_role_policy()
        .role_name(ROLE)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    aws.cognito
        .update_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .client_name(CLIENT)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    aws.cognito
        .update_user_pool()
        .user_pool_id(&pool_id)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(PasswordPolicyType::builder().minimum_length(12).build())
                .build(),
        )
        .email_verification_subject("Your code, from the console")
        .user_pool_tags("infra:stack", STACK_NAME)
        .user_pool_tags("infra:managed-by", "infra")
        .send()
        .await
        .unwrap();
    aws.cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("testuser")
        .password("Changed-By-Hand-42")
        .permanent(true)
        .send()
        .await
        .unwrap();

    moto.start_recording();
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    for expected in [
        "~ iam_role_policy.AgentCoreRuntime",
        "~ trust_policy:",
        "~ explicit_auth_flows: [\"ALLOW_REFRESH_TOKEN_AUTH\",\"ALLOW_USER_SRP_AUTH\"] -> [\"ALLOW_REFRESH_TOKEN_AUTH\",\"ALLOW_USER_PASSWORD_AUTH\"]",
        "~ password_policy.minimum_length: 12 -> 8",
        "~ cognito_user.testuser",
        "~ password: (sensitive) -> (sensitive)",
        "Plan: 0 to create, 5 to update, 0 to delete.",
    ] {
        assert!(
            plan.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            plan.stdout
        );
    }
    // The trust policy is shown as a unified diff of the canonical documents.
    let diff_line = |glyph: char, text: &str| {
        plan.stdout
            .lines()
            .any(|l| l.trim_start().starts_with(glyph) && l.contains(text))
    };
    assert!(
        diff_line('-', r#""Service": "ec2.amazonaws.com""#),
        "{}",
        plan.stdout
    );
    assert!(
        diff_line('+', r#""Service": "bedrock-agentcore.amazonaws.com""#),
        "{}",
        plan.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new(), "plan must not write");

    moto.start_recording();
    let apply = project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(
        apply
            .stdout
            .contains("Resources: 0 created, 5 updated, 0 deleted."),
        "{}",
        apply.stdout
    );
    let mut writes = moto.writes();
    writes.sort();
    assert_eq!(
        writes,
        [
            "AdminSetUserPassword",
            "PutRolePolicy",
            "UpdateAssumeRolePolicy",
            "UpdateUserPool",
            "UpdateUserPoolClient"
        ]
    );

    // Repaired in place: same ids, declared settings back, the password signs in again.
    assert_eq!(aws.pool_ids(POOL).await, vec![pool_id.clone()]);
    assert_eq!(
        aws.client_ids(&pool_id, CLIENT).await,
        vec![client_id.clone()]
    );
    let role = aws.iam.get_role().role_name(ROLE).send().await.unwrap();
    assert_eq!(role.role().unwrap().role_id(), role_id);
    assert!(aws.can_sign_in(&client_id, "testuser", PASSWORD).await);
    let pool = aws
        .cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap();
    assert_eq!(
        pool.policies()
            .unwrap()
            .password_policy()
            .unwrap()
            .minimum_length(),
        Some(8)
    );
    // UpdateUserPool resets what it is not sent: a setting the stack does not manage survives.
    assert_eq!(
        pool.email_verification_subject(),
        Some("Your code, from the console")
    );

    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn an_undeclared_inline_policy_on_the_stack_role_is_removed() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    aws.iam
        .put_role_policy()
        .role_name(ROLE)
        .policy_name("AddedByHand")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();

    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout.contains("- iam_role_policy.AddedByHand"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 0 to update, 1 to delete."),
        "{}",
        plan.stdout
    );
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    let mut names = inline.policy_names().to_vec();
    names.sort();
    assert_eq!(names, ["AgentCoreRuntime", "infra-secrets"]);
}

#[tokio::test]
async fn foreign_same_named_pool_and_role_are_not_touched_unless_adopted() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let foreign_pool = aws
        .cognito
        .create_user_pool()
        .pool_name(POOL)
        .send()
        .await
        .unwrap();
    let foreign_pool = foreign_pool.user_pool().unwrap().id().unwrap().to_owned();
    aws.iam
        .create_role()
        .role_name(ROLE)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let project = Project::from_repo(|s| s);

    moto.start_recording();
    let plan = project.infra(&moto, &["plan"]).expect(1);
    assert!(plan.stdout.contains(&format!("cognito_user_pool.{POOL}: a user pool with this name already exists ({foreign_pool}) but is not tagged infra:stack=web-search-mcp")), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!(
            "iam_role.{ROLE}: an IAM role with this name already exists"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains("nothing was changed"),
        "{}",
        plan.stderr
    );
    let apply = project.infra(&moto, &["apply", "--yes"]).expect(1);
    assert!(
        apply.stdout.contains("This plan cannot be applied"),
        "{}",
        apply.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
    // Someone else's pool is not even looked into: no client listing, no sign-in attempts.
    let looked_in: Vec<String> = moto
        .operations()
        .into_iter()
        .filter(|op| ["ListUserPoolClients", "AdminGetUser", "InitiateAuth"].contains(&op.as_str()))
        .collect();
    assert_eq!(looked_in, Vec::<String>::new());
    assert_eq!(aws.pool_ids(POOL).await, vec![foreign_pool.clone()]);

    // Adopting, declared in the stack file: the same resources are tagged and reconciled in place.
    let adopted = Project::from_repo(|s| {
        s.replace(
            "name = \"MCPServerPool\"\n",
            "name = \"MCPServerPool\"\nadopt = true\n",
        )
        .replace(
            "name = \"agentcore-web-search-mcp-role\"\n",
            "name = \"agentcore-web-search-mcp-role\"\nadopt = true\n",
        )
    });
    let apply = adopted.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(
        apply.stdout.contains("adopting: tags it for this stack"),
        "{}",
        apply.stdout
    );
    assert_eq!(aws.pool_ids(POOL).await, vec![foreign_pool.clone()]);
    // Once tagged it is the stack's own, with or without the adopt setting.
    project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn two_pools_tagged_for_the_stack_is_an_error_listing_both() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let pool = aws
            .cognito
            .create_user_pool()
            .pool_name(POOL)
            .user_pool_tags("infra:stack", STACK_NAME)
            .send()
            .await
            .unwrap();
        ids.push(pool.user_pool().unwrap().id().unwrap().to_owned());
        // A user the stack does not declare: infra keeps one pool and deletes the other only
        // when it holds nothing else (tests/concurrency.rs); here it must explain instead.
        aws.cognito
            .admin_create_user()
            .user_pool_id(ids.last().unwrap())
            .username("someone-else")
            .send()
            .await
            .unwrap();
    }
    let project = Project::from_repo(|s| s);
    moto.start_recording();
    let plan = project.infra(&moto, &["plan"]).expect(1);
    assert!(
        plan.stdout
            .contains("2 user pools named \"MCPServerPool\" are tagged for this stack"),
        "{}",
        plan.stdout
    );
    for id in &ids {
        assert!(
            plan.stdout.contains(id.as_str()),
            "{id} missing from:\n{}",
            plan.stdout
        );
    }
    project.infra(&moto, &["apply", "--yes"]).expect(1);
    assert_eq!(moto.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_field_aws_cannot_change_in_place_stops_the_plan() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    project.edit_stack(|s| {
        s.replace(
            "description = \"Execution role",
            "path = \"/agentcore/\"\ndescription = \"Execution role",
        )
    });
    moto.start_recording();
    let plan = project.infra(&moto, &["plan"]).expect(1);
    assert!(
        plan.stdout.contains("iam_role.agentcore-web-search-mcp-role: path: is \"/\" in AWS and \"/agentcore/\" in the stack; IAM cannot move a role"),
        "{}",
        plan.stdout
    );
    project.infra(&moto, &["apply", "--yes"]).expect(1);
    assert_eq!(moto.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn without_the_password_variable_an_existing_user_is_left_alone_and_a_new_one_is_refused() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let plan = project.infra_env(&moto, &["plan"], &[]).expect(1);
    assert!(plan.stdout.contains("cognito_user.testuser: password: the user does not exist and $COGNITO_PASSWORD is unset"), "{}", plan.stdout);

    project.infra(&moto, &["apply", "--yes"]).expect(0);
    moto.start_recording();
    let plan = project
        .infra_env(&moto, &["plan", "--detailed-exitcode"], &[])
        .expect(0);
    assert!(
        plan.stdout
            .contains("# note: password: $COGNITO_PASSWORD is unset"),
        "{}",
        plan.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn apply_without_a_terminal_and_without_yes_refuses_before_calling_aws() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    moto.start_recording();
    let run = project.infra(&moto, &["apply"]).expect(1);
    assert!(
        run.stderr.contains("pass --yes") || run.stderr.contains("--yes"),
        "{}",
        run.stderr
    );
    assert_eq!(moto.operations(), Vec::<String>::new());
}

#[tokio::test]
async fn json_plan_is_machine_readable_and_hides_the_password() {
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    let run = project.infra(&moto, &["plan", "--json"]).expect(0);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        plan["summary"],
        serde_json::json!({"create": 9, "update": 0, "delete": 0})
    );
    let user = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "cognito_user")
        .unwrap();
    assert_eq!(user["action"], "create");
    let password = user["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "password")
        .unwrap();
    assert_eq!(password["after"], "(sensitive)");
    let client = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "cognito_user_pool_client")
        .unwrap();
    assert_eq!(
        client["depends_on"],
        serde_json::json!(["cognito_user_pool.MCPServerPool"])
    );
}

#[tokio::test]
async fn a_failed_apply_names_resource_call_and_aws_message_and_a_rerun_converges() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let broken = Project::from_repo(|s| {
        s.replacen(
            "\"Sid\": \"ECRTokenAccess\",\n      \"Effect\": \"Allow\"",
            "\"Sid\": \"ECRTokenAccess\",\n      \"Effect\": \"Maybe\"",
            1,
        )
    });
    let run = broken.infra(&moto, &["apply", "--yes"]).expect(1);
    assert!(
        run.stderr.contains(
            "iam_role_policy.AgentCoreRuntime: PutRolePolicy failed: MalformedPolicyDocument:"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("run apply again"), "{}", run.stderr);
    // What came before the failure stays; the user was never reached (it is in a later level).
    let pool_id = aws.pool_ids(POOL).await.remove(0);
    let role_id = aws
        .iam
        .get_role()
        .role_name(ROLE)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .role_id()
        .to_owned();

    let fixed = Project::from_repo(|s| s);
    let run = fixed.infra(&moto, &["apply", "--yes"]).expect(0);
    assert!(
        run.stdout
            .contains("Resources: 3 created, 0 updated, 0 deleted."),
        "{}",
        run.stdout
    );
    assert_eq!(aws.pool_ids(POOL).await, vec![pool_id]);
    let role = aws.iam.get_role().role_name(ROLE).send().await.unwrap();
    assert_eq!(role.role().unwrap().role_id(), role_id);
}

#[tokio::test]
async fn a_user_disabled_by_hand_is_drift_and_apply_enables_it_and_a_declared_disabled_one_stays_off()
 {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    let pool_id = aws.pool_ids(POOL).await.remove(0);
    aws.cognito
        .admin_disable_user()
        .user_pool_id(&pool_id)
        .username("testuser")
        .send()
        .await
        .unwrap();

    moto.start_recording();
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout.contains("~ enabled: false -> true"),
        "{}",
        plan.stdout
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(moto.writes(), ["AdminSetUserPassword", "AdminEnableUser"]);
    let client_id = aws
        .client_ids(&pool_id, "MCPServerPoolClient")
        .await
        .remove(0);
    assert!(aws.can_sign_in(&client_id, "testuser", PASSWORD).await);

    // Declared disabled: apply disables it, and then a disabled user is as declared.
    project.edit_stack(|s| {
        s.replace(
            "password = { env = \"COGNITO_PASSWORD\" }",
            "password = { env = \"COGNITO_PASSWORD\" }\nenabled = false",
        )
    });
    moto.start_recording();
    project.infra(&moto, &["apply", "--yes"]).expect(0);
    assert_eq!(moto.writes(), ["AdminDisableUser"]);
    let plan = project
        .infra(&moto, &["plan", "--detailed-exitcode"])
        .expect(0);
    assert!(
        plan.stdout
            .contains("# note: password: the user is disabled"),
        "{}",
        plan.stdout
    );
}
