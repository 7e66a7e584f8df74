//! `stack.toml` as users get it wrong: every message, with its position, field and snippet.

use std::path::Path;

use super::*;
use crate::resources::cognito_client::Client;
use crate::resources::cognito_client::section::AuthFlow;
use crate::resources::cognito_pool::UserPool;
use crate::resources::cognito_user::User;
use crate::resources::ecr_repository::Repository;
use crate::resources::iam_role::Role;
use crate::resources::iam_role_policy::RolePolicy;
use crate::resources::iam_role_policy::section::ROLE_POLICY_SIZE;
use crate::resources::image::Image;
use crate::resources::image::section::{ImageSpec, Platform};
use crate::resources::runtime::Runtime;
use crate::resources::runtime::section::SECRETS_POLICY;
use crate::resources::secret::Secret;

const GOOD: &str = r#"
[stack]
name = "web-search-mcp"
region = "us-west-2"

[cognito.user_pool]
name = "MCPServerPool"
password_policy = { minimum_length = 8 }

[cognito.client]
name = "MCPServerPoolClient"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[cognito.users]]
username = "testuser"
password = { env = "COGNITO_PASSWORD" }

[iam.role]
name = "agentcore-web-search-mcp-role"

[iam.role.policies.AgentCoreRuntime]
document = '''{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "arn:aws:logs:${region}:${account_id}:*" } ] }'''
"#;

fn env_with_password(name: &str) -> Option<String> {
    (name == "COGNITO_PASSWORD").then(|| "Correct-Horse-9".to_owned())
}

fn errors(text: &str) -> Vec<String> {
    match crate::registry::parse_stack(Path::new("stack.toml"), text, &env_with_password) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn parses_the_documented_example() {
    let stack =
        crate::registry::parse_stack(Path::new("stack.toml"), GOOD, &env_with_password).unwrap();
    assert_eq!(stack.name, "web-search-mcp");
    assert_eq!(
        stack
            .one::<UserPool>()
            .unwrap()
            .password_policy
            .minimum_length,
        8
    );
    assert_eq!(
        stack.one::<Client>().unwrap().explicit_auth_flows,
        vec![
            AuthFlow::AllowUserPasswordAuth,
            AuthFlow::AllowRefreshTokenAuth
        ]
    );
    let role = stack.one::<Role>().unwrap();
    assert_eq!(role.path, "/");
    assert!(
        role.trust_policy
            .contains("bedrock-agentcore.amazonaws.com")
    );
    assert_eq!(
        stack
            .all::<User>()
            .next()
            .unwrap()
            .password
            .as_ref()
            .unwrap()
            .expose(),
        "Correct-Horse-9"
    );
}

#[test]
fn unknown_key_names_line_and_allowed_keys() {
    let text = GOOD.replace("password_policy =", "pasword_policy =");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "stack.toml:8:1: cognito.user_pool.pasword_policy: unknown field `pasword_policy`; \
             allowed: `name`, `password_policy`"
        ),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains("password_policy"), "{}", errs[0]);
}

#[test]
fn wrong_type_is_reported_with_position() {
    let errs = errors(&GOOD.replace("minimum_length = 8", "minimum_length = \"8\""));
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0],
        "stack.toml:8:38: cognito.user_pool.password_policy.minimum_length: expected an integer \
         from 6 to 99; found the string \"8\"\n  \
         8 | password_policy = { minimum_length = \"8\" }\n    |                                      ^^^"
    );
}

#[test]
fn names_that_break_aws_rules() {
    let long = "r".repeat(65);
    let text = GOOD
        .replace("\"agentcore-web-search-mcp-role\"", &format!("\"{long}\""))
        .replace("\"MCPServerPool\"", "\"bad/pool\"");
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].starts_with("stack.toml:7:8: cognito.user_pool.name: \"bad/pool\""),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].contains("iam.role.name") && errs[1].contains("1-64 characters"),
        "{}",
        errs[1]
    );
}

#[test]
fn password_policy_range() {
    let errs = errors(&GOOD.replace("minimum_length = 8", "minimum_length = 5"));
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0],
        "stack.toml:8:38: cognito.user_pool.password_policy.minimum_length: 5 is out of range; allowed: 6 to 99\n  \
         8 | password_policy = { minimum_length = 5 }\n    |                                      ^"
    );
    assert_eq!(
        errors(&GOOD.replace("minimum_length = 8", "minimum_length = 100")).len(),
        1
    );
}

#[test]
fn literal_password_is_refused_without_echoing_it() {
    let errs = errors(&GOOD.replace("{ env = \"COGNITO_PASSWORD\" }", "\"Sup3r-Secret\""));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains("stack.toml:16:12: cognito.users.password: a literal password"),
        "{}",
        errs[0]
    );
    assert!(!errs[0].contains("Sup3r-Secret"));
}

#[test]
fn weak_password_is_refused_without_echoing_it() {
    let text = GOOD.replace("minimum_length = 8", "minimum_length = 20");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("$COGNITO_PASSWORD does not meet"),
        "{}",
        errs[0]
    );
    assert!(!errs[0].contains("Correct-Horse-9"));
}

#[test]
fn unset_password_variable_is_allowed_until_a_create_needs_it() {
    let stack = crate::registry::parse_stack(Path::new("stack.toml"), GOOD, &|_| None).unwrap();
    assert!(stack.all::<User>().next().unwrap().password.is_none());
    assert_eq!(
        stack.all::<User>().next().unwrap().password_env,
        "COGNITO_PASSWORD"
    );
}

#[test]
fn unknown_auth_flow_lists_the_allowed_ones() {
    let errs = errors(&GOOD.replace("\"ALLOW_REFRESH_TOKEN_AUTH\"", "\"REFRESH_TOKEN\""));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("ALLOW_USER_SRP_AUTH"), "{}", errs[0]);
}

#[test]
fn unknown_placeholder_and_bad_json() {
    let errs = errors(&GOOD.replace("${account_id}", "${acount}"));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .contains("iam.role.policies.AgentCoreRuntime.document: unknown placeholder ${acount}"),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains("${account_id}"));
    let errs = errors(&GOOD.replace("\"Resource\"", "Resource"));
    assert!(errs[0].contains("not valid JSON"), "{}", errs[0]);
}

#[test]
fn a_client_without_refresh_token_auth_is_refused() {
    let errs = errors(&GOOD.replace(", \"ALLOW_REFRESH_TOKEN_AUTH\"", ""));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains(
            "cognito.client.explicit_auth_flows: must include \"ALLOW_REFRESH_TOKEN_AUTH\""
        ),
        "{}",
        errs[0]
    );
}

#[test]
fn syntax_errors_on_a_password_line_do_not_quote_it() {
    for bad in [
        "password = \"Unterminated-S3cret",
        "password = { env = \"X\", value = \"Inline-S3cret\" }",
    ] {
        let text = GOOD.replace("password = { env = \"COGNITO_PASSWORD\" }", bad);
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("stack.toml:16:"), "{}", errs[0]);
        assert!(!errs[0].contains("S3cret"), "{}", errs[0]);
    }
}

#[test]
fn an_empty_role_description_is_no_description() {
    let text = GOOD.replace(
        "name = \"agentcore-web-search-mcp-role\"",
        "name = \"agentcore-web-search-mcp-role\"\ndescription = \"\"",
    );
    let stack =
        crate::registry::parse_stack(Path::new("stack.toml"), &text, &env_with_password).unwrap();
    assert_eq!(stack.one::<Role>().unwrap().description, None);
}

#[test]
fn image_is_a_uri_or_a_build_never_both() {
    let hosting = "\n[ecr.repository]\nname = \"web-search-mcp\"\n[image]\n";
    let stack = |image: &str| {
        crate::registry::parse_stack(
            Path::new("stack.toml"),
            &format!("{GOOD}{hosting}{image}"),
            &env_with_password,
        )
    };
    let built = stack("build = \"server\"").unwrap();
    assert_eq!(
        built.one::<Image>(),
        Some(&ImageSpec::Build {
            package: "server".into(),
            platform: Platform::LinuxArm64,
            format: crate::container::ImageFormat::Docker,
            workspace: None,
        })
    );
    let amd = stack("build = \"server\"\nplatform = \"linux/amd64\"").unwrap();
    assert!(matches!(
        amd.one::<Image>(),
        Some(ImageSpec::Build {
            platform: Platform::LinuxAmd64,
            ..
        })
    ));
    let both = stack("build = \"server\"\nuri = \"${repository_uri}:1\"")
        .unwrap_err()
        .to_string();
    assert!(both.contains("image: declare exactly one of uri"), "{both}");
    let arch = stack("build = \"server\"\nplatform = \"linux/s390x\"")
        .unwrap_err()
        .to_string();
    assert!(
        arch.contains("linux/arm64") && arch.contains("linux/amd64"),
        "{arch}"
    );
    let bad_uri = stack("uri = \"web-search-mcp\"").unwrap_err().to_string();
    assert!(bad_uri.contains("REGISTRY/REPOSITORY:TAG"), "{bad_uri}");
}

const RUNTIME: &str = "\n[ecr.repository]\nname = \"web-search-mcp\"\n[image]\nbuild = \"server\"\n[runtime]\nname = \"web_search\"\n";

#[test]
fn with_a_runtime_the_image_must_be_arm64() {
    let text = format!("{GOOD}{RUNTIME}").replace(
        "build = \"server\"",
        "build = \"server\"\nplatform = \"linux/amd64\"",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("image.platform: AgentCore Runtime runs linux/arm64 only"),
        "{}",
        errs[0]
    );
    assert!(errors(&format!("{GOOD}{RUNTIME}")).is_empty());
}

#[test]
fn runtime_environment_within_aws_limits() {
    let many: String = (0..51).map(|i| format!("V{i:02} = \"x\"\n")).collect();
    let errs = errors(&format!("{GOOD}{RUNTIME}[runtime.environment]\n{many}"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("runtime.environment: at most 50 variables"),
        "{}",
        errs[0]
    );

    let long = "y".repeat(5001);
    let errs = errors(&format!(
        "{GOOD}{RUNTIME}[runtime.environment]\nLONG = \"{long}\"\n"
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("runtime.environment.LONG: at most 5000 characters"),
        "{}",
        errs[0]
    );

    // A secret from the environment: refused without quoting it.
    let text = format!("{GOOD}{RUNTIME}[runtime.environment]\nKEY = {{ env = \"BIG\" }}\n");
    let secret = "s".repeat(5001);
    let env = |name: &str| match name {
        "BIG" => Some(secret.clone()),
        other => env_with_password(other),
    };
    let err = crate::registry::parse_stack(Path::new("stack.toml"), &text, &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the value of $BIG is longer than 5000"),
        "{err}"
    );
    assert!(!err.contains("sss"), "{err}");
}

#[test]
fn jwt_lists_need_the_authorizer_and_headers_follow_aws_pattern() {
    let errs = errors(&format!(
        "{GOOD}{RUNTIME}allowed_scopes = [\"mcp/invoke\"]\n"
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("runtime.allowed_scopes: only with authorizer"),
        "{}",
        errs[0]
    );
    let errs = errors(&format!(
        "{GOOD}{RUNTIME}request_header_allowlist = [\"X-Ok\", \"9-bad\"]\n"
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains(
            "runtime.request_header_allowlist: \"9-bad\": not a header name AgentCore accepts"
        ),
        "{}",
        errs[0]
    );
    assert!(
        errors(&format!(
            "{GOOD}{RUNTIME}request_header_allowlist = [\"X-Ok\"]\n"
        ))
        .is_empty()
    );
}

#[test]
fn a_repository_name_has_at_least_two_characters() {
    let text = format!("{GOOD}\n[ecr.repository]\nname = \"r\"\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("2-256 characters"), "{}", errs[0]);
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = GOOD
        .replace("minimum_length = 8", "minimum_length = 2")
        .replace("\"testuser\"", "\"test user\"");
    assert_eq!(errors(&text).len(), 2);
}

#[test]
fn missing_stack_name() {
    let errs = errors(&GOOD.replace("name = \"web-search-mcp\"\n", ""));
    assert!(errs[0].contains("missing field `name`"), "{}", errs[0]);
}

// ---------------------------------------------------------------------------------------------
// Every problem at once, with its path; what a field accepts; AWS's limits; set-but-empty
// variables. The whole report of each is a snapshot (`snapshots/`).

/// The whole report for `text`, as `infra` prints it after its first line.
fn report(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    match crate::registry::parse_stack(Path::new("stack.toml"), text, env) {
        Ok(_) => panic!("the stack was accepted"),
        Err(e) => e.to_string(),
    }
}

fn report_of(text: &str) -> String {
    report(text, &env_all)
}

/// [`GOOD`] with a repository, an image and a runtime reading a kept secret.
fn full() -> String {
    format!(
        "{GOOD}{RUNTIME}[runtime.secrets]\nOPENAI_API_KEY = \"openai\"\n\n\
         [secrets.openai]\nvalue = {{ env = \"OPENAI_API_KEY\" }}\n"
    )
}

fn env_all(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some("sk-test".to_owned()),
        other => env_with_password(other),
    }
}

#[test]
fn the_full_example_is_valid() {
    let stack = crate::registry::parse_stack(Path::new("stack.toml"), &full(), &env_all).unwrap();
    assert!(stack.all::<RolePolicy>().any(|p| p.name == SECRETS_POLICY));
}

#[test]
fn every_problem_is_reported_at_once_type_errors_included() {
    let text = full()
        .replace("minimum_length = 8", "minimum_length = \"eight\"")
        .replace(
            "name = \"MCPServerPool\"",
            "name = \"MCP/Pool\"\nmfa = \"ON\"",
        )
        .replace(
            "name = \"agentcore-web-search-mcp-role\"",
            "name = \"agentcore-web-search-mcp-role\"\nmax_session_duration = \"1h\"",
        )
        .replace("username = \"testuser\"", "username = 42")
        .replace("\"ALLOW_REFRESH_TOKEN_AUTH\"]", "\"ALLOW_REFRESH_TOKEN\"]")
        .replace(
            "build = \"server\"",
            "build = \"server\"\nplatform = \"linux/s390x\"",
        );
    let report = report_of(&text);
    assert_eq!(report.matches("stack.toml:").count(), 7, "{report}");
    insta::assert_snapshot!(report);
}

#[test]
fn values_from_the_environment_say_what_they_accept_and_never_show_what_was_written() {
    let text = full()
        .replace(
            "password = { env = \"COGNITO_PASSWORD\" }",
            "password = 12345678",
        )
        .replace(
            "value = { env = \"OPENAI_API_KEY\" }",
            "value = { env = \"OPENAI_API_KEY\", literal = \"sk-Hunter2\" }",
        )
        + "\n[runtime.environment]\nSEARCH_LIMIT = 5\nOTHER = [\"sk-Hunter2\"]\n";
    let report = report_of(&text);
    assert!(!report.contains("12345678"), "{report}");
    assert!(!report.contains("Hunter2"), "{report}");
    assert!(!report.contains("untagged"), "{report}");
    insta::assert_snapshot!(report);
}

#[test]
fn a_missing_required_field_is_named_with_what_it_takes() {
    let text = full()
        .replace("username = \"testuser\"\n", "")
        .replace(
            "explicit_auth_flows = [\"ALLOW_USER_PASSWORD_AUTH\", \"ALLOW_REFRESH_TOKEN_AUTH\"]\n",
            "",
        )
        .replace("document = '''", "documnt = '''");
    insta::assert_snapshot!(report_of(&text));
}

#[test]
fn syntax_errors_are_all_reported() {
    let text = GOOD
        .replace(
            "region = \"us-west-2\"",
            "region = \"us-west-2\"\nregion = \"eu-west-1\"",
        )
        .replace("[cognito.client]", "[cognito.client");
    insta::assert_snapshot!(report(&text, &env_with_password));
}

#[test]
fn long_values_are_cut_to_a_readable_width() {
    let huge = "d".repeat(10 * 1024 * 1024);
    let text = GOOD
        .replace(
            "name = \"agentcore-web-search-mcp-role\"",
            &format!("name = \"agentcore-web-search-mcp-role\"\ndescription = \"{huge}\""),
        )
        .replace("\"MCPServerPool\"", &format!("\"{}\"", "p/".repeat(50_000)))
        .replace(
            "username = \"testuser\"",
            &format!("username = {}", "7".repeat(5000)),
        );
    let report = report(&text, &env_with_password);
    assert!(report.len() < 3000, "{} bytes", report.len());
    insta::assert_snapshot!(report);
}

/// A policy document of one statement with `n` resources, `resource` and a number each.
fn document_of(resource: &str, n: usize) -> String {
    let resources: Vec<String> = (0..n).map(|i| format!("\"{resource}{i:04}\"")).collect();
    format!(
        "{{ \"Version\": \"2012-10-17\", \"Statement\": [ {{ \"Effect\": \"Allow\", \
         \"Action\": \"s3:GetObject\", \"Resource\": [ {} ] }} ] }}",
        resources.join(", ")
    )
}

/// [`full`] with a second inline policy.
fn with_policy(document: &str) -> String {
    format!(
        "{}\n[iam.role.policies.Big]\ndocument = '''{document}'''\n",
        full()
    )
}

#[test]
fn role_policies_over_iams_size_are_refused_before_any_call() {
    // 10,240 characters for all inline policies of the role together, infra-secrets included.
    let report = report_of(&with_policy(&document_of("arn:aws:s3:::bucket/", 380)));
    insta::assert_snapshot!(report);

    // Placeholders count as what they become: `${repository_arn}` is 17 characters here and
    // 60 at IAM.
    let short = document_of("${repository_arn}/", 200);
    assert!(short.chars().filter(|c| !c.is_whitespace()).count() < ROLE_POLICY_SIZE);
    let err = report_of(&with_policy(&short));
    assert!(
        err.contains("iam.role.policies: the role's inline policies come to"),
        "{err}"
    );

    // Whitespace does not count, as at IAM.
    let spaced =
        document_of("arn:aws:s3:::b/", 100).replace(", ", &format!(",{}", " ".repeat(200)));
    assert!(spaced.len() > ROLE_POLICY_SIZE);
    crate::registry::parse_stack(Path::new("stack.toml"), &with_policy(&spaced), &env_all).unwrap();
}

#[test]
fn a_trust_policy_over_iams_default_quota_is_refused() {
    let trust = document_of("arn:aws:iam::123456789012:role/r", 60)
        .replace(
            "\"Action\": \"s3:GetObject\"",
            "\"Action\": \"sts:AssumeRole\"",
        )
        .replace(
            "\"Resource\"",
            "\"Principal\": { \"AWS\": \"*\" }, \"NotResource\"",
        );
    let text = full().replace(
        "name = \"agentcore-web-search-mcp-role\"",
        &format!("name = \"agentcore-web-search-mcp-role\"\ntrust_policy = '''{trust}'''"),
    );
    insta::assert_snapshot!(report_of(&text));
}

#[test]
fn values_longer_than_aws_allows_are_refused_without_being_shown() {
    let long_password = format!("Aa1!{}", "x".repeat(253));
    let long_secret = "k".repeat(65_537);
    let env = |name: &str| match name {
        "COGNITO_PASSWORD" => Some(long_password.clone()),
        "OPENAI_API_KEY" => Some(long_secret.clone()),
        _ => None,
    };
    let report = report(&full(), &env);
    assert!(
        !report.contains("xxx") && !report.contains("kkk"),
        "{report}"
    );
    insta::assert_snapshot!(report);

    // At the limits, both are fine.
    let env = |name: &str| match name {
        "COGNITO_PASSWORD" => Some(format!("Aa1!{}", "x".repeat(252))),
        "OPENAI_API_KEY" => Some("k".repeat(65_536)),
        _ => None,
    };
    crate::registry::parse_stack(Path::new("stack.toml"), &full(), &env).unwrap();
}

#[test]
fn a_variable_set_but_empty_is_reported_as_empty_not_as_unset() {
    let text = full()
        .replace(
            "OPENAI_API_KEY = \"openai\"",
            "OPENAI_API_KEY = \"openai\"\n\n[runtime.environment]\n\
             SEARCH_HINT = { env = \"SEARCH_HINT\" }",
        )
        .replace(
            "name = \"web_search\"",
            "name = \"web_search\"\nallow_plaintext_secrets = true",
        );
    let empty = |_: &str| Some(String::new());
    insta::assert_snapshot!(report(&text, &empty));

    // Unset, each is left alone (the plan says so), and the file is valid.
    let stack = crate::registry::parse_stack(Path::new("stack.toml"), &text, &|_| None).unwrap();
    assert!(stack.all::<User>().next().unwrap().password.is_none());
}

/// The fields serde lists for an unknown key in a table at `path` (`zz_not_a_field`).
fn fields_at(path: &str) -> Vec<String> {
    let text = match path {
        "" => "zz_not_a_field = 0\n[stack]\nname = \"s\"\n".to_owned(),
        "stack" => "[stack]\nname = \"s\"\nzz_not_a_field = 0\n".to_owned(),
        _ => format!("[stack]\nname = \"s\"\n[{path}]\nzz_not_a_field = 0\n"),
    };
    let report = match crate::registry::parse_stack(Path::new("stack.toml"), &text, &|_| None) {
        Ok(_) => panic!("{path}: an unknown field was accepted"),
        Err(e) => e.to_string(),
    };
    let line = report
        .lines()
        .find(|l| l.contains("unknown field `zz_not_a_field`"))
        .unwrap_or_else(|| panic!("{path}: {report}"));
    let (_, allowed) = line
        .split_once("allowed: ")
        .unwrap_or_else(|| panic!("{line}"));
    allowed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_field_says_what_it_accepts() {
    // Every table of the file: the root, the groups, each section (an entry of a map), and the
    // tables inside sections.
    let mut tables: Vec<String> = vec![String::new(), "stack".into()];
    for section in crate::registry::sections() {
        let path = section.path();
        let mut steps = String::new();
        for step in path.split('.') {
            if !steps.is_empty() {
                steps.push('.');
            }
            steps.push_str(step);
            if !tables.contains(&steps)
                && crate::registry::sections()
                    .iter()
                    .all(|s| s.path() != steps)
            {
                tables.push(steps.clone());
            }
        }
        match section.shape() {
            // A section that is a table (not a value, such as a retention in days).
            Shape::One
                if section
                    .accepts("")
                    .is_some_and(|a| a.starts_with("a table")) =>
            {
                tables.push(path.into())
            }
            Shape::One => {}
            Shape::List => {}
            Shape::Map => tables.push(format!("{path}.k")),
        }
    }
    tables.push("cognito.user_pool.password_policy".into());
    let sections = Sections(crate::registry::sections());
    let accepts = |path: &str| match path.strip_prefix("stack") {
        Some(rest) if rest.is_empty() || rest.starts_with('.') => {
            stack_accepts(rest.trim_start_matches('.'))
        }
        _ => sections.accepts(path),
    };
    let mut missing = Vec::new();
    for table in &tables {
        let fields = if table == "cognito.users" {
            Vec::new() // a list of tables: checked below
        } else {
            let fields = fields_at(table);
            assert!(!fields.is_empty(), "{table} lists no fields");
            fields
        };
        for field in fields {
            let path = if table.is_empty() {
                field
            } else {
                format!("{table}.{field}")
            };
            if accepts(&path).is_none() {
                missing.push(path);
            }
        }
    }
    for path in [
        "cognito.users.username",
        "cognito.users.password",
        "cognito.users.password.env",
        "cognito.users.enabled",
        "iam.role.policies.P",
        "iam.role.policies.P.document",
        "runtime.environment.X",
        "runtime.secrets.X",
        "secrets.k",
        "secrets.k.value",
        "secrets.k.value.env",
        "secrets",
    ] {
        if accepts(path).is_none() {
            missing.push(path.to_owned());
        }
    }
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "fields that do not say what they accept"
    );
}

#[test]
fn a_missing_or_misshapen_section_is_one_problem_each() {
    let text = "[cognito]\nusers = 5\n\n[cognito.user_pool]\nname = \"p\"\n\n\
                [cognito.client]\nname = \"c\"\nexplicit_auth_flows = \"ALLOW_REFRESH_TOKEN_AUTH\"\n\n\
                [[image]]\nuri = \"x\"\n";
    let report = report(text, &|_| None);
    assert_eq!(report.matches("stack.toml:").count(), 4, "{report}");
    insta::assert_snapshot!(report);
}

// ---------------------------------------------------------------------------------------------
// `adopt`, and what AgentCore or Cognito would refuse, or accept and then fail every call with.

#[test]
fn adopt_is_accepted_in_every_section_whose_resource_can_be_found_without_the_stack_tag() {
    // The sections whose kinds claim a same-named resource by its tags, so a plan may advise
    // `adopt = true`: the pool, the role, the repository, a kept secret and the runtime. (An app
    // client has no tags: inside the stack's pool it is the stack's, and never foreign.)
    let text = full()
        .replace(
            "name = \"MCPServerPool\"",
            "name = \"MCPServerPool\"\nadopt = true",
        )
        .replace(
            "name = \"agentcore-web-search-mcp-role\"",
            "name = \"agentcore-web-search-mcp-role\"\nadopt = true",
        )
        .replace(
            "[ecr.repository]\nname = \"web-search-mcp\"",
            "[ecr.repository]\nname = \"web-search-mcp\"\nadopt = true",
        )
        .replace(
            "name = \"web_search\"",
            "name = \"web_search\"\nadopt = true",
        )
        .replace(
            "value = { env = \"OPENAI_API_KEY\" }",
            "value = { env = \"OPENAI_API_KEY\" }\nadopt = true",
        );
    let stack = crate::registry::parse_stack(Path::new("stack.toml"), &text, &env_all)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(stack.one::<UserPool>().unwrap().adopt);
    assert!(stack.one::<Role>().unwrap().adopt);
    assert!(stack.one::<Repository>().unwrap().adopt);
    assert!(stack.one::<Runtime>().unwrap().adopt);
    assert!(stack.all::<Secret>().next().unwrap().adopt);
    // Left out, nothing is adopted.
    let stack = crate::registry::parse_stack(Path::new("stack.toml"), &full(), &env_all).unwrap();
    assert!(!stack.one::<Runtime>().unwrap().adopt);
}

#[test]
fn an_audience_with_the_cognito_authorizer_is_refused_saying_why() {
    // Cognito's access tokens name their client in `client_id` and carry no `aud`: AgentCore
    // would answer every call 401.
    let text = full().replace(
        "name = \"web_search\"",
        "name = \"web_search\"\nauthorizer = \"cognito\"\nallowed_audience = [\"web-search\"]",
    );
    let report = report_of(&text);
    assert_eq!(report.matches("stack.toml:").count(), 1, "{report}");
    insta::assert_snapshot!(report);
    // Scopes are what narrows who may call.
    let scoped = full().replace(
        "name = \"web_search\"",
        "name = \"web_search\"\nauthorizer = \"cognito\"\nallowed_scopes = [\"mcp/invoke\"]",
    );
    crate::registry::parse_stack(Path::new("stack.toml"), &scoped, &env_all).unwrap();
}

#[test]
fn the_kms_key_of_a_secret_the_runtime_reads_is_a_key_arn() {
    // The runtime's `kms:Decrypt` grant names the key; IAM matches keys by ARN only.
    let with_key = |key: &str| {
        full().replace(
            "value = { env = \"OPENAI_API_KEY\" }",
            &format!("value = {{ env = \"OPENAI_API_KEY\" }}\nkms_key = \"{key}\""),
        )
    };
    let mut reports = Vec::new();
    for key in [
        "alias/web-search",
        "arn:aws:kms:us-west-2:111122223333:alias/web-search",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        let report = report_of(&with_key(key));
        assert_eq!(report.matches("stack.toml:").count(), 1, "{report}");
        reports.push(report);
    }
    insta::assert_snapshot!(reports.join("\n"));

    let arn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let stack =
        crate::registry::parse_stack(Path::new("stack.toml"), &with_key(arn), &env_all).unwrap();
    let grant = stack
        .all::<RolePolicy>()
        .find(|p| p.name == SECRETS_POLICY)
        .unwrap();
    assert!(grant.document.contains(arn), "{}", grant.document);
    // A secret the runtime does not read gets no grant: Secrets Manager takes an alias.
    let unread = with_key("alias/web-search").replace("OPENAI_API_KEY = \"openai\"\n", "");
    crate::registry::parse_stack(Path::new("stack.toml"), &unread, &env_all).unwrap();
}

#[test]
fn request_headers_agentcore_would_refuse_or_never_pass_on_are_named_one_by_one() {
    let headers = [
        "X-Amzn-Trace-Id",
        "x-amz-date",
        "Content-Type",
        "Authorization",
        "X-Amzn-Bedrock-AgentCore-Runtime-Custom-",
        "X-Api-Key",
        "x-api-key",
        "9-bad",
    ];
    let list: Vec<String> = headers.iter().map(|h| format!("\"{h}\"")).collect();
    let text = full().replace(
        "name = \"web_search\"",
        &format!(
            "name = \"web_search\"\nrequest_header_allowlist = [\n  {}\n]",
            list.join(",\n  ")
        ),
    );
    let report = report_of(&text);
    assert_eq!(report.matches("stack.toml:").count(), 7, "{report}");
    insta::assert_snapshot!("request_headers", report);

    let many: Vec<String> = (0..21)
        .map(|i| format!("\"X-Amzn-Bedrock-AgentCore-Runtime-Custom-H{i}\""))
        .collect();
    let text = full().replace(
        "name = \"web_search\"",
        &format!(
            "name = \"web_search\"\nrequest_header_allowlist = [{}]",
            many.join(", ")
        ),
    );
    let report = report_of(&text);
    assert_eq!(report.matches("stack.toml:").count(), 1, "{report}");
    insta::assert_snapshot!("request_headers_over_the_limit", report);

    // What AgentCore passes on: Authorization behind the JWT authorizer, its custom prefix, and
    // any other header name outside AWS's own and the restricted ones.
    let text = full().replace(
        "name = \"web_search\"",
        "name = \"web_search\"\nauthorizer = \"cognito\"\nrequest_header_allowlist = \
         [\"Authorization\", \"X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant\", \"X-Api-Key\"]",
    );
    crate::registry::parse_stack(Path::new("stack.toml"), &text, &env_all).unwrap();
}
