//! `[iam.role.policies.NAME]`: the role's inline policies, each a document template; the
//! declared set is the whole set. Checked together against IAM's size limit for a role.

use serde::Deserialize;
use toml::Spanned;

use super::RolePolicy;
use crate::resources::iam_role::Role;
use crate::stack::validate::{NameRule, Validator, clip, quote};
use crate::stack::{Input, Section, Shape, Stack};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    document: Spanned<String>,
}

#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub name: String,
    /// A template with `${...}` placeholders; rendered once region and account are known.
    pub document: String,
}

const POLICY_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    allowed: |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c),
    described: "1-128 characters: ASCII letters, digits and _+=,.@-",
};

/// IAM's quota on a role's inline policies: "Role policy size cannot exceed 10,240 characters",
/// all inline policies of the role together, and "IAM does not count white space when
/// calculating the size of a policy against these limits"
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>, character
/// limits). Not adjustable.
pub const ROLE_POLICY_SIZE: usize = 10_240;

impl Section for RolePolicy {
    const PATH: &'static str = "iam.role.policies";
    const SHAPE: Shape = Shape::Map;
    const MAP_OF: &'static str = "tables [iam.role.policies.NAME], each with a document";
    type Raw = RawPolicy;
    type Spec = PolicySpec;

    fn accepts(field: &str) -> Option<String> {
        match field {
            "" => Some("a table: [iam.role.policies.NAME] with document = \"...\"".into()),
            "document" => Some(
                "a string holding a JSON policy document: { \"Version\": \"2012-10-17\", \
                 \"Statement\": [...] }"
                    .into(),
            ),
            _ => None,
        }
    }

    fn validate(v: &mut Validator, raw: Spanned<RawPolicy>, input: &Input) -> Option<PolicySpec> {
        let name = input.key;
        let field = format!("iam.role.policies.{name}");
        let valid = !name.is_empty()
            && name.len() <= POLICY_NAME.max
            && name.chars().all(POLICY_NAME.allowed);
        if !valid {
            v.error(
                raw.span(),
                &field,
                format!(
                    "{} is not a valid policy name; allowed: {}",
                    quote(name),
                    POLICY_NAME.described
                ),
            );
        }
        let document = v.document(&raw.get_ref().document, &format!("{field}.document"));
        Some(PolicySpec {
            name: name.to_owned(),
            document,
        })
    }

    /// The role's inline policies together (those other kinds added included) against
    /// [`ROLE_POLICY_SIZE`], with their placeholders filled in as IAM will get them (the
    /// stack's names; the longest account, region and partition values when the stack does not
    /// say).
    fn check(v: &mut Validator, stack: &mut Stack) {
        let Some(span) = v.span::<Role>(0) else {
            return;
        };
        let mut sizes: Vec<(String, usize)> = stack
            .all::<RolePolicy>()
            .map(|p| (p.name.clone(), v.policy_size(&p.document)))
            .collect();
        sizes.sort();
        let total: usize = sizes.iter().map(|(_, n)| n).sum();
        if total > ROLE_POLICY_SIZE {
            let each: Vec<String> = sizes
                .iter()
                .map(|(name, n)| format!("{} {n}", clip(name, 60)))
                .collect();
            v.error(
                span,
                "iam.role.policies",
                format!(
                    "the role's inline policies come to {total} characters, more than IAM's \
                     {ROLE_POLICY_SIZE} for all of a role's inline policies together (counted as \
                     IAM does: placeholders filled in, whitespace left out; {}): move statements \
                     to a managed policy or narrow them",
                    each.join(", ")
                ),
            );
        }
    }
}
