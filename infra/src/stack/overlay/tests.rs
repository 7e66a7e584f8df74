//! Environments: the merge (tables merge, scalars and arrays replace), errors at the line of the
//! file each value came from, and the names two environments may not share.

use std::path::Path;

use super::*;
use crate::resources::cognito_pool::UserPool;
use crate::resources::cognito_user::User;
use crate::resources::ecr_repository::Repository;
use crate::resources::iam_role::Role;
use crate::resources::runtime::Runtime;

/// A whole stack, each global name on its own line.
const BASE: &str = r#"[stack]
name = "shop"
region = "us-west-2"

[cognito.user_pool]
name = "ShopPool"
password_policy = { minimum_length = 8, require_numbers = true }

[cognito.client]
name = "ShopClient"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

[[cognito.users]]
username = "alice"
password = { env = "COGNITO_PASSWORD" }

[[cognito.users]]
username = "bob"
password = { env = "COGNITO_PASSWORD" }

[iam.role]
name = "shop-role"
description = "the shop's role"

[ecr.repository]
name = "shop"

[image]
uri = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prebuilt@sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"

[runtime]
name = "shop"
description = "the shop"
idle_timeout_seconds = 900
authorizer = "cognito"

[runtime.environment]
MODE = "base"
COLOUR = "blue"
"#;

/// An overlay that gives an environment its own name for everything.
fn own_names(env: &str) -> String {
    format!(
        "[stack]\nname = \"shop-{env}\"\n\n[cognito.user_pool]\nname = \"ShopPool-{env}\"\n\n\
         [iam.role]\nname = \"shop-role-{env}\"\n\n[ecr.repository]\nname = \"shop-{env}\"\n\n\
         [runtime]\nname = \"shop_{env}\"\n"
    )
}

fn password(name: &str) -> Option<String> {
    (name == "COGNITO_PASSWORD").then(|| "Correct-Horse-9".to_owned())
}

/// A directory holding `files`.
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// `stack.toml` in `dir` loaded as `infra --env ENV` loads it.
fn load(dir: &tempfile::TempDir, env: Option<&str>) -> Result<Stack, StackErrors> {
    crate::registry::load_environment(&dir.path().join("stack.toml"), env, &password)
}

/// The errors of loading, as `infra` prints them, the directory as `[DIR]`.
fn refused(dir: &tempfile::TempDir, env: Option<&str>) -> Vec<String> {
    let errors = match load(dir, env) {
        Ok(_) => panic!("the stack was accepted"),
        Err(errors) => errors,
    };
    let shown = dir.path().display().to_string();
    errors
        .errors
        .iter()
        .map(|e| e.to_string().replace(&shown, "[DIR]"))
        .collect()
}

fn merged(base: &str, overlay: &str) -> Document<'static> {
    let mut source = Source::new(Path::new("stack.toml"), base);
    source.add(Path::new("stack.dev.toml"), overlay);
    // The documents borrow the source's text: keep it for the test's length.
    let source: &'static Source = Box::leak(Box::new(source));
    let mut document = Document::parse(source.file(0));
    document.merge(Document::parse(source.file(1)));
    document
}

/// The merged value at a dotted path, as TOML would write it (a table by its keys).
fn value(document: &Document, field: &str) -> String {
    fn shown(value: &DeValue) -> String {
        match value {
            DeValue::String(s) => format!("{s:?}"),
            DeValue::Integer(i) => i.as_str().to_owned(),
            DeValue::Boolean(b) => b.to_string(),
            DeValue::Array(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| shown(i.get_ref()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DeValue::Table(table) => format!(
                "{{ {} }}",
                table
                    .iter()
                    .map(|(k, v)| format!("{} = {}", k.get_ref(), shown(v.get_ref())))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => format!("{other:?}"),
        }
    }
    at(document.root.get_ref(), field).map_or_else(|| "(none)".to_owned(), |v| shown(v.get_ref()))
}

#[test]
fn tables_merge_scalars_and_arrays_replace() {
    let document = merged(
        BASE,
        r#"
[stack]
name = "shop-dev"

[cognito.user_pool.password_policy]
minimum_length = 12

[cognito.client]
explicit_auth_flows = ["ALLOW_REFRESH_TOKEN_AUTH"]

[[cognito.users]]
username = "carol"
password = { env = "COGNITO_PASSWORD" }

[runtime]
description = "the shop, dev"

[runtime.environment]
MODE = "dev"
"#,
    );
    assert!(document.syntax.is_empty());
    // A scalar replaces; the table it is in keeps the base's other keys.
    assert_eq!(value(&document, "stack.name"), "\"shop-dev\"");
    assert_eq!(value(&document, "stack.region"), "\"us-west-2\"");
    // An inline table in the base and a header table in the overlay are both tables: merged.
    assert_eq!(
        value(&document, "cognito.user_pool.password_policy"),
        "{ minimum_length = 12, require_numbers = true }"
    );
    // An array replaces the base's whole, an array of tables too.
    assert_eq!(
        value(&document, "cognito.client.explicit_auth_flows"),
        "[\"ALLOW_REFRESH_TOKEN_AUTH\"]"
    );
    assert_eq!(
        value(&document, "cognito.users"),
        "[{ password = { env = \"COGNITO_PASSWORD\" }, username = \"carol\" }]"
    );
    assert_eq!(value(&document, "runtime.description"), "\"the shop, dev\"");
    assert_eq!(value(&document, "runtime.name"), "\"shop\"");
    assert_eq!(
        value(&document, "runtime.environment"),
        "{ COLOUR = \"blue\", MODE = \"dev\" }"
    );
}

#[test]
fn a_value_replaces_a_table_and_a_table_a_value() {
    let document = merged("[a]\nb = { c = 1 }\nd = 2\n", "[a]\nb = 3\n[a.d]\ne = 4\n");
    assert_eq!(value(&document, "a.b"), "3");
    assert_eq!(value(&document, "a.d"), "{ e = 4 }");
}

#[test]
fn each_merged_value_keeps_the_span_of_the_file_it_came_from() {
    let overlay = "[runtime]\ndescription = \"dev\"\n";
    let document = merged(BASE, overlay);
    let mut source = Source::new(Path::new("stack.toml"), BASE);
    source.add(Path::new("stack.dev.toml"), overlay);
    let place = |field: &str| {
        let value = at(document.root.get_ref(), field).unwrap();
        source.place(value.span().start)
    };
    assert_eq!(place("runtime.description"), "stack.dev.toml:2:15");
    assert_eq!(place("runtime.name"), "stack.toml:32:8");
    assert_eq!(place("iam.role.name"), "stack.toml:22:8");
}

#[test]
fn an_overlays_bad_value_is_reported_at_the_overlays_line_and_a_bases_at_the_bases() {
    let dir = dir_with(&[
        (
            "stack.toml",
            &BASE.replace("idle_timeout_seconds = 900", "idle_timeout_seconds = 5"),
        ),
        (
            "stack.dev.toml",
            "[stack]\nname = \"shop-dev\"\n\n[iam.role]\nname = \"shop-role-dev\"\n\
             max_session_duration = 1\n\n[ecr.repository]\nname = \"shop-dev\"\n\n\
             [cognito.user_pool]\nname = \"ShopPool-dev\"\n\n[runtime]\nname = \"shop_dev\"\n\
             description = 7\nmax_lifetime_seconds = 30\n",
        ),
    ]);
    let errors = refused(&dir, Some("dev"));
    insta::assert_snapshot!(errors.join("\n"));
    // The base first, then the overlay; each in the order of its lines.
    assert!(errors[0].starts_with("[DIR]/stack.toml:34:"), "{errors:#?}");
    assert!(
        errors[1..]
            .iter()
            .all(|e| e.starts_with("[DIR]/stack.dev.toml:")),
        "{errors:#?}"
    );
}

#[test]
fn an_unknown_key_and_a_syntax_error_in_the_overlay_are_reported_in_the_overlay() {
    let dir = dir_with(&[
        ("stack.toml", BASE),
        (
            "stack.dev.toml",
            &format!("{}descripton = \"typo\"\n", own_names("dev")),
        ),
        ("stack.prod.toml", &own_names("prod")),
    ]);
    let errors = refused(&dir, Some("dev"));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "[DIR]/stack.dev.toml:15:1: runtime.descripton: unknown field `descripton`"
        ),
        "{}",
        errors[0]
    );

    std::fs::write(
        dir.path().join("stack.dev.toml"),
        format!("{}description = \"unterminated\n", own_names("dev")),
    )
    .unwrap();
    let errors = refused(&dir, Some("dev"));
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("[DIR]/stack.dev.toml:15:")),
        "{errors:#?}"
    );
}

#[test]
fn an_environment_gets_its_overlay_and_keeps_the_base_path() {
    let dir = dir_with(&[
        ("stack.toml", BASE),
        (
            "stack.dev.toml",
            &format!("{}description = \"dev\"\n", own_names("dev")),
        ),
        ("stack.prod.toml", &own_names("prod")),
    ]);
    let stack = load(&dir, Some("dev")).unwrap();
    assert_eq!(stack.name, "shop-dev");
    assert_eq!(stack.path, dir.path().join("stack.toml"));
    assert_eq!(stack.overlay, Some(dir.path().join("stack.dev.toml")));
    assert_eq!(stack.one::<UserPool>().unwrap().name, "ShopPool-dev");
    assert_eq!(stack.one::<Role>().unwrap().name, "shop-role-dev");
    assert_eq!(
        stack.one::<Role>().unwrap().description.as_deref(),
        Some("the shop's role")
    );
    assert_eq!(stack.one::<Repository>().unwrap().name, "shop-dev");
    let runtime = stack.one::<Runtime>().unwrap();
    assert_eq!(runtime.name, "shop_dev");
    assert_eq!(runtime.description.as_deref(), Some("dev"));
    assert_eq!(stack.all::<User>().count(), 2);

    let prod = load(&dir, Some("prod")).unwrap();
    assert_eq!(prod.name, "shop-prod");
    assert_eq!(
        prod.one::<Runtime>().unwrap().description.as_deref(),
        Some("the shop")
    );
}

#[test]
fn a_missing_overlay_is_named_with_the_environments_there_are() {
    let dir = dir_with(&[
        ("stack.toml", BASE),
        ("stack.dev.toml", &own_names("dev")),
        ("stack.prod.toml", &own_names("prod")),
    ]);
    assert_eq!(
        refused(&dir, Some("staging")),
        [
            "[DIR]/stack.staging.toml: no such file: --env staging reads this overlay beside \
          [DIR]/stack.toml (environments beside it: dev, prod)"
        ]
    );
    let alone = dir_with(&[("stack.toml", BASE)]);
    assert_eq!(
        refused(&alone, Some("dev")),
        [
            "[DIR]/stack.dev.toml: no such file: --env dev reads this overlay beside \
          [DIR]/stack.toml (there is no stack.NAME.toml beside it)"
        ]
    );
}

#[test]
fn an_overlay_without_its_own_stack_name_is_refused() {
    let without = own_names("dev").replacen("name = \"shop-dev\"\n", "region = \"eu-west-1\"\n", 1);
    let dir = dir_with(&[("stack.toml", BASE), ("stack.dev.toml", &without)]);
    assert_eq!(
        refused(&dir, Some("dev")),
        [
            "[DIR]/stack.dev.toml:1:1: stack.name: [DIR]/stack.dev.toml does not set [stack] \
             name, so environment dev would be the stack of [DIR]/stack.toml itself: each \
             environment is a stack of its own; add [stack] name = \"shop-dev\" to it\n  \
             1 | [stack]\n    | ^^^^^^^"
        ]
    );
    // Without a [stack] table at all: no line to show.
    let without = own_names("dev").replace("[stack]\nname = \"shop-dev\"\n", "");
    std::fs::write(dir.path().join("stack.dev.toml"), without).unwrap();
    let errors = refused(&dir, Some("dev"));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .starts_with("[DIR]/stack.dev.toml: stack.name: [DIR]/stack.dev.toml does not set"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_name_two_environments_share_is_refused_naming_both_files_and_the_field() {
    // dev sets its role name to prod's (in another case: IAM ignores case), and takes the
    // repository and runtime names from the base, as prod does.
    let dev = own_names("dev")
        .replace("shop-role-dev", "Shop-Role-Prod")
        .replace("[ecr.repository]\nname = \"shop-dev\"\n", "")
        .replace("[runtime]\nname = \"shop_dev\"\n", "");
    let prod = own_names("prod")
        .replace("[ecr.repository]\nname = \"shop-prod\"\n", "")
        .replace("[runtime]\nname = \"shop_prod\"\n", "");
    let dir = dir_with(&[
        ("stack.toml", BASE),
        ("stack.dev.toml", &dev),
        ("stack.prod.toml", &prod),
    ]);
    let errors = refused(&dir, Some("dev"));
    insta::assert_snapshot!(errors.join("\n"));
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("[DIR]/stack.toml:26:8: ecr.repository.name: "));
    assert!(errors[1].starts_with("[DIR]/stack.toml:32:8: runtime.name: "));
    assert!(errors[2].starts_with("[DIR]/stack.dev.toml:8:8: iam.role.name: "));
    assert!(errors[2].contains("environment prod ([DIR]/stack.prod.toml:8:8)"));
}

#[test]
fn two_overlays_of_one_stack_name_are_one_stack_and_refused() {
    let dir = dir_with(&[
        ("stack.toml", BASE),
        ("stack.dev.toml", &own_names("dev")),
        (
            "stack.prod.toml",
            &own_names("prod").replace("shop-prod\"\n\n[cognito", "shop-dev\"\n\n[cognito"),
        ),
    ]);
    let errors = refused(&dir, Some("prod"));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "[DIR]/stack.prod.toml:2:8: stack.name: \"shop-dev\" is also the stack name of \
             environment dev ([DIR]/stack.dev.toml:2:8)"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn the_base_alone_is_an_environment_only_without_env() {
    // prod changes the names, dev only the stack's: dev shares the base's other names.
    let dir = dir_with(&[
        ("stack.toml", BASE),
        ("stack.dev.toml", "[stack]\nname = \"shop-dev\"\n"),
        ("stack.prod.toml", &own_names("prod")),
    ]);
    // With --env, the base alone is not deployed: dev and prod differ, so dev loads...
    assert_eq!(load(&dir, Some("dev")).unwrap().name, "shop-dev");
    // ...and prod too.
    assert_eq!(load(&dir, Some("prod")).unwrap().name, "shop-prod");
    // Without --env, the base is deployed as it is, and shares its names with dev.
    let errors = refused(&dir, None);
    insta::assert_snapshot!(errors.join("\n"));
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(errors.iter().all(|e| e.starts_with("[DIR]/stack.toml:")));
    assert!(
        errors
            .iter()
            .all(|e| e.contains("set") && e.contains("in [DIR]/stack.dev.toml"))
    );

    // A base with no overlay beside it is what it always was.
    let alone = dir_with(&[("stack.toml", BASE)]);
    assert_eq!(load(&alone, None).unwrap().overlay, None);
}

#[test]
fn another_environments_broken_overlay_is_reported_as_such() {
    let dir = dir_with(&[
        ("stack.toml", BASE),
        ("stack.dev.toml", &own_names("dev")),
        ("stack.prod.toml", "[stack\nname = \"shop-prod\"\n"),
    ]);
    let errors = refused(&dir, Some("dev"));
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("[DIR]/stack.prod.toml:1:")
                && e.contains("each stack.NAME.toml beside [DIR]/stack.toml is an environment")),
        "{errors:#?}"
    );
}

#[test]
fn environment_names_are_simple_and_only_overlays_named_so_are_environments() {
    for good in ["dev", "prod", "eu-west_2", "a", &"x".repeat(32)] {
        assert!(is_environment_name(good), "{good}");
        assert_eq!(environment_name(good).as_deref(), Ok(good));
    }
    for bad in ["", "Dev", "prod.eu", "../prod", "dev toml", &"x".repeat(33)] {
        assert!(!is_environment_name(bad), "{bad}");
        assert!(
            environment_name(bad)
                .unwrap_err()
                .contains("not an environment name")
        );
    }
    assert_eq!(
        overlay_path(Path::new("deploy/stack.toml"), "dev"),
        Path::new("deploy/stack.dev.toml")
    );
    assert_eq!(
        overlay_path(Path::new("infra"), "dev"),
        Path::new("infra.dev.toml")
    );
    let dir = dir_with(&[
        ("stack.toml", BASE),
        ("stack.dev.toml", ""),
        ("stack.prod.toml", ""),
        ("stack.prod.toml.bak", ""),
        ("stack.Prod.toml", ""),
        ("stack.eu.prod.toml", ""),
        ("other.dev.toml", ""),
    ]);
    let found: Vec<String> = environments(&dir.path().join("stack.toml"))
        .unwrap()
        .into_iter()
        .map(|(name, path)| format!("{name} {}", path.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(found, ["dev stack.dev.toml", "prod stack.prod.toml"]);
}
