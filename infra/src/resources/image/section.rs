//! `[image]`: a prebuilt image (`uri`) or a workspace package to build (`build`, with its
//! `platform` and manifest `format`), validated into an [`ImageSpec`].

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::Image;
pub use crate::container::{ImageFormat, Platform};
use crate::policy;
use crate::resources::ecr_repository::Repository;
use crate::stack::validate::{Validator, quote};
use crate::stack::{Input, Section};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    #[serde(default)]
    uri: Option<Spanned<String>>,
    #[serde(default)]
    build: Option<Spanned<String>>,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    format: Option<Spanned<String>>,
    #[serde(default)]
    workspace: Option<Spanned<String>>,
}

/// The image the runtime runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSpec {
    /// A prebuilt image: a template that may use `${repository_uri}`.
    Uri(String),
    /// Build this workspace package into an image, push it to the stack's repository, and run
    /// it by digest. `format` sets the manifest's media types, hence the digest.
    Build {
        package: String,
        platform: Platform,
        format: ImageFormat,
        /// The cargo workspace to build in, relative to the stack file's directory (`None`:
        /// that directory itself).
        workspace: Option<String>,
    },
}

/// `format = "docker"` (the default) or `"oci"`.
fn image_format(v: &mut Validator, format: Option<Spanned<String>>) -> ImageFormat {
    let Some(format) = format else {
        return ImageFormat::default();
    };
    ImageFormat::from_name(format.get_ref()).unwrap_or_else(|| {
        let allowed: Vec<String> = ImageFormat::ALL
            .iter()
            .map(|f| match f {
                ImageFormat::Docker => {
                    format!("\"{f}\" (the default: Docker image manifest v2 schema 2)")
                }
                ImageFormat::Oci => format!("\"{f}\" (OCI image manifest v1)"),
            })
            .collect();
        v.error(
            format.span(),
            "image.format",
            format!(
                "{} is not an image format; allowed: {}",
                quote(format.get_ref()),
                allowed.join(", ")
            ),
        );
        ImageFormat::default()
    })
}

fn image_uri(v: &mut Validator, uri: &Spanned<String>, span: Range<usize>) -> String {
    let text = uri.get_ref();
    let unknown: Vec<&str> = policy::placeholders(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| *n != "repository_uri")
        .collect();
    if !unknown.is_empty() {
        v.error(
            uri.span(),
            "image.uri",
            "the only placeholder allowed here is ${repository_uri}",
        );
    } else if text.contains("${repository_uri}") && !v.declares::<Repository>() {
        v.error(
            uri.span(),
            "image.uri",
            "${repository_uri} needs [ecr.repository] in the stack",
        );
    }
    let rendered = text.replace(
        "${repository_uri}",
        "000000000000.dkr.ecr.us-east-1.amazonaws.com/repo",
    );
    let (path, reference) = match rendered.split_once('@') {
        Some((path, digest)) => (path, Some(digest)),
        None => (rendered.as_str(), None),
    };
    let has_tag = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    let digest_ok = reference.is_none_or(|d| {
        d.strip_prefix("sha256:")
            .is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
    });
    if !path.contains('/') || !(has_tag || reference.is_some()) || !digest_ok {
        v.error(
            span,
            "image.uri",
            "a container image reference: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:<64 hex digits>",
        );
    }
    text.clone()
}

impl Section for Image {
    const PATH: &'static str = "image";
    type Raw = RawImage;
    type Spec = ImageSpec;

    /// What each field accepts, by its path in the section (`""`: the section itself).
    fn accepts(key: &str) -> Option<String> {
        Some(match key {
            "" => "a table: [image] with uri = \"...\" or build = \"PACKAGE\"".into(),
            "uri" => "a string: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:<digest> \
                      (${repository_uri} may stand for the stack's repository)"
                .into(),
            "build" => "a string: the name of a cargo package in the workspace".into(),
            "platform" => "\"linux/arm64\" or \"linux/amd64\"".into(),
            "format" => "\"docker\" or \"oci\"".into(),
            "workspace" => {
                "a string: the directory of the cargo workspace, relative to the stack file".into()
            }
            _ => return None,
        })
    }

    /// `uri = "..."` or `build = "PACKAGE"` (with an optional `platform` and `format`), never both.
    fn validate(v: &mut Validator, raw: Spanned<RawImage>, _: &Input) -> Option<ImageSpec> {
        let span = raw.span();
        match raw.into_inner() {
            RawImage {
                uri: Some(uri),
                build: None,
                platform: None,
                format: None,
                workspace: None,
            } => Some(ImageSpec::Uri(image_uri(v, &uri, span))),
            RawImage {
                uri: None,
                build: Some(package),
                platform,
                format,
                workspace,
            } => {
                if let Some(dir) = &workspace
                    && dir.get_ref().trim().is_empty()
                {
                    v.error(
                        dir.span(),
                        "image.workspace",
                        "the directory of the cargo workspace to build in, relative to the stack file",
                    );
                }
                let valid = !package.get_ref().is_empty()
                    && package
                        .get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    v.error(
                        package.span(),
                        "image.build",
                        "the name of a cargo package in this workspace",
                    );
                }
                if !v.declares::<Repository>() {
                    v.error(
                        package.span(),
                        "image.build",
                        "a built image is pushed to [ecr.repository]; declare one",
                    );
                }
                let platform = platform.unwrap_or_default();
                let format = image_format(v, format);
                Some(ImageSpec::Build {
                    package: package.into_inner(),
                    platform,
                    format,
                    workspace: workspace.map(Spanned::into_inner),
                })
            }
            RawImage {
                uri: Some(_),
                build: None,
                platform,
                format,
                workspace,
            } => {
                if let Some(dir) = workspace {
                    v.error(
                        dir.span(),
                        "image.workspace",
                        "only with build = \"...\"; a uri names a prebuilt image",
                    );
                }
                if platform.is_some() {
                    v.error(
                        span.clone(),
                        "image.platform",
                        "only with build = \"...\"; a uri names its platform itself",
                    );
                }
                if let Some(format) = format {
                    v.error(
                        format.span(),
                        "image.format",
                        "only with build = \"...\"; a prebuilt image (uri) is pushed by whoever built it",
                    );
                }
                None
            }
            _ => {
                v.error(
                    span,
                    "image",
                    "declare exactly one of uri = \"...\" (a prebuilt image) or build = \"PACKAGE\"",
                );
                None
            }
        }
    }
}
