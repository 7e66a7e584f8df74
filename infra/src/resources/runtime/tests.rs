//! Plan tests for this kind, against in-memory live state (no AWS, no process).

#[test]
fn mcp_url_encodes_the_whole_arn() {
    assert_eq!(
        super::mcp_url(
            "us-west-2",
            "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/web_search_mcp-AbC123"
        ),
        "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/\
         arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fweb_search_mcp-AbC123\
         /invocations?qualifier=DEFAULT"
    );
}
