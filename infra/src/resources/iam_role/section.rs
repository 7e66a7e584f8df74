//! `[iam.role]`: the section as written, validated into a [`RoleSpec`]. Its inline policies,
//! `[iam.role.policies.NAME]`, are the `iam_role_policy` kind's section.

use serde::Deserialize;
use toml::Spanned;

use super::Role;
use crate::stack::validate::{NameRule, Validator};
use crate::stack::{Input, Section, Stack};

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
    adopt: bool,
    #[serde(default)]
    protect: bool,
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
    /// Templates with `${...}` placeholders; rendered once region and account are known.
    pub trust_policy: String,
    pub adopt: bool,
    /// `infra destroy` refuses while it is set.
    pub protect: bool,
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

/// IAM's quota "Role trust policy length": 2,048 characters by default (an adjustable quota;
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>). Counted as
/// for policy sizes: placeholders filled in, whitespace left out.
pub const TRUST_POLICY_SIZE: usize = 2048;

/// IAM's role description: `roleDescriptionType`, at most 1000 characters.
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// IAM's range for `MaxSessionDuration`, in seconds.
const MAX_SESSION_DURATION: (i64, i64) = (3600, 43_200);

impl Section for Role {
    const PATH: &'static str = "iam.role";
    const UNIQUE_NAMES: &'static [crate::stack::UniqueName] = &[crate::stack::UniqueName {
        field: "name",
        what: "IAM role name",
        why: "IAM role names are unique in an account, whatever their case",
        any_case: true,
    }];
    type Raw = RawRole;
    type Spec = RoleSpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
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
            "adopt" | "protect" => "true or false".into(),
            _ => return None,
        })
    }

    fn validate(v: &mut Validator, raw: Spanned<RawRole>, _: &Input) -> Option<RoleSpec> {
        let raw = raw.into_inner();
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
        let trust_policy = match &raw.trust_policy {
            Some(doc) => {
                v.mark("iam.role.trust_policy", doc.span());
                v.document(doc, "iam.role.trust_policy")
            }
            None => DEFAULT_TRUST_POLICY.to_owned(),
        };
        Some(RoleSpec {
            name,
            path,
            description,
            max_session_duration,
            trust_policy,
            adopt: raw.adopt,
            protect: raw.protect,
        })
    }

    /// The trust policy against IAM's quota, sized with the stack's placeholder values.
    fn check(v: &mut Validator, stack: &mut Stack) {
        let Some(role) = stack.one::<Role>() else {
            return;
        };
        let size = v.policy_size(&role.trust_policy);
        if size > TRUST_POLICY_SIZE
            && let Some(span) = v.marked("iam.role.trust_policy")
        {
            v.error(
                span,
                "iam.role.trust_policy",
                format!(
                    "{size} characters (counted as IAM does: placeholders filled in, \
                     whitespace left out), more than IAM's default quota of \
                     {TRUST_POLICY_SIZE} for a role trust policy"
                ),
            );
        }
    }
}
