//! `infra init`: a commented starter `stack.toml`, the repository's own deployment (Cognito, the
//! execution role, ECR, the image built from the `server` package, the runtime), with its names
//! derived from the directory or `--name`.

use std::io::Write;
use std::path::Path;

/// The repository's own stack file, comments and all: the starter's template.
const TEMPLATE: &str = include_str!("../../stack.toml");

/// A name for the stack from `raw` (a directory name): lower-case ASCII letters, digits and
/// `-`, starting with a letter, at most 32 characters (room for the suffixes below within
/// every AWS name limit: IAM roles 64, Cognito pools 128, ECR 256, runtimes 48). Whatever
/// `raw` holds (one letter, spaces, non-ASCII, nothing usable), every name [`starter`] derives
/// from it passes the stack's validation.
pub fn stack_name(raw: &str) -> String {
    let mut name = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches('-');
    let name = name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
    let mut name: String = name.chars().take(32).collect();
    while name.ends_with('-') {
        name.pop();
    }
    if name.is_empty() {
        "mcp-server".to_owned()
    } else {
        name
    }
}

/// The ECR repository's name: the stack's, padded to ECR's minimum of two characters (a stack
/// named `n` gets the repository `n-mcp`).
fn repository_name(name: &str) -> String {
    if name.chars().count() >= 2 {
        name.to_owned()
    } else {
        format!("{name}-mcp")
    }
}

/// The starter stack for `name` (already a [`stack_name`]).
pub fn starter(name: &str) -> String {
    let runtime = name.replace('-', "_");
    let repository = repository_name(name);
    let replaced = [
        (
            "name = \"web-search-mcp\"        # every resource",
            format!("name = {:<22}# every resource", format!("\"{name}\"")),
        ),
        (
            "name = \"MCPServerPool\"",
            format!("name = \"{name}-users\""),
        ),
        (
            "name = \"MCPServerPoolClient\"",
            format!("name = \"{name}-client\""),
        ),
        (
            "name = \"agentcore-web-search-mcp-role\"",
            format!("name = \"{name}-agentcore-role\""),
        ),
        (
            "[ecr.repository]\nname = \"web-search-mcp\"",
            format!("[ecr.repository]\nname = \"{repository}\""),
        ),
        (
            "name = \"web_search_mcp\"            #",
            format!("name = {:<26}#", format!("\"{runtime}\"")),
        ),
    ];
    let mut text = TEMPLATE.to_owned();
    for (from, to) in replaced {
        assert!(text.contains(from), "the template no longer has {from:?}");
        text = text.replacen(from, &to, 1);
    }
    format!(
        "# Written by `infra init`. Review it, export COGNITO_PASSWORD and OPENAI_API_KEY, then run\n\
         # `infra plan`. `build = \"server\"` below is the cargo package of the MCP server to deploy.\n\
         {text}"
    )
}

/// Write the starter to `path`, never over an existing file, and never a starter that `plan`
/// would refuse: then nothing is written and the error names the rule it breaks.
pub fn write(path: &Path, name: &str) -> std::io::Result<()> {
    let text = starter(name);
    check(path, name, &text)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// The starter validated as `plan` validates a stack file (its variables unset, as they may be).
fn check(path: &Path, name: &str, text: &str) -> std::io::Result<()> {
    crate::registry::parse_stack(path, text, &|_| None)
        .map(|_| ())
        .map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the starter for the stack {name:?} would not be a valid stack file, so it \
                     was not written:\n{e}"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_directory_and_fit_aws_rules() {
        assert_eq!(stack_name("my_MCP server!"), "my-mcp-server");
        assert_eq!(stack_name("2024-tools"), "tools");
        assert_eq!(stack_name("---"), "mcp-server");
        assert_eq!(stack_name(&"a".repeat(100)).len(), 32);
    }

    #[test]
    fn the_starter_is_a_valid_stack_with_the_names_it_was_given() {
        let env = |name: &str| match name {
            "COGNITO_PASSWORD" => Some("Str0ng-Passw0rd!".to_owned()),
            "OPENAI_API_KEY" => Some("sk-test".to_owned()),
            _ => None,
        };
        for name in ["acme-search", &"b".repeat(32)] {
            let text = starter(name);
            let stack = crate::registry::parse_stack(Path::new("stack.toml"), &text, &env)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(stack.name, name);
            use crate::resources::{ecr_repository::Repository, iam_role::Role, runtime::Runtime};
            let name_of_runtime = &stack.one::<Runtime>().unwrap().name;
            assert_eq!(*name_of_runtime, name.replace('-', "_"));
            assert_eq!(stack.one::<Repository>().unwrap().name, name);
            assert_eq!(
                stack.one::<Role>().unwrap().name,
                format!("{name}-agentcore-role")
            );
            assert!(text.contains("# The AWS-documented AgentCore Runtime execution policy"));
        }
    }

    /// What `infra init` derives from a directory name or `--name`, for names that break one
    /// kind's rule or another when used as they are: each starter is a stack `plan` accepts.
    #[test]
    fn every_name_init_is_given_makes_a_stack_that_passes_validation() {
        use crate::resources::{ecr_repository::Repository, runtime::Runtime};
        let long = "Search".repeat(17);
        let cases: [(&str, &str, &str); 8] = [
            // One character: too short for an ECR repository (2-256), padded.
            ("n", "n", "n-mcp"),
            ("a", "a", "a-mcp"),
            ("A_B", "a-b", "a-b"),
            (
                &long,
                &long.to_ascii_lowercase()[..32],
                &long.to_ascii_lowercase()[..32],
            ),
            ("my search tool", "my-search-tool", "my-search-tool"),
            ("ñandú search 日本", "and-search", "and-search"),
            ("日本語", "mcp-server", "mcp-server"),
            ("9 x", "x", "x-mcp"),
        ];
        for (raw, name, repository) in cases {
            assert_eq!(stack_name(raw), name, "{raw:?}");
            let text = starter(name);
            let stack = crate::registry::parse_stack(Path::new("stack.toml"), &text, &|_| None)
                .unwrap_or_else(|e| panic!("init {raw:?}: the starter is refused:\n{e}"));
            assert_eq!(stack.name, name);
            assert_eq!(
                stack.one::<Repository>().unwrap().name,
                repository,
                "{raw:?}"
            );
            assert_eq!(stack.one::<Runtime>().unwrap().name, name.replace('-', "_"));
        }
    }

    #[test]
    fn a_starter_that_would_be_refused_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.toml");
        // Not a name `stack_name` gives: the guard against a template the rules outgrew.
        let error = write(&path, "no spaces").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        let message = error.to_string();
        assert!(
            message.starts_with(
                "the starter for the stack \"no spaces\" would not be a valid stack file, so it \
                 was not written:\n"
            ),
            "{message}"
        );
        assert!(
            message.contains("stack.name: \"no spaces\" is not a valid name"),
            "{message}"
        );
        assert!(!path.exists());
        write(&path, "acme").unwrap();
        assert!(path.exists());
    }
}
