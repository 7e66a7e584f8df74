//! `infra mcp config`: how to point an MCP client at the deployed runtime.
//!
//! By default the client gets a *header helper*: a command it runs for fresh headers
//! (`infra token --header-json`, Claude Code's `headersHelper`), so the one-hour access token
//! renews itself and no token or password is written anywhere. `--static-token` embeds a token
//! instead (it expires).

use serde_json::{Value, json};

/// What a client needs.
pub struct ClientConfig {
    /// The server's name in the client (the stack's name).
    pub name: String,
    pub url: String,
    pub auth: Auth,
}

pub enum Auth {
    /// A shell command printing `{"Authorization": "Bearer ..."}`.
    Helper(String),
    /// A token, embedded.
    Static(String),
}

impl ClientConfig {
    /// The `mcpServers` JSON that Claude Code (`.mcp.json`), Claude Desktop and other clients
    /// read.
    pub fn json(&self) -> Value {
        let mut server = json!({"type": "http", "url": self.url});
        match &self.auth {
            Auth::Helper(command) => server["headersHelper"] = json!(command),
            Auth::Static(token) => {
                server["headers"] = json!({"Authorization": format!("Bearer {token}")});
            }
        }
        json!({"mcpServers": {&self.name: server}})
    }

    /// The `claude mcp ...` command that adds the server to Claude Code.
    pub fn claude(&self) -> String {
        match &self.auth {
            Auth::Helper(_) => {
                let server = &self.json()["mcpServers"][&self.name];
                format!(
                    "claude mcp add-json {} {}",
                    shell_quote(&self.name),
                    shell_quote(&server.to_string())
                )
            }
            Auth::Static(token) => format!(
                "claude mcp add --transport http {} {} --header {}",
                shell_quote(&self.name),
                shell_quote(&self.url),
                shell_quote(&format!("Authorization: Bearer {token}"))
            ),
        }
    }
}

/// One word for a POSIX shell: bare when it is safe, else single-quoted.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A command line of words, quoted for a POSIX shell.
pub fn command_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth: Auth) -> ClientConfig {
        ClientConfig {
            name: "web-search-mcp".into(),
            url: "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Ax/invocations?qualifier=DEFAULT".into(),
            auth,
        }
    }

    #[test]
    fn the_helper_goes_into_headers_helper() {
        let c = config(Auth::Helper(
            "/bin/infra --stack '/a b/stack.toml' token --header-json".into(),
        ));
        let json = c.json();
        let server = &json["mcpServers"]["web-search-mcp"];
        assert_eq!(server["type"], "http");
        assert_eq!(
            server["headersHelper"],
            "/bin/infra --stack '/a b/stack.toml' token --header-json"
        );
        assert!(server.get("headers").is_none());
        assert!(
            c.claude()
                .starts_with("claude mcp add-json web-search-mcp '{")
        );
    }

    #[test]
    fn a_static_token_is_a_header() {
        let c = config(Auth::Static("eyJ.x.y".into()));
        assert_eq!(
            c.json()["mcpServers"]["web-search-mcp"]["headers"]["Authorization"],
            "Bearer eyJ.x.y"
        );
        assert!(
            c.claude()
                .ends_with("--header 'Authorization: Bearer eyJ.x.y'"),
            "{}",
            c.claude()
        );
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("plain/path-1"), "plain/path-1");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        assert_eq!(shell_quote(""), "''");
    }
}
