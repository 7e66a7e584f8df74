//! Push and look up images over the OCI distribution API (no Docker).
//!
//! Push: for each blob `HEAD /v2/<name>/blobs/<digest>`; only missing blobs are uploaded
//! (`POST /v2/<name>/blobs/uploads/`, then one monolithic `PUT <location>?digest=…`); then
//! `PUT /v2/<name>/manifests/<tag>` unless the tag already points at this manifest. Auth is
//! HTTP Basic, as ECR's `GetAuthorizationToken` gives it (user `AWS` and a password): sent with
//! every request to the registry's own origin, and after a `401` with a `Basic` challenge.

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};

use super::oci::MANIFEST_MEDIA_TYPE;
use super::{Image, sha256_digest};
use crate::sensitive::Sensitive;

/// Manifest media types `resolve` accepts: OCI and Docker, single-platform and index.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// A registry, e.g. `http://127.0.0.1:5000` or `https://<account>.dkr.ecr.<region>.amazonaws.com`.
pub struct Registry {
    base: Url,
    client: reqwest::Client,
    /// The whole `Authorization` header value.
    authorization: Option<Sensitive<String>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("base", &self.base.as_str())
            .field("authorization", &self.authorization)
            .finish()
    }
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushReport {
    /// `sha256:<hex>` of the manifest: deploy by `<repository>@<digest>`.
    pub digest: String,
    /// Blobs uploaded (the registry did not have them).
    pub blobs_uploaded: usize,
    /// Bytes of the uploaded blobs.
    pub bytes_uploaded: u64,
    /// Blobs the registry already had.
    pub blobs_present: usize,
    /// References (tags, or the digest) whose manifest was PUT; those already pointing at this
    /// manifest are left alone.
    pub manifests_put: Vec<String>,
}

impl Registry {
    /// A registry at `base_url` (scheme, host and port; a path is ignored), without credentials.
    pub fn new(base_url: &str) -> Result<Self> {
        let mut base = Url::parse(base_url)
            .with_context(|| format!("registry URL {base_url:?} (expected e.g. https://host)"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            bail!("registry URL {base_url:?} must be http(s)://host[:port]");
        }
        base.set_path("/");
        base.set_query(None);
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(600))
            .user_agent(concat!("infra/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Registry {
            base,
            client,
            authorization: None,
        })
    }

    /// Uses HTTP Basic credentials; for ECR, user `AWS` and the password from the base64
    /// `AWS:<password>` authorization token.
    pub fn with_basic_auth(mut self, user: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.authorization = Some(Sensitive::new(format!("Basic {token}")));
        self
    }

    /// Pushes `image` to `repository` and tags it with each of `tags` (none: by digest only).
    /// Blobs and tags the registry already has are not sent again.
    pub async fn push(&self, repository: &str, image: &Image, tags: &[&str]) -> Result<PushReport> {
        check_repository(repository)?;
        let mut report = PushReport {
            digest: image.digest.clone(),
            blobs_uploaded: 0,
            bytes_uploaded: 0,
            blobs_present: 0,
            manifests_put: Vec::new(),
        };
        for (digest, bytes) in image.blobs() {
            if self.blob_exists(repository, digest).await? {
                report.blobs_present += 1;
            } else {
                self.upload_blob(repository, digest, bytes).await?;
                report.blobs_uploaded += 1;
                report.bytes_uploaded += bytes.len() as u64;
            }
        }
        let references: Vec<&str> = if tags.is_empty() {
            vec![image.digest.as_str()]
        } else {
            tags.to_vec()
        };
        for reference in references {
            check_reference(reference)?;
            let current = if reference == image.digest {
                self.manifest_exists(repository, reference)
                    .await?
                    .then(|| reference.to_string())
            } else {
                self.resolve(repository, reference).await?
            };
            if current.as_deref() == Some(image.digest.as_str()) {
                continue;
            }
            self.put_manifest(repository, reference, image).await?;
            report.manifests_put.push(reference.to_string());
        }
        Ok(report)
    }

    /// Whether the manifest `digest` (`sha256:…`) is in `repository`.
    pub async fn manifest_exists(&self, repository: &str, digest: &str) -> Result<bool> {
        check_repository(repository)?;
        check_reference(digest)?;
        let url = self.url(&format!("v2/{repository}/manifests/{digest}"))?;
        let response = self
            .send(Method::HEAD, url, accept_manifests(), None)
            .await?;
        match response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(unexpected("HEAD manifest", response).await),
        }
    }

    /// The manifest digest `tag` points at in `repository`, or `None` if there is no such tag
    /// (or repository). From `Docker-Content-Digest`, else the SHA-256 of the manifest bytes.
    pub async fn resolve(&self, repository: &str, tag: &str) -> Result<Option<String>> {
        check_repository(repository)?;
        check_reference(tag)?;
        let url = self.url(&format!("v2/{repository}/manifests/{tag}"))?;
        let head = self
            .send(Method::HEAD, url.clone(), accept_manifests(), None)
            .await?;
        match head.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            status if status.is_success() => {
                if let Some(digest) = content_digest(head.headers()) {
                    return Ok(Some(digest));
                }
            }
            // Some registries answer HEAD poorly (405, or errors without a body): ask with GET.
            _ => {}
        }
        let get = self
            .send(Method::GET, url, accept_manifests(), None)
            .await?;
        match get.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                if let Some(digest) = content_digest(get.headers()) {
                    return Ok(Some(digest));
                }
                let body = get.bytes().await.context("reading the manifest")?;
                Ok(Some(sha256_digest(&body)))
            }
            _ => Err(unexpected("GET manifest", get).await),
        }
    }

    async fn blob_exists(&self, repository: &str, digest: &str) -> Result<bool> {
        let url = self.url(&format!("v2/{repository}/blobs/{digest}"))?;
        let response = self.send(Method::HEAD, url, HeaderMap::new(), None).await?;
        match response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(unexpected(&format!("HEAD blob {digest}"), response).await),
        }
    }

    async fn upload_blob(&self, repository: &str, digest: &str, bytes: &[u8]) -> Result<()> {
        let start = self.url(&format!("v2/{repository}/blobs/uploads/"))?;
        let response = self
            .send(Method::POST, start, HeaderMap::new(), Some(Vec::new()))
            .await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(unexpected("POST blob upload", response).await);
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .context("the registry started an upload without a Location header")?;
        let mut url = self
            .base
            .join(location)
            .with_context(|| format!("upload Location {location:?}"))?;
        url.query_pairs_mut().append_pair("digest", digest);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/octet-stream".parse()?);
        let response = self
            .send(Method::PUT, url, headers, Some(bytes.to_vec()))
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(unexpected(&format!("PUT blob {digest}"), response).await);
        }
        Ok(())
    }

    async fn put_manifest(&self, repository: &str, reference: &str, image: &Image) -> Result<()> {
        let url = self.url(&format!("v2/{repository}/manifests/{reference}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, MANIFEST_MEDIA_TYPE.parse()?);
        let response = self
            .send(Method::PUT, url, headers, Some(image.manifest.clone()))
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(unexpected(&format!("PUT manifest {reference}"), response).await);
        }
        if let Some(digest) = content_digest(response.headers())
            && digest != image.digest
        {
            bail!(
                "the registry stored the manifest as {digest}, expected {}",
                image.digest
            );
        }
        Ok(())
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(path)
            .with_context(|| format!("registry path {path:?}"))
    }

    /// Sends a request; credentials go only to the registry's own origin, and are (re)sent once
    /// after a `401` with a `Basic` challenge (e.g. an upload location on another host).
    async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<Response> {
        let same_origin = url.origin() == self.base.origin();
        let mut with_auth = same_origin && self.authorization.is_some();
        loop {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if with_auth && let Some(authorization) = &self.authorization {
                request = request.header(AUTHORIZATION, authorization.expose());
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("{method} {url}: the registry is unreachable"))?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_string();
            let basic = challenge
                .get(..5)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic"));
            match (&self.authorization, with_auth) {
                (Some(_), false) if basic => with_auth = true,
                (Some(_), true) => bail!(
                    "{method} {url}: the registry rejected the credentials (401, WWW-Authenticate: {challenge:?}); for ECR, get a fresh token with GetAuthorizationToken"
                ),
                (Some(_), false) => bail!(
                    "{method} {url}: 401 with an unsupported challenge {challenge:?}; only Basic auth is supported"
                ),
                (None, _) => bail!(
                    "{method} {url}: the registry requires credentials (401, WWW-Authenticate: {challenge:?}); use Registry::with_basic_auth"
                ),
            }
        }
    }
}

fn accept_manifests() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        MANIFEST_ACCEPT.parse().expect("a valid header value"),
    );
    headers
}

fn content_digest(headers: &HeaderMap) -> Option<String> {
    headers
        .get("docker-content-digest")
        .and_then(|value| value.to_str().ok())
        .filter(|digest| digest.starts_with("sha256:"))
        .map(str::to_string)
}

async fn unexpected(what: &str, response: Response) -> anyhow::Error {
    let status = response.status();
    let url = response.url().clone();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
    anyhow::anyhow!("{what} {url}: unexpected {status}: {body}")
}

/// Repository names per the distribution spec: lowercase path components.
fn check_repository(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.split('/').all(|component| {
            !component.is_empty()
                && component.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && component.as_bytes()[0].is_ascii_alphanumeric()
        });
    if !valid {
        bail!("{name:?} is not a valid repository name (lowercase letters, digits, . _ - and /)");
    }
    Ok(())
}

/// A tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) or a `sha256:<64 hex>` digest.
fn check_reference(reference: &str) -> Result<()> {
    let valid = if let Some(hex) = reference.strip_prefix("sha256:") {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    } else {
        (1..=128).contains(&reference.len())
            && (reference.as_bytes()[0].is_ascii_alphanumeric() || reference.starts_with('_'))
            && reference
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if !valid {
        bail!("{reference:?} is neither a valid tag nor a sha256 digest");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_references_are_checked() {
        assert!(check_repository("web-search/server").is_ok());
        assert!(check_repository("Upper").is_err());
        assert!(check_repository("a//b").is_err());
        assert!(check_repository("../x").is_err());
        assert!(check_reference("latest").is_ok());
        assert!(check_reference(&sha256_digest(b"x")).is_ok());
        assert!(check_reference("sha256:abc").is_err());
        assert!(check_reference("a/b").is_err());
        assert!(check_reference("").is_err());
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let registry = Registry::new("https://123.dkr.ecr.us-east-1.amazonaws.com")
            .unwrap()
            .with_basic_auth("AWS", "hunter2");
        let text = format!("{registry:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVy"),
            "{text}"
        );
        assert!(Registry::new("ftp://x").is_err());
        assert!(Registry::new("not a url").is_err());
    }
}
