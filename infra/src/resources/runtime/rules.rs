//! What AgentCore, Cognito and IAM would refuse, or would make fail every call, in `[runtime]`:
//! scopes, the audience with Cognito's access tokens, the request headers AgentCore passes on,
//! and the form of the KMS key of a secret the runtime reads.

use toml::Spanned;

use super::section::SECRETS_POLICY;
use crate::stack::validate::{Validator, quote};

/// AWS's pattern for a scope: `[\x21\x23-\x5B\x5D-\x7E]+`, at most 255 characters.
pub(super) fn scope_ok(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 255
        && scope
            .chars()
            .all(|c| matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E'))
}

/// Why `allowed_audience` is refused.
pub(super) const AUDIENCE_WITH_COGNITO: &str = "Cognito access tokens carry no \"aud\" claim (they name \
    their app client in \"client_id\"), so with authorizer = \"cognito\" AgentCore would refuse \
    every call (401); remove it. The authorizer already admits only tokens of the stack's app \
    client (its allowed_clients is [cognito.client]); to require more of a token, use \
    allowed_scopes";

/// AgentCore's limit on `requestHeaderAllowlist`.
pub(super) const MAX_HEADERS: usize = 20;
/// The prefix of the headers AgentCore passes to the server among the `X-Amzn-` ones.
pub const CUSTOM_HEADER_PREFIX: &str = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-";
/// Headers AgentCore never passes to the server (the restricted headers of "Pass custom headers
/// to Amazon Bedrock AgentCore Runtime",
/// <https://docs.aws.amazon.com/bedrock-agentcore/latest/devguide/runtime-header-allowlist.html>),
/// lower-case.
const RESTRICTED_HEADERS: &[&str] = &[
    "proxy-authorization",
    "www-authenticate",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "content-location",
    "content-range",
    "cache-control",
    "etag",
    "expires",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "pragma",
    "vary",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "host",
    "referer",
    "user-agent",
    "from",
    "range",
    "accept-ranges",
    "transfer-encoding",
    "te",
    "trailer",
];

/// AWS's pattern for an allowlisted header: `[A-Za-z][A-Za-z0-9_-]{0,255}`.
fn header_ok(header: &str) -> bool {
    header.len() <= 256
        && header.starts_with(|c: char| c.is_ascii_alphabetic())
        && header
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Why AgentCore would refuse, or never pass on, the allowlisted header `name`; `None` when it
/// passes it to the server. Names are compared without regard to case, as HTTP does.
fn header_problem(name: &str, has_authorizer: bool) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let custom = CUSTOM_HEADER_PREFIX.to_ascii_lowercase();
    Some(if !header_ok(name) {
        "not a header name AgentCore accepts: [A-Za-z][A-Za-z0-9_-]{0,255}".to_owned()
    } else if lower == custom {
        format!("a name must follow the prefix: {CUSTOM_HEADER_PREFIX}NAME")
    } else if lower.starts_with("x-amzn-") && !lower.starts_with(&custom) {
        format!(
            "names starting with X-Amzn- are reserved for AWS: AgentCore refuses all but \
             {CUSTOM_HEADER_PREFIX}*; send it as {CUSTOM_HEADER_PREFIX}{}",
            &name["x-amzn-".len()..]
        )
    } else if lower.starts_with("x-amz-") {
        "names starting with X-Amz- are reserved for AWS request signing (SigV4); AgentCore \
         refuses them"
            .to_owned()
    } else if lower == "authorization" && !has_authorizer {
        "AgentCore passes Authorization (the caller's JWT) only to a runtime with a JWT \
         authorizer: set authorizer = \"cognito\""
            .to_owned()
    } else if RESTRICTED_HEADERS.contains(&lower.as_str()) {
        "a restricted header: AgentCore never passes it to the server".to_owned()
    } else {
        return None;
    })
}

/// `request_header_allowlist`: each entry that AgentCore would refuse or never pass on is named
/// at its position; at most [`MAX_HEADERS`], no name twice (in any case).
pub(super) fn request_headers(
    v: &mut Validator,
    list: &Spanned<Vec<Spanned<String>>>,
    has_authorizer: bool,
) {
    let field = "runtime.request_header_allowlist";
    let headers = list.get_ref();
    if headers.is_empty() {
        v.error(
            list.span(),
            field,
            "an empty list: list 1 to 20 header names, or leave the key out to pass none",
        );
    }
    if headers.len() > MAX_HEADERS {
        v.error(
            headers[MAX_HEADERS].span(),
            field,
            format!(
                "at most {MAX_HEADERS} headers (AgentCore's limit); this list has {}",
                headers.len()
            ),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for header in headers {
        let name = header.get_ref();
        if let Some(problem) = header_problem(name, has_authorizer) {
            v.error(header.span(), field, format!("{}: {problem}", quote(name)));
        } else if seen.contains(&name.to_ascii_lowercase()) {
            v.error(
                header.span(),
                field,
                format!(
                    "{} is listed twice (header names are the same in any case)",
                    quote(name)
                ),
            );
        }
        seen.push(name.to_ascii_lowercase());
    }
}

/// Why the `kms_key` of a secret the runtime reads cannot be the `Resource` of the `kms:Decrypt`
/// grant in [`SECRETS_POLICY`]: IAM matches a key by its key ARN, never by an alias, an alias
/// ARN or a bare key id. `None` for a key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID`).
pub(super) fn kms_key_problem(key: &str, region: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    let key_arn = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5]
            .strip_prefix("key/")
            .is_some_and(|id| !id.is_empty());
    if key_arn {
        return None;
    }
    let what = if parts.len() == 6 && parts[5].starts_with("alias/") {
        "an alias ARN"
    } else if key.starts_with("alias/") {
        "an alias"
    } else if !key.starts_with("arn:") {
        "a key id"
    } else {
        "not a KMS key ARN"
    };
    let region = region.unwrap_or("REGION");
    Some(format!(
        "{} is {what}; the runtime reads this secret, and the kms:Decrypt grant infra writes for it \
         ({SECRETS_POLICY}) names keys by ARN only (IAM matches no alias or id), so the server \
         could not decrypt it. Write the key's ARN: arn:aws:kms:{region}:ACCOUNT:key/KEY-ID \
         (`aws kms describe-key --key-id {key} --query KeyMetadata.Arn` prints it)",
        quote(key)
    ))
}
