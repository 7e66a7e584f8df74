//! `image`: the server image built from `[image] build = "PACKAGE"` (in Docker's image manifest
//! v2 schema 2, or OCI with `format = "oci"`), pushed by digest to the stack's ECR repository;
//! and, for `[image] uri` in the stack's repository, what the registry holds: the digest a tag
//! points at, or whether it still has a pinned digest.
//!
//! The image is built before anything is read (`prepare`), so the plan knows its digest: when
//! the registry already has that manifest nothing is pushed, and when the runtime already runs it
//! nothing changes. A `uri` pinned by digest in the stack's repository is checked the same way
//! (`HEAD` of the manifest): when the registry lacks it (deleted, expired by the lifecycle
//! policy, never pushed), the plan is blocked naming the digest: infra has no image to push.
//! Digests in other repositories or registries are not checked. The registry is the
//! repository's ECR endpoint (with an ECR authorization token), or `$INFRA_ECR_REGISTRY` (e.g.
//! `http://127.0.0.1:5000`) for local registries and emulators.

mod destroy;
pub mod section;

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;

use super::ecr_repository::Repository;
use crate::aws::Aws;
use crate::container::{self as image, BuildOptions, Registry};
use crate::engine::{
    Action, ApplyContext, Changes, Error, Kind, PlanContext, Planned, Planner, ReadContext,
    ResourcePlan, address,
};
use crate::stack::Stack;
use section::{ImageSpec, Platform};

/// The environment variable that replaces the ECR registry endpoint.
pub const REGISTRY_OVERRIDE: &str = "INFRA_ECR_REGISTRY";

/// A locally built image, ready to push. Its format is the manifest's (`image.format()`), so
/// the digest the plan shows is the one that format pushes.
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

/// What the registry says of the stack's image.
#[derive(Debug, Clone, Default)]
pub struct LiveImage {
    /// The image built for `[image] build`, and whether the registry already has it (then
    /// nothing is pushed).
    pub built: Option<(Arc<Artifact>, bool)>,
    /// For `[image] uri` with a tag in the stack's repository: the digest it points at now.
    pub tag_digest: Option<String>,
    /// For `[image] uri` pinned by digest in the stack's repository, when that repository
    /// exists: the digest, and whether the registry has it.
    pub pinned: Option<(String, bool)>,
}

/// The kind.
pub struct Image;

/// What apply needs.
struct Step {
    repository_name: String,
    artifact: Arc<Artifact>,
}

/// What the runtime knows of the image ([`Kind::Ref`]): the URI it runs.
#[derive(Debug, Clone)]
pub struct ImageRef {
    /// By digest where the digest is known (a built image; a tag in the stack's repository,
    /// resolved by the read), else as declared; `None` for a build that was not built.
    pub uri: Option<String>,
    /// A tag in the stack's repository, which this apply creates: only apply can resolve it
    /// ([`Kind::resolve`]).
    pub resolved_by_apply: bool,
    /// The digest the runtime will run, where known. While reading ([`Kind::reference`]) only
    /// this is known (the URI needs the account's placeholders): the runtime's read compares it
    /// with the digests its earlier versions ran.
    pub digest: Option<String>,
}

/// `sha256:...` of `REPO@sha256:...`.
pub fn digest_in(uri: &str) -> Option<&str> {
    uri.rsplit_once('@')
        .map(|(_, digest)| digest)
        .filter(|d| d.starts_with("sha256:"))
}

impl Kind for Image {
    /// The registry API of the stack's repository, as ECR authorizes it: a token
    /// (`GetAuthorizationToken`, on no resource), `HEAD`/`GET` of a manifest
    /// (`BatchGetImage`: is the built digest there, what a tag points at), and for a push
    /// `HEAD` of a blob (`BatchCheckLayerAvailability`), an upload (`InitiateLayerUpload`, then
    /// one `PUT`: `UploadLayerPart` and `CompleteLayerUpload`) and `PUT` of the manifest
    /// (`PutImage`). Nothing for an image in another repository: the registry is not asked.
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(repository) = vars.get("repository_arn") else {
            return Vec::new();
        };
        let builds = match stack.one::<Image>() {
            Some(ImageSpec::Build { .. }) => true,
            Some(ImageSpec::Uri(template)) => {
                let rendered = crate::policy::render(template, vars);
                let in_repository = template.contains("${repository_uri}")
                    || vars.get("repository_uri").is_some_and(|uri| {
                        rendered.starts_with(&format!("{uri}:"))
                            || rendered.starts_with(&format!("{uri}@"))
                    });
                if !in_repository {
                    return Vec::new();
                }
                false
            }
            None => return Vec::new(),
        };
        let mut grants = vec![
            Grant::new(Access::Read, "Token", &["ecr:GetAuthorizationToken"], ["*"]),
            Grant::new(
                Access::Read,
                "Manifest",
                &["ecr:BatchGetImage"],
                [repository],
            ),
        ];
        if builds {
            grants.push(Grant::new(
                Access::Write,
                "Push",
                &[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                ],
                [repository],
            ));
        }
        grants
    }

    /// The digest a tag in the stack's repository points at, and a pinned digest's presence.
    fn fingerprint(cx: &PlanContext<'_>) -> Vec<(String, &'static str, serde_json::Value)> {
        let image = cx.live.get::<Image>();
        let mut out = Vec::new();
        if let Some(digest) = &image.tag_digest {
            out.push((Image::TYPE.to_owned(), "tag_digest", digest.clone().into()));
        }
        if let Some((digest, present)) = &image.pinned {
            out.push((
                Image::TYPE.to_owned(),
                "pinned",
                serde_json::json!([digest, present]),
            ));
        }
        out
    }

    /// Its permission (`ecr:BatchDeleteImage` on the repository) is the repository kind's.
    fn plan_destroy(cx: &PlanContext<'_>, o: &crate::engine::Destroying, planner: &mut Planner) {
        destroy::plan_destroy(cx, o, planner);
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        destroy::delete(cx, r).await
    }

    const TYPE: &'static str = "image";
    const DEPENDS_ON: &'static [&'static str] = &[Repository::TYPE];
    type Live = LiveImage;
    type Ref = ImageRef;

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        use crate::resources::testing;
        testing::image(stack)
    }

    fn prepare(
        stack: &Stack,
        say: &dyn Fn(&str),
    ) -> Result<Option<Arc<dyn Any + Send + Sync>>, Error> {
        let Some(ImageSpec::Build {
            package,
            platform,
            format,
            ..
        }) = stack.one::<Image>()
        else {
            return Ok(None);
        };
        say(&format!(
            "Building the image of package `{package}` for {platform} ({format} format)..."
        ));
        let artifact =
            build(stack).map_err(|e| Error::other(&address(Image::TYPE, package), "build", &e))?;
        Ok(artifact.map(|a| Arc::new(Arc::new(a)) as Arc<dyn Any + Send + Sync>))
    }

    async fn read(cx: &ReadContext<'_>) -> Result<LiveImage, Error> {
        let Some(repository) = cx.reference::<Repository>().await? else {
            return Ok(LiveImage::default());
        };
        let mut live = LiveImage::default();
        // Destroy asks the registry nothing: the repository kind lists its images.
        if cx.destroying {
            return Ok(live);
        }
        if let Some(artifact) = cx.prepared.get::<Image, Arc<Artifact>>() {
            let addr = address(Image::TYPE, &artifact.package);
            let in_registry = match &repository.uri {
                None => false,
                Some(uri) => {
                    has_manifest(cx.aws, &addr, uri, &repository.name, &artifact.image.digest)
                        .await?
                }
            };
            live.built = Some((artifact.clone(), in_registry));
        }
        if let Some(uri) = &repository.uri {
            live.tag_digest = resolve_tag(cx.aws, cx.stack, uri).await?;
            // Only where a plan is acted on: `output` neither needs the registry nor blocks.
            if cx.write_only == crate::engine::WriteOnly::Verify {
                live.pinned = check_pinned(cx.aws, cx.stack, uri).await?;
            }
        }
        Ok(live)
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let (Some((digest, false)), Some(repository)) =
            (&cx.live.get::<Image>().pinned, cx.reference::<Repository>())
        {
            let uri = cx.vars.get("repository_uri").unwrap_or_default();
            planner.block(
                Image::TYPE,
                Some("uri"),
                missing_digest(digest, &repository.name, uri, repository.keep_images),
            );
        }
        let (Some((artifact, in_registry)), Some(repository)) =
            (&cx.live.get::<Image>().built, cx.reference::<Repository>())
        else {
            return;
        };
        let mut changes = Changes::default();
        if !in_registry {
            changes.value("digest", None, &artifact.image.digest);
            changes.value("platform", None, artifact.platform);
            if let Some(ImageSpec::Build { format, .. }) = cx.stack.one::<Image>() {
                changes.value("format", None, format.as_str());
            }
            changes.value("compressed_bytes", None, artifact.image.compressed_size());
        }
        let id = in_registry.then(|| artifact.image.digest.clone());
        let (action, reason) = if *in_registry {
            (Action::NoOp, "the registry has this digest")
        } else {
            (
                Action::Create,
                "built from the workspace; the registry lacks this digest",
            )
        };
        planner.add(
            Planned::new(&artifact.package, changes, id)
                .with_action(action)
                .with_reason(reason)
                .with_payload(Step {
                    repository_name: repository.name.clone(),
                    artifact: artifact.clone(),
                }),
        );
    }

    /// Push the image (only the blobs the registry lacks), by digest. Returns the digest.
    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        // The repository's id is its URI, known from live state or its create in an earlier level.
        let repository_uri = cx.id::<Repository>()?;
        let report = registry(cx.aws, &r.address, &repository_uri)
            .await?
            .push(&step.repository_name, &step.artifact.image, &[])
            .await
            .map_err(|e| Error::other(&r.address, "registry: push", &e))?;
        cx.progress.line(&format!(
            "{}: uploaded {} of {} blobs ({} bytes)",
            r.address,
            report.blobs_uploaded,
            report.blobs_uploaded + report.blobs_present,
            report.bytes_uploaded
        ));
        Ok(report.digest)
    }

    /// The URI the runtime runs.
    fn planned_reference(cx: &PlanContext<'_>) -> Option<ImageRef> {
        let image = cx.live.get::<Image>();
        let repository_uri = cx.vars.get("repository_uri");
        let uri = match cx.stack.one::<Image>()? {
            ImageSpec::Uri(template) => {
                let uri = crate::policy::render(template, cx.vars);
                // A tag in the stack's repository runs by the digest it points at now.
                match (&image.tag_digest, uri.rsplit_once(':')) {
                    (Some(digest), Some((repository, _tag))) if !uri.contains('@') => {
                        Some(format!("{repository}@{digest}"))
                    }
                    _ => Some(uri),
                }
            }
            ImageSpec::Build { .. } => {
                let (artifact, _) = image.built.as_ref()?;
                Some(format!("{}@{}", repository_uri?, artifact.image.digest))
            }
        };
        let resolved_by_apply = cx.id_of::<Repository>().is_none()
            && uri
                .as_deref()
                .zip(repository_uri)
                .is_some_and(|(uri, repository)| {
                    tag_in_repository(cx.stack, uri, repository).is_some()
                });
        Some(ImageRef {
            digest: uri.as_deref().and_then(digest_in).map(str::to_owned),
            uri,
            resolved_by_apply,
        })
    }

    /// While reading: the digest only (built, a tag's, pinned, or in the declared URI).
    fn reference(stack: &Stack, live: &LiveImage) -> Option<ImageRef> {
        let digest = match stack.one::<Image>()? {
            ImageSpec::Build { .. } => live.built.as_ref().map(|(a, _)| a.image.digest.clone()),
            ImageSpec::Uri(template) => live
                .tag_digest
                .clone()
                .or_else(|| live.pinned.as_ref().map(|(digest, _)| digest.clone()))
                .or_else(|| digest_in(template).map(str::to_owned)),
        };
        Some(ImageRef {
            uri: None,
            resolved_by_apply: false,
            digest,
        })
    }

    /// A tag in the stack's repository that the read could not resolve (the repository did not
    /// exist yet): the URI by the digest it points at now.
    async fn resolve(cx: &ApplyContext<'_>) -> Result<Option<String>, Error> {
        if !cx.stack.declares::<Repository>() || cx.live.get::<Image>().tag_digest.is_some() {
            return Ok(None);
        }
        let repository_uri = cx.id::<Repository>()?;
        let Some(uri) = rendered_uri(cx.stack, &repository_uri) else {
            return Ok(None);
        };
        let Some(tag) = tag_in_repository(cx.stack, &uri, &repository_uri) else {
            return Ok(None);
        };
        Ok(resolve_tag(cx.aws, cx.stack, &repository_uri)
            .await?
            .map(|digest| {
                format!(
                    "{}@{digest}",
                    uri.trim_end_matches(tag).trim_end_matches(':')
                )
            }))
    }
}

/// The cargo workspace of `[image] build`: `[image] workspace` relative to the stack file's
/// directory, or that directory.
fn workspace(stack: &Stack) -> PathBuf {
    let dir = match stack.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    match stack.one::<Image>() {
        Some(ImageSpec::Build {
            workspace: Some(w), ..
        }) => dir.join(w),
        _ => dir,
    }
}

/// Cross-compile and assemble the image of `[image] build`, if the stack has one. Blocking.
pub fn build(stack: &Stack) -> anyhow::Result<Option<Artifact>> {
    let Some(ImageSpec::Build {
        package, platform, ..
    }) = stack.one::<Image>()
    else {
        return Ok(None);
    };
    let workspace = workspace(stack);
    // Where scripts/image-tools.sh installed the tools, when not the stack's own checkout.
    let tools_root = std::env::var_os("INFRA_TOOLS_ROOT").map(PathBuf::from);
    let built = image::build(&BuildOptions {
        platform: *platform,
        tools_root: tools_root.or_else(|| Some(workspace.clone())),
        ..BuildOptions::new(&workspace, package)
    })?;
    assemble(stack, &built.bytes)
}

/// The image of `[image] build` around `binary` (the built package), in the declared platform
/// and format; `None` without `[image] build`.
pub fn assemble(stack: &Stack, binary: &[u8]) -> anyhow::Result<Option<Artifact>> {
    let Some(ImageSpec::Build {
        package,
        platform,
        format,
        ..
    }) = stack.one::<Image>()
    else {
        return Ok(None);
    };
    let spec = image::ImageConfig {
        format: *format,
        ..image::ImageConfig::server(*platform)
    };
    Ok(Some(Artifact {
        package: package.clone(),
        platform: *platform,
        image: image::assemble(binary, &spec)?,
    }))
}

/// The registry serving the repository at `repository_uri`, authenticated for ECR unless
/// overridden.
async fn registry(aws: &Aws, addr: &str, repository_uri: &str) -> Result<Registry, Error> {
    if let Some(url) = std::env::var(REGISTRY_OVERRIDE)
        .ok()
        .filter(|u| !u.is_empty())
    {
        return Registry::with_read_timeout(&url, aws.call_timeout)
            .map_err(|e| Error::other(addr, REGISTRY_OVERRIDE, &e));
    }
    let host = repository_uri.split('/').next().unwrap_or_default();
    let registry = Registry::with_read_timeout(&format!("https://{host}"), aws.call_timeout)
        .map_err(|e| Error::other(addr, "registry", &e))?;
    let token = aws
        .ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| Error::aws(addr, "GetAuthorizationToken", e))?;
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
        return Err(Error::new(
            addr,
            "GetAuthorizationToken",
            "ECR returned no usable token",
        ));
    };
    Ok(registry.with_basic_auth(user, password))
}

/// For `[image] uri = "${repository_uri}:TAG"`: the tag, when the image is a tag in the stack's
/// repository (at `repository_uri`).
fn tag_in_repository<'a>(
    stack: &'a Stack,
    rendered_uri: &'a str,
    repository_uri: &str,
) -> Option<&'a str> {
    let Some(ImageSpec::Uri(_)) = stack.one::<Image>() else {
        return None;
    };
    let tag = rendered_uri
        .strip_prefix(repository_uri)?
        .strip_prefix(':')?;
    (!tag.contains('@') && !tag.contains('/')).then_some(tag)
}

/// For `[image] uri = "${repository_uri}@sha256:..."` (or `:TAG@sha256:...`): the digest, when
/// the image is pinned by digest in the stack's repository (at `repository_uri`).
fn digest_in_repository<'a>(
    stack: &'a Stack,
    rendered_uri: &'a str,
    repository_uri: &str,
) -> Option<&'a str> {
    let Some(ImageSpec::Uri(_)) = stack.one::<Image>() else {
        return None;
    };
    let (tag, digest) = rendered_uri.strip_prefix(repository_uri)?.split_once('@')?;
    let tag_ok = tag.is_empty()
        || tag
            .strip_prefix(':')
            .is_some_and(|t| !t.is_empty() && !t.contains('/'));
    (tag_ok && digest.starts_with("sha256:")).then_some(digest)
}

/// For `[image] uri` pinned by digest in the stack's repository (at `repository_uri`): the
/// digest, and whether the registry has it. `None` for tags, other repositories or registries.
/// Not asked while the repository does not exist (an apply from empty creates it): there is
/// no repository to ask yet.
async fn check_pinned(
    aws: &Aws,
    stack: &Stack,
    repository_uri: &str,
) -> Result<Option<(String, bool)>, Error> {
    let Some(uri) = rendered_uri(stack, repository_uri) else {
        return Ok(None);
    };
    let Some(digest) = digest_in_repository(stack, &uri, repository_uri) else {
        return Ok(None);
    };
    let name = repository_name(repository_uri);
    let in_registry = has_manifest(aws, Image::TYPE, repository_uri, name, digest).await?;
    Ok(Some((digest.to_owned(), in_registry)))
}

/// `[image] uri` with `${repository_uri}` replaced.
fn rendered_uri(stack: &Stack, repository_uri: &str) -> Option<String> {
    let Some(ImageSpec::Uri(template)) = stack.one::<Image>() else {
        return None;
    };
    Some(template.replace("${repository_uri}", repository_uri))
}

/// The repository's name in its URI (`REGISTRY/NAME`), as registry requests name it.
fn repository_name(repository_uri: &str) -> &str {
    repository_uri
        .split_once('/')
        .map_or(repository_uri, |(_, name)| name)
}

/// Whether the repository `name` (at `repository_uri`) holds the manifest `digest`.
async fn has_manifest(
    aws: &Aws,
    addr: &str,
    repository_uri: &str,
    name: &str,
    digest: &str,
) -> Result<bool, Error> {
    registry(aws, addr, repository_uri)
        .await?
        .manifest_exists(name, digest)
        .await
        .map_err(|e| Error::other(addr, "registry: HEAD manifest", &e))
}

/// The blocker's message for a pinned digest the stack's repository lacks.
fn missing_digest(
    digest: &str,
    repository: &str,
    repository_uri: &str,
    keep_images: Option<i32>,
) -> String {
    let expired = keep_images
        .map(|n| {
            format!(
                " Its lifecycle policy (keep_images = {n}) may have expired it: it keeps only \
                 the newest {n} images."
            )
        })
        .unwrap_or_default();
    format!(
        "{digest} is not in the repository {repository} ({repository_uri}): the runtime \
         cannot pull it.{expired} Push that image to the repository again, or change \
         [image] uri to an image the repository holds"
    )
}

/// The digest a tag in the stack's repository points at now, so a moved tag rolls out too.
/// `None` for digests, other registries, or a tag the registry lacks.
async fn resolve_tag(
    aws: &Aws,
    stack: &Stack,
    repository_uri: &str,
) -> Result<Option<String>, Error> {
    let Some(uri) = rendered_uri(stack, repository_uri) else {
        return Ok(None);
    };
    let Some(tag) = tag_in_repository(stack, &uri, repository_uri) else {
        return Ok(None);
    };
    let addr = Image::TYPE;
    registry(aws, addr, repository_uri)
        .await?
        .resolve(repository_name(repository_uri), tag)
        .await
        .map_err(|e| Error::other(addr, "registry: resolve tag", &e))
}

#[cfg(test)]
mod tests;
