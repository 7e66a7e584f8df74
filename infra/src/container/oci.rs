//! A minimal, reproducible OCI image: one layer holding one static binary.
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

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// How the binary is packaged and started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageConfig {
    pub platform: Platform,
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
    /// The MCP server image: `/server` as 65532:65532, port 8000, `HOST=0.0.0.0`, `PORT=8000`,
    /// `SSL_CERT_FILE`, Mozilla's CA bundle, mtime 0.
    pub fn server(platform: Platform) -> Self {
        ImageConfig {
            platform,
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
        media_type: MANIFEST_MEDIA_TYPE,
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE,
            digest: &config_digest,
            size: config.len(),
        },
        layers: vec![Descriptor {
            media_type: LAYER_MEDIA_TYPE,
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
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": image.config_digest, "size": image.config.len()},
                "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": image.layer_digest, "size": image.layer.len()}],
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
}
