//! `infra init`: a commented starter `stack.toml`, the repository's own deployment (Cognito, the
//! execution role, ECR, the image built from the `server` package, the runtime), with its names
//! derived from the directory or `--name`.

use std::io::Write;
use std::path::Path;

/// The repository's own stack file, comments and all: the starter's template.
const TEMPLATE: &str = include_str!("../../stack.toml");

/// A name for the stack from `raw` (a directory name): lower-case ASCII letters, digits and
/// `-`, starting with a letter, at most 32 characters (room for the suffixes below within
/// every AWS name limit: IAM roles 64, Cognito pools 128, ECR 256, runtimes 48).
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

/// The starter stack for `name` (already a [`stack_name`]).
pub fn starter(name: &str) -> String {
    let runtime = name.replace('-', "_");
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
            format!("[ecr.repository]\nname = \"{name}\""),
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

/// Write the starter to `path`, never over an existing file.
pub fn write(path: &Path, name: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(starter(name).as_bytes())
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
}
