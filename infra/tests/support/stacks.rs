//! Stacks the fault, concurrency and benchmark runs share.

use super::PREBUILT_DIGEST;

/// The image the update-all stack declares instead of [`PREBUILT_DIGEST`].
pub const OTHER_DIGEST: &str =
    "sha256:6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f";

/// The repository's stack with every kind changed: each has a write to make.
pub fn update_every_kind(s: String) -> String {
    let edits = [
        (
            "password_policy = { minimum_length = 8 }",
            "password_policy = { minimum_length = 10 }",
        ),
        (
            "explicit_auth_flows = [\"ALLOW_USER_PASSWORD_AUTH\", \"ALLOW_REFRESH_TOKEN_AUTH\"]",
            "explicit_auth_flows = [\"ALLOW_USER_PASSWORD_AUTH\", \"ALLOW_REFRESH_TOKEN_AUTH\", \"ALLOW_USER_SRP_AUTH\"]",
        ),
        (
            "description = \"Execution role of the web-search MCP server on AgentCore Runtime\"",
            "description = \"Execution role of the web-search MCP server (updated)\"",
        ),
        (
            "\"Action\": \"logs:DescribeLogGroups\",",
            "\"Action\": [\"logs:DescribeLogGroups\", \"logs:GetLogEvents\"],",
        ),
        // The SDK sends `"imageScanningConfiguration": {}` for false (the model's default);
        // the emulator's item 17 makes that turn scanning off, as AWS does.
        ("scan_on_push = true", "scan_on_push = false"),
        (
            "image_tag_mutability = \"IMMUTABLE\"",
            "image_tag_mutability = \"MUTABLE\"",
        ),
        ("keep_images = 10", "keep_images = 5"),
        (PREBUILT_DIGEST, OTHER_DIGEST),
        (
            "description = \"OpenAI web search over MCP\"",
            "description = \"OpenAI web search over MCP (updated)\"",
        ),
        ("OPENAI_MODEL = \"o3\"", "OPENAI_MODEL = \"gpt-4.1\""),
        (
            "description = \"OpenAI API key of the web search MCP server\"",
            "description = \"The OpenAI API key (updated)\"",
        ),
    ];
    edits.iter().fold(s, |s, (from, to)| {
        assert!(s.contains(from), "stack.toml no longer has {from:?}");
        s.replacen(from, to, 1)
    })
}

/// The repository's AgentCoreRuntime document as deployed to the emulator's account.
pub fn declared_policy() -> String {
    let stack = std::fs::read_to_string(super::workspace_root().join("stack.toml")).unwrap();
    let start = stack.find("document = '''").unwrap() + "document = '''".len();
    let end = start + stack[start..].find("'''").unwrap();
    stack[start..end]
        .replace("${partition}", "aws")
        .replace("${region}", "us-west-2")
        .replace("${account_id}", "123456789012")
        .replace(
            "${repository_arn}",
            "arn:aws:ecr:us-west-2:123456789012:repository/web-search-mcp",
        )
        .replace("${runtime_name}", "web_search_mcp")
}
