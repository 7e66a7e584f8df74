//! A minimal, reproducible container image: one layer holding one static binary, in Docker's
//! image manifest v2 schema 2 (the default: what `docker push` sends, and so every image
//! AgentCore Runtime is documented running) or as an OCI image.
//!
//! The two formats differ only in the media types of the manifest, config and layer; the config
//! JSON and the layer bytes are the same (Docker's schema-2 config needs `architecture`, `os` and
//! `rootfs.diff_ids`, and takes `config` with the same keys as OCI's). Each format has its own
//! manifest digest, reproducible like the other.
//!
//! Reproducible means the same binary gives the same bytes, hence the same manifest digest:
//! the layer is a ustar archive with one entry (fixed mode, owner and mtime, no PAX headers),
//! gzip-compressed at a fixed level with a fixed header (no file name, mtime 0); the config and
//! manifest are serialized from structs, so their key order is fixed, and the config carries no
//! `created` timestamp.

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::{Context as _, Result};
use flate2::{Compression, GzBuilder};
use serde::Serialize;

use super::{Platform, sha256_digest};

pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The manifest format, which sets the media types of the manifest, config and layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// Docker image manifest v2 schema 2 (`application/vnd.docker.distribution.manifest.v2+json`):
    /// what Docker pushes, and so what AgentCore Runtime is documented running.
    #[default]
    Docker,
    /// OCI image manifest v1 (`application/vnd.oci.image.manifest.v1+json`).
    Oci,
}

impl ImageFormat {
    /// Every format, the default first.
    pub const ALL: [ImageFormat; 2] = [ImageFormat::Docker, ImageFormat::Oci];

    /// As `stack.toml` names it: `docker`, `oci`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Docker => "docker",
            ImageFormat::Oci => "oci",
        }
    }

    /// The format `stack.toml` names `name` (exactly `docker` or `oci`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The format whose manifest media type is `media_type`.
    pub fn from_manifest_media_type(media_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.manifest_media_type() == media_type)
    }

    pub fn manifest_media_type(self) -> &'static str {
        match self {
            ImageFormat::Docker => DOCKER_MANIFEST_MEDIA_TYPE,
            ImageFormat::Oci => OCI_MANIFEST_MEDIA_TYPE,
        }
    }

    pub fn config_media_type(self) -> &'static str {
        match self {
            ImageFormat::Docker => DOCKER_CONFIG_MEDIA_TYPE,
            ImageFormat::Oci => OCI_CONFIG_MEDIA_TYPE,
        }
    }

    pub fn layer_media_type(self) -> &'static str {
        match self {
            ImageFormat::Docker => DOCKER_LAYER_MEDIA_TYPE,
            ImageFormat::Oci => OCI_LAYER_MEDIA_TYPE,
        }
    }
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the binary is packaged and started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageConfig {
    pub platform: Platform,
    /// The manifest format (media types); the default is Docker's schema 2.
    pub format: ImageFormat,
    /// File name of the binary at the image root; the entrypoint is `/<name>`.
    pub name: String,
    /// Numeric user and group the process runs as (and owner of the binary).
    pub uid: u32,
    pub gid: u32,
    /// The TCP port declared in `ExposedPorts`.
    pub port: u16,
    /// `Env`, in this order.
    pub env: Vec<(String, String)>,
    /// Modification time of every layer entry (seconds since the epoch).
    pub mtime: u64,
    /// PEM bundle installed at [`CA_BUNDLE_PATH`]: the server verifies TLS (OpenAI) against the
    /// system roots, and an image without them fails every HTTPS call.
    pub ca_bundle: Option<Vec<u8>>,
}

/// Where [`ImageConfig::ca_bundle`] goes (the Debian path, which rustls-native-certs probes).
pub const CA_BUNDLE_PATH: &str = "etc/ssl/certs/ca-certificates.crt";

/// Mozilla's root certificates as a PEM bundle, from the `webpki-root-certs` crate: pinned by
/// Cargo.lock, so it does not depend on the build machine.
pub fn mozilla_ca_bundle() -> Vec<u8> {
    use base64::Engine as _;
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

impl ImageConfig {
    /// The MCP server image in Docker's schema 2: `/server` as 65532:65532, port 8000,
    /// `HOST=0.0.0.0`, `PORT=8000`, `SSL_CERT_FILE`, Mozilla's CA bundle, mtime 0.
    pub fn server(platform: Platform) -> Self {
        ImageConfig {
            platform,
            format: ImageFormat::default(),
            name: "server".into(),
            uid: 65532,
            gid: 65532,
            port: 8000,
            env: vec![
                ("HOST".into(), "0.0.0.0".into()),
                ("PORT".into(), "8000".into()),
                ("SSL_CERT_FILE".into(), format!("/{CA_BUNDLE_PATH}")),
            ],
            mtime: 0,
            ca_bundle: Some(mozilla_ca_bundle()),
        }
    }
}

/// An assembled image: the three blobs and their digests.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// The manifest bytes, exactly as pushed.
    pub manifest: Vec<u8>,
    /// `sha256:<hex>` of [`Image::manifest`]: what the image is deployed by.
    pub digest: String,
    pub config: Vec<u8>,
    pub config_digest: String,
    /// The gzip-compressed layer.
    pub layer: Vec<u8>,
    pub layer_digest: String,
    /// `sha256:<hex>` of the uncompressed layer tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
}

impl Image {
    /// The manifest's own `mediaType`: the `Content-Type` it is pushed with. `None` if the
    /// manifest does not say (never for an image from [`assemble`]).
    pub fn media_type(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct MediaType {
            #[serde(rename = "mediaType")]
            media_type: String,
        }
        serde_json::from_slice::<MediaType>(&self.manifest)
            .ok()
            .map(|m| m.media_type)
    }

    /// The format of the manifest, from its `mediaType`.
    pub fn format(&self) -> Option<ImageFormat> {
        ImageFormat::from_manifest_media_type(&self.media_type()?)
    }

    /// Bytes of layer + config + manifest: the compressed size of the image.
    pub fn compressed_size(&self) -> usize {
        self.layer.len() + self.config.len() + self.manifest.len()
    }

    /// The blobs the manifest refers to, as `(digest, bytes)`: config first, then the layer.
    pub fn blobs(&self) -> [(&str, &[u8]); 2] {
        [
            (&self.config_digest, &self.config),
            (&self.layer_digest, &self.layer),
        ]
    }
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("digest", &self.digest)
            .field("config_digest", &self.config_digest)
            .field("layer_digest", &self.layer_digest)
            .field("layer_bytes", &self.layer.len())
            .field("diff_id", &self.diff_id)
            .finish()
    }
}

/// Assembles the image for `binary` (the file's bytes) as described by `spec`.
pub fn assemble(binary: &[u8], spec: &ImageConfig) -> Result<Image> {
    let tar = layer_tar(binary, spec)?;
    let diff_id = sha256_digest(&tar);
    let layer = gzip(&tar)?;
    let layer_digest = sha256_digest(&layer);

    let entrypoint = format!("/{}", spec.name);
    let config = Config {
        architecture: spec.platform.oci(),
        os: "linux",
        variant: (spec.platform == Platform::LinuxArm64).then_some("v8"),
        config: RunConfig {
            user: format!("{}:{}", spec.uid, spec.gid),
            exposed_ports: BTreeMap::from([(format!("{}/tcp", spec.port), Empty {})]),
            env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            entrypoint: vec![entrypoint],
            working_dir: "/",
        },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: vec![diff_id.clone()],
        },
    };
    let config = serde_json::to_vec(&config).context("serializing the image config")?;
    let config_digest = sha256_digest(&config);

    let manifest = Manifest {
        schema_version: 2,
        media_type: spec.format.manifest_media_type(),
        config: Descriptor {
            media_type: spec.format.config_media_type(),
            digest: &config_digest,
            size: config.len(),
        },
        layers: vec![Descriptor {
            media_type: spec.format.layer_media_type(),
            digest: &layer_digest,
            size: layer.len(),
        }],
    };
    let manifest = serde_json::to_vec(&manifest).context("serializing the image manifest")?;
    Ok(Image {
        digest: sha256_digest(&manifest),
        manifest,
        config_digest,
        config,
        layer_digest,
        layer,
        diff_id,
    })
}

/// The uncompressed layer, entries in sorted order: the CA bundle with its parent directories
/// (root-owned, 0755 / 0644) if any, then `<name>` (0755, owned by uid:gid). Plain ustar
/// headers, all with the same mtime.
fn layer_tar(binary: &[u8], spec: &ImageConfig) -> Result<Vec<u8>> {
    /// Path, content (`None`: a directory), mode, uid, gid.
    type Entry<'a> = (String, Option<&'a [u8]>, u32, u32, u32);
    let mut entries: Vec<Entry> = Vec::new();
    if let Some(bundle) = &spec.ca_bundle {
        let mut dir = String::new();
        let (parents, _) = CA_BUNDLE_PATH.rsplit_once('/').expect("a nested path");
        for component in parents.split('/') {
            dir.push_str(component);
            dir.push('/');
            entries.push((dir.clone(), None, 0o755, 0, 0));
        }
        entries.push((CA_BUNDLE_PATH.into(), Some(bundle), 0o644, 0, 0));
    }
    entries.push((spec.name.clone(), Some(binary), 0o755, spec.uid, spec.gid));
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let size = entries
        .iter()
        .map(|e| e.1.map_or(0, <[u8]>::len) + 1024)
        .sum::<usize>();
    let mut builder = tar::Builder::new(Vec::with_capacity(size + 1024));
    for (path, content, mode, uid, gid) in entries {
        let mut header = tar::Header::new_ustar();
        header
            .set_path(&path)
            .with_context(|| format!("{path:?} as a tar path"))?;
        header.set_entry_type(if content.is_some() {
            tar::EntryType::Regular
        } else {
            tar::EntryType::Directory
        });
        let content = content.unwrap_or(&[]);
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_uid(uid.into());
        header.set_gid(gid.into());
        header.set_mtime(spec.mtime);
        header.set_cksum();
        builder.append(&header, content)?;
    }
    Ok(builder.into_inner()?)
}

/// gzip at level 9 with a fixed header: no file name, mtime 0 (flate2's pure-Rust backend).
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::with_capacity(bytes.len() / 2), Compression::new(9));
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

// Field order below is the serialized key order.

#[derive(Serialize)]
struct Config {
    architecture: &'static str,
    os: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'static str>,
    config: RunConfig,
    rootfs: RootFs,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    user: String,
    exposed_ports: BTreeMap<String, Empty>,
    env: Vec<String>,
    entrypoint: Vec<String>,
    working_dir: &'static str,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'static str,
    digest: &'a str,
    size: usize,
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use serde_json::{Value, json};

    use super::*;

    fn fake_binary() -> Vec<u8> {
        (0..100_000u32).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn same_input_gives_the_same_bytes_and_digest() {
        let spec = ImageConfig::server(Platform::LinuxArm64);
        let a = assemble(&fake_binary(), &spec).unwrap();
        let b = assemble(&fake_binary(), &spec).unwrap();
        assert_eq!(a, b);
        assert!(a.digest.starts_with("sha256:") && a.digest.len() == 71);
    }

    #[test]
    fn one_changed_byte_changes_every_digest() {
        let spec = ImageConfig::server(Platform::LinuxArm64);
        let mut binary = fake_binary();
        let a = assemble(&binary, &spec).unwrap();
        binary[50_000] ^= 1;
        let b = assemble(&binary, &spec).unwrap();
        assert_ne!(a.digest, b.digest);
        assert_ne!(a.layer_digest, b.layer_digest);
        assert_ne!(a.diff_id, b.diff_id);
        assert_ne!(a.config_digest, b.config_digest);
    }

    #[test]
    fn the_architecture_changes_the_digest_but_not_the_layer() {
        let arm = assemble(&fake_binary(), &ImageConfig::server(Platform::LinuxArm64)).unwrap();
        let amd = assemble(&fake_binary(), &ImageConfig::server(Platform::LinuxAmd64)).unwrap();
        assert_eq!(arm.layer_digest, amd.layer_digest);
        assert_ne!(arm.digest, amd.digest);
    }

    #[test]
    fn layer_holds_only_the_binary_with_fixed_metadata() {
        let binary = fake_binary();
        let image = assemble(&binary, &ImageConfig::server(Platform::LinuxArm64)).unwrap();
        // gzip header: magic, deflate, no flags (no file name), mtime 0, OS 255.
        assert_eq!(&image.layer[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&image.layer[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(sha256_digest(&tar), image.diff_id);
        let mut archive = tar::Archive::new(&tar[..]);
        let mut entries = archive.entries().unwrap();
        let mut names = Vec::new();
        for _ in 0..4 {
            let mut entry = entries.next().unwrap().unwrap();
            let header = entry.header().clone();
            names.push(entry.path().unwrap().to_str().unwrap().to_string());
            assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
            assert_eq!(header.mtime().unwrap(), 0);
            assert!(header.as_ustar().is_some());
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            if header.entry_type() == tar::EntryType::Regular {
                assert_eq!(header.mode().unwrap(), 0o644);
                assert_eq!(content, mozilla_ca_bundle());
            } else {
                assert_eq!(header.entry_type(), tar::EntryType::Directory);
                assert_eq!(header.mode().unwrap(), 0o755);
            }
        }
        assert_eq!(
            names,
            [
                "etc/",
                "etc/ssl/",
                "etc/ssl/certs/",
                "etc/ssl/certs/ca-certificates.crt"
            ]
        );
        let mut entry = entries.next().unwrap().unwrap();
        let header = entry.header().clone();
        assert_eq!(entry.path().unwrap().to_str(), Some("server"));
        assert_eq!(header.mode().unwrap(), 0o755);
        assert_eq!(
            (header.uid().unwrap(), header.gid().unwrap()),
            (65532, 65532)
        );
        assert_eq!(header.mtime().unwrap(), 0);
        assert_eq!(header.entry_type(), tar::EntryType::Regular);
        assert!(
            header.as_ustar().is_some(),
            "a plain ustar header, no PAX/GNU extensions"
        );
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, binary);
        assert!(entries.next().is_none(), "nothing else");
    }

    #[test]
    fn ca_bundle_holds_the_mozilla_roots_as_pem() {
        let bundle = String::from_utf8(mozilla_ca_bundle()).unwrap();
        let count = bundle.matches("-----BEGIN CERTIFICATE-----").count();
        assert_eq!(count, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(count > 100, "{count} roots");
        assert!(
            bundle
                .lines()
                .all(|line| line.len() <= 64 || line.starts_with("-----"))
        );
        let without = ImageConfig {
            ca_bundle: None,
            ..ImageConfig::server(Platform::LinuxArm64)
        };
        let small = assemble(&fake_binary(), &without).unwrap();
        let full = assemble(&fake_binary(), &ImageConfig::server(Platform::LinuxArm64)).unwrap();
        assert!(small.layer.len() < full.layer.len());
    }

    #[test]
    fn config_and_manifest_are_what_a_runtime_expects() {
        let image = assemble(&fake_binary(), &ImageConfig::server(Platform::LinuxArm64)).unwrap();
        let config: Value = serde_json::from_slice(&image.config).unwrap();
        assert_eq!(
            config,
            json!({
                "architecture": "arm64",
                "os": "linux",
                "variant": "v8",
                "config": {
                    "User": "65532:65532",
                    "ExposedPorts": {"8000/tcp": {}},
                    "Env": ["HOST=0.0.0.0", "PORT=8000", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
                    "Entrypoint": ["/server"],
                    "WorkingDir": "/",
                },
                "rootfs": {"type": "layers", "diff_ids": [image.diff_id]},
            })
        );
        assert!(config.get("created").is_none());
        let manifest: Value = serde_json::from_slice(&image.manifest).unwrap();
        assert_eq!(
            manifest,
            json!({
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST_MEDIA_TYPE,
                "config": {"mediaType": DOCKER_CONFIG_MEDIA_TYPE, "digest": image.config_digest, "size": image.config.len()},
                "layers": [{"mediaType": DOCKER_LAYER_MEDIA_TYPE, "digest": image.layer_digest, "size": image.layer.len()}],
            })
        );
        // Key order is fixed by the struct definitions, whatever serde_json's map features are.
        let text = String::from_utf8(image.manifest.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"schemaVersion":2,"mediaType":"#),
            "{text}"
        );
        assert_eq!(image.digest, sha256_digest(&image.manifest));
        assert_eq!(
            image.compressed_size(),
            image.layer.len() + image.config.len() + image.manifest.len()
        );
    }

    fn with_format(format: ImageFormat) -> ImageConfig {
        ImageConfig {
            format,
            ..ImageConfig::server(Platform::LinuxArm64)
        }
    }

    /// The descriptors' media types, as `(manifest, config, layer)`.
    fn media_types(image: &Image) -> (String, String, String) {
        let manifest: Value = serde_json::from_slice(&image.manifest).unwrap();
        let text = |v: &Value| v.as_str().unwrap().to_string();
        (
            text(&manifest["mediaType"]),
            text(&manifest["config"]["mediaType"]),
            text(&manifest["layers"][0]["mediaType"]),
        )
    }

    #[test]
    fn the_default_format_is_dockers_schema_2() {
        assert_eq!(ImageFormat::default(), ImageFormat::Docker);
        let spec = ImageConfig::server(Platform::LinuxArm64);
        assert_eq!(spec.format, ImageFormat::Docker);
        let image = assemble(&fake_binary(), &spec).unwrap();
        assert_eq!(
            media_types(&image),
            (
                "application/vnd.docker.distribution.manifest.v2+json".into(),
                "application/vnd.docker.container.image.v1+json".into(),
                "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
            )
        );
        assert_eq!(
            image.media_type().as_deref(),
            Some("application/vnd.docker.distribution.manifest.v2+json")
        );
        assert_eq!(image.format(), Some(ImageFormat::Docker));
        // What Docker's schema-2 config requires: architecture, os, rootfs.diff_ids.
        let config: Value = serde_json::from_slice(&image.config).unwrap();
        assert_eq!(config["architecture"], "arm64");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["rootfs"]["type"], "layers");
        assert_eq!(config["rootfs"]["diff_ids"], json!([image.diff_id]));
    }

    #[test]
    fn the_oci_format_has_oci_media_types() {
        let image = assemble(&fake_binary(), &with_format(ImageFormat::Oci)).unwrap();
        assert_eq!(
            media_types(&image),
            (
                "application/vnd.oci.image.manifest.v1+json".into(),
                "application/vnd.oci.image.config.v1+json".into(),
                "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            )
        );
        assert_eq!(image.format(), Some(ImageFormat::Oci));
    }

    #[test]
    fn each_format_is_reproducible_and_has_its_own_digest() {
        let binary = fake_binary();
        let [docker, oci] = ImageFormat::ALL.map(|format| {
            let a = assemble(&binary, &with_format(format)).unwrap();
            let b = assemble(&binary, &with_format(format)).unwrap();
            assert_eq!(a, b, "{format} is not reproducible");
            assert_eq!(a.digest, sha256_digest(&a.manifest));
            a
        });
        assert_ne!(docker.digest, oci.digest);
        assert_ne!(docker.manifest, oci.manifest);
        // Only the manifest differs: the config and layer bytes are the same in both.
        assert_eq!(docker.config, oci.config);
        assert_eq!(docker.layer, oci.layer);
        assert_eq!(docker.diff_id, oci.diff_id);
    }

    #[test]
    fn formats_are_named_as_in_the_stack_file() {
        for format in ImageFormat::ALL {
            assert_eq!(ImageFormat::from_name(format.as_str()), Some(format));
            assert_eq!(
                ImageFormat::from_manifest_media_type(format.manifest_media_type()),
                Some(format)
            );
            assert_eq!(format.to_string(), format.as_str());
        }
        assert_eq!(ImageFormat::from_name("docker"), Some(ImageFormat::Docker));
        assert_eq!(ImageFormat::from_name("oci"), Some(ImageFormat::Oci));
        assert_eq!(ImageFormat::from_name("OCI"), None);
        assert_eq!(ImageFormat::from_name("v2"), None);
        let unknown = Image {
            manifest: b"not json".to_vec(),
            ..assemble(&fake_binary(), &with_format(ImageFormat::Oci)).unwrap()
        };
        assert_eq!((unknown.media_type(), unknown.format()), (None, None));
    }
}
