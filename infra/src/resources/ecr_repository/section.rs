//! `[ecr.repository]`: the section as written, validated into a [`RepositorySpec`].

use serde::Deserialize;
use toml::Spanned;

use super::Repository;
use crate::stack::validate::{NameRule, Validator};
use crate::stack::{Base, Input, Section};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepository {
    name: Spanned<String>,
    #[serde(default)]
    image_tag_mutability: TagMutability,
    #[serde(default)]
    scan_on_push: bool,
    #[serde(default)]
    keep_images: Option<Spanned<i64>>,
    #[serde(default)]
    encryption: Encryption,
    #[serde(default)]
    kms_key: Option<String>,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    protect: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum TagMutability {
    #[default]
    #[serde(rename = "MUTABLE")]
    Mutable,
    #[serde(rename = "IMMUTABLE")]
    Immutable,
}

impl TagMutability {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Mutable => "MUTABLE",
            Self::Immutable => "IMMUTABLE",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Encryption {
    #[default]
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "KMS")]
    Kms,
}

impl Encryption {
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::Aes256 => "AES256",
            Self::Kms => "KMS",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RepositorySpec {
    pub name: String,
    pub image_tag_mutability: TagMutability,
    pub scan_on_push: bool,
    /// Lifecycle policy: expire all but the newest N images. `None`: no policy is managed.
    pub keep_images: Option<i32>,
    pub encryption: Encryption,
    pub kms_key: Option<String>,
    pub adopt: bool,
    /// `infra destroy` refuses while it is set.
    pub protect: bool,
}

const REPOSITORY_NAME: NameRule = NameRule {
    min: 2,
    max: 256,
    allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c),
    described: "2-256 characters: lowercase letters, digits and ._-/",
};

/// How many images a lifecycle policy may keep (`countNumber` of a rule).
const KEEP_IMAGES: (i64, i64) = (1, 10_000);

impl Section for Repository {
    const PATH: &'static str = "ecr.repository";
    const UNIQUE_NAMES: &'static [crate::stack::UniqueName] = &[crate::stack::UniqueName {
        field: "name",
        what: "ECR repository name",
        why: "ECR repository names are unique in an account's region",
        any_case: false,
    }];
    const PLACEHOLDERS: &'static [(&'static str, &'static str)] = &[
        ("repository_arn", "the ARN of [ecr.repository]"),
        ("repository_uri", "the URI of [ecr.repository]"),
    ];
    type Raw = RawRepository;
    type Spec = RepositorySpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
        Some(match key {
            "" => "a table: [ecr.repository] with name = \"...\"".into(),
            "name" => format!("a string of {}", REPOSITORY_NAME.described),
            "image_tag_mutability" => "\"MUTABLE\" or \"IMMUTABLE\"".into(),
            "keep_images" => format!(
                "an integer from {} to {} (images)",
                KEEP_IMAGES.0, KEEP_IMAGES.1
            ),
            "encryption" => "\"AES256\" or \"KMS\"".into(),
            "kms_key" => "a string: the KMS key's ARN, id or alias".into(),
            "scan_on_push" | "adopt" | "protect" => "true or false".into(),
            _ => return None,
        })
    }

    fn validate(
        v: &mut Validator,
        raw: Spanned<RawRepository>,
        _: &Input,
    ) -> Option<RepositorySpec> {
        let raw = raw.into_inner();
        let name = v.name(&raw.name, "ecr.repository.name", &REPOSITORY_NAME);
        if name
            .chars()
            .next()
            .is_some_and(|c| !c.is_ascii_lowercase() && !c.is_ascii_digit())
        {
            v.error(
                raw.name.span(),
                "ecr.repository.name",
                "must start with a lowercase letter or digit",
            );
        }
        let keep_images = raw.keep_images.map(|n| {
            v.range(
                &n,
                "ecr.repository.keep_images",
                KEEP_IMAGES.0,
                KEEP_IMAGES.1,
            )
        });
        if raw.kms_key.is_some() && raw.encryption != Encryption::Kms {
            v.error(
                raw.name.span(),
                "ecr.repository.kms_key",
                "only with encryption = \"KMS\"",
            );
        }
        Some(RepositorySpec {
            name,
            image_tag_mutability: raw.image_tag_mutability,
            scan_on_push: raw.scan_on_push,
            keep_images,
            encryption: raw.encryption,
            kms_key: raw.kms_key,
            adopt: raw.adopt,
            protect: raw.protect,
        })
    }

    fn placeholder(spec: &RepositorySpec, name: &str, base: &Base) -> Option<String> {
        let Base {
            region,
            account_id,
            partition,
        } = base;
        let domain = if *partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let repository = &spec.name;
        match name {
            "repository_arn" => Some(format!(
                "arn:{partition}:ecr:{region}:{account_id}:repository/{repository}"
            )),
            "repository_uri" => Some(format!(
                "{account_id}.dkr.ecr.{region}.{domain}/{repository}"
            )),
            _ => None,
        }
    }
}
