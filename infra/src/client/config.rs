//! `infra mcp config`: how to point an MCP client at the deployed runtime.
//!
//! By default the client gets a *header helper*: a command it runs for fresh headers
//! (`infra token --header-json`, Claude Code's `headersHelper`), so the one-hour access token
//! renews itself and no token or password is written anywhere. `--static-token` embeds a token
//! instead (it expires). Without a stack file there is no helper to run: the configuration
//! embeds the headers given (`--static-token`), or none for a server without auth.

use serde_json::{Map, Value, json};

/// What a client needs.
pub struct ClientConfig {
    /// The server's name in the client (the stack's name).
    pub name: String,
    pub url: String,
    /// A shell command printing `{"Authorization": "Bearer ..."}` (Claude Code runs it before
    /// each connection).
    pub helper: Option<String>,
    /// Headers written into the configuration as they are (`NAME`, `VALUE`).
    pub headers: Vec<(String, String)>,
}

impl ClientConfig {
    /// The `mcpServers` JSON that Claude Code (`.mcp.json`), Claude Desktop and other clients
    /// read.
    pub fn json(&self) -> Value {
        let mut server = json!({"type": "http", "url": self.url});
        if !self.headers.is_empty() {
            let headers: Map<String, Value> = self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), json!(value)))
                .collect();
            server["headers"] = Value::Object(headers);
        }
        if let Some(command) = &self.helper {
            server["headersHelper"] = json!(command);
        }
        json!({"mcpServers": {&self.name: server}})
    }

    /// The `claude mcp ...` command that adds the server to Claude Code.
    pub fn claude(&self) -> String {
        if self.helper.is_some() {
            let server = &self.json()["mcpServers"][&self.name];
            return format!(
                "claude mcp add-json {} {}",
                shell_quote(&self.name),
                shell_quote(&server.to_string())
            );
        }
        let mut words = vec![
            "claude".to_owned(),
            "mcp".into(),
            "add".into(),
            "--transport".into(),
            "http".into(),
            self.name.clone(),
            self.url.clone(),
        ];
        for (name, value) in &self.headers {
            words.extend(["--header".to_owned(), format!("{name}: {value}")]);
        }
        command_line(&words)
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
        single_quoted(word)
    }
}

/// `'word'`, with each `'` in it written `'\''`.
fn single_quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A command line of words, quoted for a POSIX shell.
pub fn command_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `NAME='VALUE'`: a variable assignment that prefixes a command in a POSIX shell. Only the
/// value is quoted: a quoted name would make the whole word the command's name. `None` for a
/// name a shell cannot assign.
pub fn assignment(name: &str, value: &str) -> Option<String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| format!("{name}={}", single_quoted(value)))
}

/// A server's name in a client when there is no stack to name it: the AgentCore runtime's name
/// for a runtime's URL (`.../runtimes/<ARN>/invocations`), else the URL's host; letters,
/// digits, `_` and `-` only (what Claude Code takes).
pub fn server_name(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).ok();
    let runtime = parsed.as_ref().and_then(|u| {
        let mut segments = u.path_segments()?;
        segments.find(|s| *s == "runtimes")?;
        let arn = percent_encoding::percent_decode_str(segments.next()?)
            .decode_utf8()
            .ok()?;
        // `runtime/<name>-<ten characters>`: the name AgentCore was given.
        let id = arn.rsplit_once("runtime/")?.1.to_owned();
        let (name, suffix) = id.rsplit_once('-')?;
        (suffix.len() == 10 && !name.is_empty()).then(|| name.to_owned())
    });
    let raw = runtime
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_owned))
        })
        .unwrap_or_default();
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "mcp".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(helper: Option<&str>, headers: &[(&str, &str)]) -> ClientConfig {
        ClientConfig {
            name: "web-search-mcp".into(),
            url: "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Ax/invocations?qualifier=DEFAULT".into(),
            helper: helper.map(str::to_owned),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_helper_goes_into_headers_helper() {
        let c = config(
            Some("/bin/infra --stack '/a b/stack.toml' token --header-json"),
            &[],
        );
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
        let c = config(None, &[("Authorization", "Bearer eyJ.x.y")]);
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
    fn without_auth_there_are_no_headers() {
        let c = config(None, &[]);
        let json = c.json();
        let server = &json["mcpServers"]["web-search-mcp"];
        assert!(server.get("headers").is_none() && server.get("headersHelper").is_none());
        assert_eq!(
            c.claude(),
            "claude mcp add --transport http web-search-mcp 'https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Ax/invocations?qualifier=DEFAULT'"
        );
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("plain/path-1"), "plain/path-1");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn a_server_without_a_stack_is_named_by_its_runtime_or_host() {
        assert_eq!(
            server_name(
                "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fweb_search_mcp-AbCdEf1234/invocations?qualifier=DEFAULT"
            ),
            "web_search_mcp"
        );
        assert_eq!(server_name("http://127.0.0.1:8000/mcp"), "127-0-0-1");
        assert_eq!(
            server_name("https://mcp.example.com/mcp"),
            "mcp-example-com"
        );
        assert_eq!(server_name("not a url"), "mcp");
    }

    /// Each assignment, run by `sh`, gives the command exactly the value.
    #[test]
    fn an_assignment_reaches_the_command_exactly() {
        for value in [
            "http://127.0.0.1:4566",
            "http://127.0.0.1:4566/?a=1&b=2",
            "http://h/?q=it's & $HOME `id` \"x\" \\ ;|*",
            "",
        ] {
            let line = format!(
                "{} printenv AWS_ENDPOINT_URL",
                assignment("AWS_ENDPOINT_URL", value).unwrap()
            );
            let out = std::process::Command::new("sh")
                .args(["-c", &line])
                .env_remove("AWS_ENDPOINT_URL")
                .output()
                .unwrap();
            assert!(out.status.success(), "{line}: {out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{value}\n"));
        }
        assert_eq!(assignment("AWS-X", "v"), None);
        assert_eq!(assignment("1A", "v"), None);
    }
}
