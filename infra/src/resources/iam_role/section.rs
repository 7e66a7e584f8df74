//! `[iam.role]` and its `[iam.role.policies.NAME]`: the section as written, validated into a
//! [`RoleSpec`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::stack::validate::{NameRule, Validator, quote};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    name: Spanned<String>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    max_session_duration: Option<Spanned<i64>>,
    #[serde(default)]
    trust_policy: Option<Spanned<String>>,
    #[serde(default)]
    policies: BTreeMap<String, Spanned<RawPolicy>>,
    #[serde(default)]
    adopt: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    document: Spanned<String>,
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
    /// Templates with `${...}` placeholders; rendered once region and account are known.
    pub trust_policy: String,
    pub policies: BTreeMap<String, String>,
    pub adopt: bool,
}

/// The trust policy AWS documents for an AgentCore Runtime execution role.
pub const DEFAULT_TRUST_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AssumeRolePolicy",
      "Effect": "Allow",
      "Principal": { "Service": "bedrock-agentcore.amazonaws.com" },
      "Action": "sts:AssumeRole",
      "Condition": {
        "StringEquals": { "aws:SourceAccount": "${account_id}" },
        "ArnLike": { "aws:SourceArn": "arn:${partition}:bedrock-agentcore:${region}:${account_id}:*" }
      }
    }
  ]
}"#;

const ROLE_NAME: NameRule = NameRule {
    min: 1,
    max: 64,
    allowed: |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c),
    described: "1-64 characters: ASCII letters, digits and _+=,.@-",
};

const POLICY_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    allowed: |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c),
    described: "1-128 characters: ASCII letters, digits and _+=,.@-",
};

/// IAM's quota "Role trust policy length": 2,048 characters by default (an adjustable quota;
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>). Counted as
/// for policy sizes: placeholders filled in, whitespace left out.
pub const TRUST_POLICY_SIZE: usize = 2048;

/// IAM's role description: `roleDescriptionType`, at most 1000 characters.
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// IAM's range for `MaxSessionDuration`, in seconds.
const MAX_SESSION_DURATION: (i64, i64) = (3600, 43_200);

/// What each field accepts, by its path in the section (`""`: the section itself).
pub fn accepts(key: &str) -> Option<String> {
    let document = "a string holding a JSON policy document: { \"Version\": \"2012-10-17\", \
                    \"Statement\": [...] }";
    Some(match key {
        "" => "a table: [iam.role] with name = \"...\"".into(),
        "name" => format!("a string of {}", ROLE_NAME.described),
        "path" => "a string that starts and ends with '/', such as \"/service/\"".into(),
        "description" => format!("a string of at most {MAX_DESCRIPTION_CHARS} characters"),
        "max_session_duration" => format!(
            "an integer from {} to {} (seconds)",
            MAX_SESSION_DURATION.0, MAX_SESSION_DURATION.1
        ),
        "trust_policy" => document.into(),
        "policies" => "tables [iam.role.policies.NAME], each with a document".into(),
        "adopt" => "true or false".into(),
        // `policies.NAME` and `policies.NAME.document` (a quoted NAME may hold dots).
        other => match other.strip_prefix("policies.")?.strip_suffix(".document") {
            Some(_) => document.into(),
            None => "a table: [iam.role.policies.NAME] with document = \"...\"".into(),
        },
    })
}

pub fn validate(v: &mut Validator, raw: RawRole) -> RoleSpec {
    let name = v.name(&raw.name, "iam.role.name", &ROLE_NAME);
    let path = match raw.path {
        Some(p) => {
            let s = p.get_ref();
            let valid = s.starts_with('/')
                && s.ends_with('/')
                && s.len() <= 512
                && s.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
            if !valid {
                v.error(
                    p.span(),
                    "iam.role.path",
                    "a path starts and ends with '/', up to 512 printable ASCII characters",
                );
            }
            p.into_inner()
        }
        None => "/".to_owned(),
    };
    let description = raw.description.and_then(|d| {
        let allowed =
            |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}');
        if d.get_ref().chars().count() > MAX_DESCRIPTION_CHARS || !d.get_ref().chars().all(allowed)
        {
            v.error(
                d.span(),
                "iam.role.description",
                format!(
                    "at most {MAX_DESCRIPTION_CHARS} characters: printable ASCII, Latin-1 \
                     letters, tabs and newlines"
                ),
            );
        }
        // IAM stores an empty description as none at all.
        Some(d.into_inner()).filter(|d| !d.is_empty())
    });
    let max_session_duration = raw.max_session_duration.map_or(3600, |d| {
        let (min, max) = MAX_SESSION_DURATION;
        v.range(&d, "iam.role.max_session_duration", min, max)
    });
    let trust_policy = match raw.trust_policy {
        Some(doc) => {
            let document = v.document(&doc, "iam.role.trust_policy");
            let size = v.policy_size(&document);
            if size > TRUST_POLICY_SIZE {
                v.error(
                    doc.span(),
                    "iam.role.trust_policy",
                    format!(
                        "{size} characters (counted as IAM does: placeholders filled in, \
                         whitespace left out), more than IAM's default quota of \
                         {TRUST_POLICY_SIZE} for a role trust policy"
                    ),
                );
            }
            document
        }
        None => DEFAULT_TRUST_POLICY.to_owned(),
    };
    let mut policies = BTreeMap::new();
    for (policy_name, p) in raw.policies {
        let field = format!("iam.role.policies.{policy_name}");
        let valid = !policy_name.is_empty()
            && policy_name.len() <= POLICY_NAME.max
            && policy_name.chars().all(POLICY_NAME.allowed);
        if !valid {
            v.error(
                p.span(),
                &field,
                format!(
                    "{} is not a valid policy name; allowed: {}",
                    quote(&policy_name),
                    POLICY_NAME.described
                ),
            );
        }
        let document = v.document(&p.get_ref().document, &format!("{field}.document"));
        policies.insert(policy_name, document);
    }
    RoleSpec {
        name,
        path,
        description,
        max_session_duration,
        trust_policy,
        policies,
        adopt: raw.adopt,
    }
}
