//! `image`: the server image built from `[image] build = "PACKAGE"`, pushed by digest to the
//! stack's ECR repository.
//!
//! The image is built before anything is read, so the plan knows its digest: when the registry
//! already has that manifest nothing is pushed, and when the runtime already runs it nothing
//! changes. The registry is the repository's ECR endpoint (with an ECR authorization token), or
//! `$INFRA_ECR_REGISTRY` (e.g. `http://127.0.0.1:5000`) for local registries and emulators.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;

use super::ecr_repository::LiveRepository;
use super::{Lookup, ecr_repository};
use crate::apply::ApplyContext;
use crate::aws::{Aws, AwsError};
use crate::image::{self, Arch, BuildOptions, Registry};
use crate::plan::{Action, Changes, Kind, PlanContext, Planner, ResourcePlan};
use crate::stack::{ImageSpec, Platform, Stack};

/// The environment variable that replaces the ECR registry endpoint.
pub const REGISTRY_OVERRIDE: &str = "INFRA_ECR_REGISTRY";

/// A locally built image, ready to push.
pub struct Artifact {
    pub package: String,
    pub platform: Platform,
    pub image: image::Image,
}

impl fmt::Debug for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Artifact({} {})", self.package, self.image.digest)
    }
}

/// What the registry says of the built image.
#[derive(Debug, Clone)]
pub struct LiveImage {
    pub artifact: Arc<Artifact>,
    /// Whether the registry already has this manifest (then nothing is pushed).
    pub in_registry: bool,
}

pub fn address(package: &str) -> String {
    format!("image.{package}")
}

/// The workspace an image is built from: the stack file's directory.
fn workspace(stack: &Stack) -> PathBuf {
    match stack.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Cross-compile and assemble the image of `[image] build`, if the stack has one. Blocking.
pub fn build(stack: &Stack) -> anyhow::Result<Option<Artifact>> {
    let Some(ImageSpec::Build { package, platform }) = &stack.image else {
        return Ok(None);
    };
    let arch = match platform {
        Platform::LinuxArm64 => Arch::Arm64,
        Platform::LinuxAmd64 => Arch::Amd64,
    };
    let workspace = workspace(stack);
    // Where scripts/image-tools.sh installed the tools, when not the stack's own checkout.
    let tools_root = std::env::var_os("INFRA_TOOLS_ROOT").map(PathBuf::from);
    let built = image::build(&BuildOptions {
        arch,
        tools_root: tools_root.or_else(|| Some(workspace.clone())),
        ..BuildOptions::new(&workspace, package)
    })?;
    let binary = std::fs::read(&built.binary)?;
    let image = image::assemble(&binary, &image::ImageSpec::server(arch))?;
    Ok(Some(Artifact {
        package: package.clone(),
        platform: *platform,
        image,
    }))
}

fn registry_error(addr: &str, operation: &'static str, e: anyhow::Error) -> AwsError {
    AwsError {
        resource: addr.to_owned(),
        operation,
        code: None,
        message: format!("{e:#}"),
    }
}

/// The registry serving the repository at `repository_uri`, authenticated for ECR unless
/// overridden.
async fn registry(aws: &Aws, addr: &str, repository_uri: &str) -> Result<Registry, AwsError> {
    if let Some(url) = std::env::var(REGISTRY_OVERRIDE)
        .ok()
        .filter(|u| !u.is_empty())
    {
        return Registry::new(&url).map_err(|e| registry_error(addr, REGISTRY_OVERRIDE, e));
    }
    let host = repository_uri.split('/').next().unwrap_or_default();
    let registry = Registry::new(&format!("https://{host}"))
        .map_err(|e| registry_error(addr, "registry", e))?;
    let token = aws
        .ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| AwsError::new(addr, "GetAuthorizationToken", e))?;
    let encoded = token
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    let Some((user, password)) = decoded.split_once(':') else {
        return Err(registry_error(
            addr,
            "GetAuthorizationToken",
            anyhow::anyhow!("ECR returned no usable token"),
        ));
    };
    Ok(registry.with_basic_auth(user, password))
}

/// Whether the registry already has the built image.
pub async fn read(
    aws: &Aws,
    stack: &Stack,
    repository: &Lookup<LiveRepository>,
    artifact: Option<Arc<Artifact>>,
) -> Result<Option<LiveImage>, AwsError> {
    let (Some(artifact), Some(spec)) = (artifact, &stack.repository) else {
        return Ok(None);
    };
    let addr = address(&artifact.package);
    let in_registry = match repository.found() {
        None => false,
        Some(repo) => registry(aws, &addr, &repo.uri)
            .await?
            .manifest_exists(&spec.name, &artifact.image.digest)
            .await
            .map_err(|e| registry_error(&addr, "registry: HEAD manifest", e))?,
    };
    Ok(Some(LiveImage {
        artifact,
        in_registry,
    }))
}

/// For `[image] uri = "${repository_uri}:TAG"`: the tag, when the image is a tag in the stack's
/// repository (at `repository_uri`).
pub fn tag_in_repository<'a>(
    stack: &'a Stack,
    rendered_uri: &'a str,
    repository_uri: &str,
) -> Option<&'a str> {
    let Some(ImageSpec::Uri(_)) = &stack.image else {
        return None;
    };
    let tag = rendered_uri
        .strip_prefix(repository_uri)?
        .strip_prefix(':')?;
    (!tag.contains('@') && !tag.contains('/')).then_some(tag)
}

/// The digest a tag in the stack's repository points at now, so a moved tag rolls out too.
/// `None` for digests, other registries, or a tag the registry lacks.
pub async fn resolve_tag(
    aws: &Aws,
    stack: &Stack,
    repository_uri: &str,
) -> Result<Option<String>, AwsError> {
    let (Some(ImageSpec::Uri(template)), Some(spec)) = (&stack.image, &stack.repository) else {
        return Ok(None);
    };
    let uri = template.replace("${repository_uri}", repository_uri);
    let Some(tag) = tag_in_repository(stack, &uri, repository_uri) else {
        return Ok(None);
    };
    let addr = "image";
    registry(aws, addr, repository_uri)
        .await?
        .resolve(&spec.name, tag)
        .await
        .map_err(|e| registry_error(addr, "registry: resolve tag", e))
}

pub fn plan(cx: &PlanContext, planner: &mut Planner) {
    let Some(live) = &cx.live.image else {
        return;
    };
    let Some(repository) = &cx.stack.repository else {
        return;
    };
    let repo_addr = ecr_repository::address(repository);
    if planner.is_blocked(&repo_addr) {
        return;
    }
    let artifact = &live.artifact;
    let mut changes = Changes::default();
    let action = if live.in_registry {
        Action::NoOp
    } else {
        changes.value("digest", None, &artifact.image.digest);
        changes.value("platform", None, artifact.platform);
        changes.value("compressed_bytes", None, artifact.image.compressed_size());
        Action::Create
    };
    planner.resources.push(ResourcePlan {
        address: address(&artifact.package),
        name: artifact.package.clone(),
        kind: Kind::Image,
        action,
        id: live.in_registry.then(|| artifact.image.digest.clone()),
        reason: if live.in_registry {
            "the registry has this digest".into()
        } else {
            "built from the workspace; the registry lacks this digest".into()
        },
        changes: changes.into_vec(),
        notes: Vec::new(),
        depends_on: vec![repo_addr],
    });
}

/// Push the image (only the blobs the registry lacks), by digest. Returns the digest.
pub async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, AwsError> {
    let live = cx.live.image.as_ref().expect("planned images were built");
    let spec = cx
        .stack
        .repository
        .as_ref()
        .expect("a built image needs a repository");
    // The repository's id is its URI, known from live state or its create in an earlier level.
    let repository_uri = cx.id_of(&ecr_repository::address(spec));
    let report = registry(cx.aws, &r.address, &repository_uri)
        .await?
        .push(&spec.name, &live.artifact.image, &[])
        .await
        .map_err(|e| registry_error(&r.address, "registry: push", e))?;
    cx.progress.line(&format!(
        "{}: uploaded {} of {} blobs ({} bytes)",
        r.address,
        report.blobs_uploaded,
        report.blobs_uploaded + report.blobs_present,
        report.bytes_uploaded
    ));
    Ok(report.digest)
}
