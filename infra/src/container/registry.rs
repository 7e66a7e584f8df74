//! Push and look up images over the OCI distribution API (no Docker).
//!
//! Push: for each blob `HEAD /v2/<name>/blobs/<digest>`; only missing blobs are uploaded
//! (`POST /v2/<name>/blobs/uploads/`, then one monolithic `PUT <location>?digest=…`); then
//! `PUT /v2/<name>/manifests/<tag>` (`Content-Type`: the manifest's own `mediaType`, Docker
//! schema 2 or OCI) unless the tag already points at this manifest. Auth is HTTP Basic, as ECR's
//! `GetAuthorizationToken` gives it (user `AWS` and a password): sent with every request to the
//! registry's own origin (scheme, host and port) and never to another one, even one that answers
//! `401` with a `Basic` challenge: the spec lets an upload `Location` point at another host, and
//! the registry's credentials are not that host's business.

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};

use super::{Image, sha256_digest};
use crate::sensitive::Sensitive;

/// Manifest media types `resolve` accepts: OCI and Docker, single-platform and index.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// How long a registry may go without sending a byte before a request fails.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A registry, e.g. `http://127.0.0.1:5000` or `https://<account>.dkr.ecr.<region>.amazonaws.com`.
pub struct Registry {
    base: Url,
    client: reqwest::Client,
    /// The whole `Authorization` header value.
    authorization: Option<Sensitive<String>>,
    /// How long a request may go without a byte (`--call-timeout` for infra's own registry).
    read_timeout: std::time::Duration,
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
    /// Requests time out: see [`READ_TIMEOUT`].
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_read_timeout(base_url, READ_TIMEOUT)
    }

    /// [`Registry::new`] with another read timeout.
    pub fn with_read_timeout(base_url: &str, read_timeout: std::time::Duration) -> Result<Self> {
        let mut base = Url::parse(base_url)
            .with_context(|| format!("registry URL {base_url:?} (expected e.g. https://host)"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            bail!("registry URL {base_url:?} must be http(s)://host[:port]");
        }
        base.set_path("/");
        base.set_query(None);
        // A registry that accepts the connection and then stalls fails a request after 60 s
        // without a byte (the read timeout restarts with every read, so a large upload that is
        // moving is never cut); 10 minutes is the most one request may take in all.
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(read_timeout)
            .timeout(std::time::Duration::from_secs(600))
            .user_agent(concat!("infra/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Registry {
            base,
            client,
            authorization: None,
            read_timeout,
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
        // The registry parses the manifest by its Content-Type: the manifest's own media type.
        let media_type = image
            .media_type()
            .context("the manifest has no mediaType to send as its Content-Type")?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            media_type
                .parse()
                .with_context(|| format!("media type {media_type:?}"))?,
        );
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

    /// Sends a request, with the credentials if `url` is on the registry's own origin (scheme,
    /// host and port). They never go anywhere else: a `401` from another origin (e.g. an upload
    /// `Location` on another host) is an error, not a reason to send them. (reqwest drops the
    /// `Authorization` header itself when a redirect leaves the origin.)
    async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<Response> {
        let same_origin = url.origin() == self.base.origin();
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .headers(headers);
        if same_origin && let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.expose());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                format!(
                    "the registry did not answer within {}s",
                    self.read_timeout.as_secs_f64()
                )
            } else {
                "the registry is unreachable".to_owned()
            };
            anyhow::Error::new(e).context(format!("{method} {url}: {what}"))
        })?;
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
        if !same_origin {
            bail!(
                "{method} {url}: 401 (WWW-Authenticate: {challenge:?}) from {}, which is not the registry {}; the registry's credentials are only sent to the registry itself",
                url.origin().ascii_serialization(),
                self.base.origin().ascii_serialization()
            );
        }
        match &self.authorization {
            Some(_) if basic => bail!(
                "{method} {url}: the registry rejected the credentials (401, WWW-Authenticate: {challenge:?}); for ECR, get a fresh token with GetAuthorizationToken"
            ),
            Some(_) => bail!(
                "{method} {url}: 401 with an unsupported challenge {challenge:?}; only Basic auth is supported"
            ),
            None => bail!(
                "{method} {url}: the registry requires credentials (401, WWW-Authenticate: {challenge:?}); use Registry::with_basic_auth"
            ),
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
    use base64::Engine as _;

    use super::*;
    use crate::container::{ImageConfig, ImageFormat, Platform, assemble};

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

    #[tokio::test]
    async fn a_registry_that_accepts_and_never_answers_fails_the_request_in_bounded_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        // Accept, read nothing, answer nothing: the connection stays open.
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        let registry =
            Registry::with_read_timeout(&origin, std::time::Duration::from_millis(500)).unwrap();
        let started = std::time::Instant::now();
        let error = registry
            .manifest_exists("repo", &sha256_digest(b"x"))
            .await
            .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let text = format!("{error:#}");
        assert!(text.contains("127.0.0.1"), "names the endpoint: {text}");
        held.abort();
    }

    /// Minimal HTTP/1.1 servers on 127.0.0.1 that record what they are sent.
    mod fake {
        use std::sync::{Arc, Mutex};

        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
        use tokio::net::{TcpListener, TcpStream};

        /// A request as the server received it.
        #[derive(Clone, Debug)]
        pub struct Seen {
            pub method: String,
            /// Path and query.
            pub target: String,
            pub authorization: Option<String>,
            pub content_type: Option<String>,
            pub body: Vec<u8>,
        }

        /// Status, extra headers, body.
        pub type Reply = (u16, Vec<(&'static str, String)>, Vec<u8>);

        pub struct Server {
            /// `http://127.0.0.1:<port>`.
            pub origin: String,
            pub seen: Arc<Mutex<Vec<Seen>>>,
        }

        impl Server {
            pub fn seen(&self) -> Vec<Seen> {
                self.seen.lock().unwrap().clone()
            }
        }

        /// Serves until the test's runtime ends; one request per connection.
        pub async fn serve(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let origin = format!("http://{}", listener.local_addr().unwrap());
            let seen = Arc::new(Mutex::new(Vec::new()));
            let handler = Arc::new(handler);
            let log = seen.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (handler, log) = (handler.clone(), log.clone());
                    tokio::spawn(async move {
                        if let Some(request) = read(stream).await {
                            let (request, mut stream) = request;
                            log.lock().unwrap().push(request.clone());
                            let (status, headers, body) = handler(&request);
                            let mut head = format!(
                                "HTTP/1.1 {status} Fake\r\nContent-Length: {}\r\nConnection: close\r\n",
                                body.len()
                            );
                            for (name, value) in headers {
                                head.push_str(&format!("{name}: {value}\r\n"));
                            }
                            head.push_str("\r\n");
                            let _ = stream.write_all(head.as_bytes()).await;
                            if request.method != "HEAD" {
                                let _ = stream.write_all(&body).await;
                            }
                            let _ = stream.shutdown().await;
                        }
                    });
                }
            });
            Server { origin, seen }
        }

        async fn read(stream: TcpStream) -> Option<(Seen, TcpStream)> {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            reader.read_line(&mut line).await.ok()?;
            let mut parts = line.split_whitespace();
            let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
            let (mut authorization, mut content_type, mut length) = (None, None, 0);
            loop {
                line.clear();
                reader.read_line(&mut line).await.ok()?;
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':')?;
                let value = value.trim().to_string();
                match name.to_ascii_lowercase().as_str() {
                    "authorization" => authorization = Some(value),
                    "content-type" => content_type = Some(value),
                    "content-length" => length = value.parse().ok()?,
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).await.ok()?;
            let seen = Seen {
                method,
                target,
                authorization,
                content_type,
                body,
            };
            Some((seen, reader.into_inner()))
        }
    }

    const USER: &str = "AWS";
    const PASSWORD: &str = "hunter2";

    fn basic() -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        format!("Basic {token}")
    }

    /// Where uploads go: another server (an absolute URL), or the registry itself (a path).
    #[derive(Clone)]
    enum Uploads {
        At(String),
        Here,
    }

    /// A registry that requires Basic auth on every request, has nothing, and starts uploads at
    /// `uploads`.
    async fn registry_requiring_auth(uploads: Uploads) -> fake::Server {
        fake::serve(move |request| {
            if request.authorization.as_deref() != Some(basic().as_str()) {
                return (
                    401,
                    vec![("WWW-Authenticate", r#"Basic realm="fake""#.into())],
                    Vec::new(),
                );
            }
            let path = request.target.split('?').next().unwrap_or_default();
            match request.method.as_str() {
                "HEAD" => (404, Vec::new(), Vec::new()),
                "POST" if path.ends_with("/blobs/uploads/") => {
                    let location = match &uploads {
                        Uploads::At(origin) => format!("{origin}/upload/1?state=x"),
                        Uploads::Here => "/v2/repo/blobs/uploads/1?state=x".into(),
                    };
                    (202, vec![("Location", location)], Vec::new())
                }
                "PUT" if path.contains("/manifests/") => (
                    201,
                    vec![("Docker-Content-Digest", sha256_digest(&request.body))],
                    Vec::new(),
                ),
                "PUT" if path.contains("/blobs/uploads/") => accept_blob(request),
                _ => (404, Vec::new(), Vec::new()),
            }
        })
        .await
    }

    /// `201` if the body has the digest of the `digest` query parameter, else `400`.
    fn accept_blob(request: &fake::Seen) -> fake::Reply {
        let digest = Url::parse(&format!("http://x{}", request.target))
            .unwrap()
            .query_pairs()
            .find(|(key, _)| key == "digest")
            .map(|(_, value)| value.into_owned());
        if digest == Some(sha256_digest(&request.body)) {
            (201, Vec::new(), Vec::new())
        } else {
            (400, Vec::new(), b"digest mismatch".to_vec())
        }
    }

    fn small_image(format: ImageFormat) -> Image {
        let spec = ImageConfig {
            format,
            ca_bundle: None,
            ..ImageConfig::server(Platform::LinuxArm64)
        };
        assemble(b"a binary", &spec).unwrap()
    }

    #[tokio::test]
    async fn credentials_go_to_the_registry_and_never_to_an_upload_location_on_another_origin() {
        // Same host, another port: another origin.
        let storage = fake::serve(accept_blob).await;
        let registry = registry_requiring_auth(Uploads::At(storage.origin.clone())).await;
        let client = Registry::new(&registry.origin)
            .unwrap()
            .with_basic_auth(USER, PASSWORD);
        let image = small_image(ImageFormat::Docker);
        let report = client.push("repo", &image, &[]).await.unwrap();
        assert_eq!(report.blobs_uploaded, 2);
        assert_eq!(report.manifests_put, std::slice::from_ref(&image.digest));

        let uploads = storage.seen();
        assert_eq!(uploads.len(), 2, "{uploads:?}");
        assert!(uploads.iter().all(|r| r.method == "PUT"), "{uploads:?}");
        assert!(
            uploads.iter().all(|r| r.authorization.is_none()),
            "credentials reached another origin: {uploads:?}"
        );
        let to_registry = registry.seen();
        assert!(to_registry.len() >= 5, "{to_registry:?}");
        assert!(
            to_registry
                .iter()
                .all(|r| r.authorization.as_deref() == Some(basic().as_str())),
            "{to_registry:?}"
        );
    }

    #[tokio::test]
    async fn an_upload_location_on_another_origin_that_asks_for_credentials_does_not_get_them() {
        let storage = fake::serve(|request| {
            if request.authorization.is_none() {
                (
                    401,
                    vec![("WWW-Authenticate", r#"Basic realm="elsewhere""#.into())],
                    Vec::new(),
                )
            } else {
                accept_blob(request)
            }
        })
        .await;
        let registry = registry_requiring_auth(Uploads::At(storage.origin.clone())).await;
        let client = Registry::new(&registry.origin)
            .unwrap()
            .with_basic_auth(USER, PASSWORD);
        let error = client
            .push("repo", &small_image(ImageFormat::Docker), &[])
            .await
            .expect_err("the push must stop rather than send the credentials elsewhere");
        let message = format!("{error:#}");
        assert!(
            message.contains(&format!(
                "from {}, which is not the registry",
                storage.origin
            )) && message.contains(&registry.origin),
            "{message}"
        );
        assert!(!message.contains(PASSWORD), "{message}");
        let uploads = storage.seen();
        assert!(!uploads.is_empty());
        assert!(
            uploads.iter().all(|r| r.authorization.is_none()),
            "credentials reached another origin: {uploads:?}"
        );
    }

    #[tokio::test]
    async fn a_relative_upload_location_is_the_registry_and_gets_the_credentials() {
        let registry = registry_requiring_auth(Uploads::Here).await;
        let client = Registry::new(&registry.origin)
            .unwrap()
            .with_basic_auth(USER, PASSWORD);
        let image = small_image(ImageFormat::Docker);
        let report = client.push("repo", &image, &[]).await.unwrap();
        assert_eq!(report.blobs_uploaded, 2);
        let blob_puts: Vec<_> = registry
            .seen()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.target.starts_with("/v2/repo/blobs/uploads/1?"))
            .collect();
        assert_eq!(blob_puts.len(), 2);
        assert!(
            blob_puts
                .iter()
                .all(|r| r.authorization.as_deref() == Some(basic().as_str()))
        );
    }

    #[tokio::test]
    async fn the_manifest_is_put_with_its_own_media_type() {
        let registry = registry_requiring_auth(Uploads::Here).await;
        let client = Registry::new(&registry.origin)
            .unwrap()
            .with_basic_auth(USER, PASSWORD);
        for format in ImageFormat::ALL {
            let image = small_image(format);
            client.push("repo", &image, &["v1"]).await.unwrap();
            let put = registry
                .seen()
                .into_iter()
                .rfind(|r| r.method == "PUT" && r.target == "/v2/repo/manifests/v1")
                .unwrap();
            assert_eq!(
                put.content_type.as_deref(),
                Some(format.manifest_media_type())
            );
            assert_eq!(put.body, image.manifest);
        }
        let mut untyped = small_image(ImageFormat::Docker);
        untyped.manifest = b"{}".to_vec();
        untyped.digest = sha256_digest(&untyped.manifest);
        let error = client.push("repo", &untyped, &[]).await.unwrap_err();
        assert!(format!("{error:#}").contains("no mediaType"), "{error:#}");
    }
}
