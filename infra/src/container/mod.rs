//! Container images without Docker: cross-compile, assemble a reproducible image (Docker's
//! schema 2 by default, or OCI), push it.
//! (The `image` resource kind, `resources/image/`, uses this to build and push the server.)
//!
//! ```text
//! build::build(&BuildOptions)      cargo zigbuild → a static musl binary for linux/arm64 or amd64
//! oci::assemble(&binary, &spec)    one-layer image (spec.format: Docker schema 2 or OCI),
//!                                  byte-for-byte reproducible → manifest digest
//! registry::Registry::push(..)     OCI distribution API (HEAD, upload missing blobs, PUT manifest)
//! ```
//!
//! Same source ⇒ same binary ⇒ same layer, config and manifest bytes ⇒ same digest, so a deploy by
//! digest is level-triggered: an unchanged server is neither uploaded again nor redeployed.
//! The tools the build needs are installed by `scripts/image-tools.sh`; [`build::check_tools`]
//! names whatever is missing and how to install it.

pub mod build;
pub mod oci;
pub mod registry;

pub use build::{BuildOptions, Built, Platform, build, check_tools};
pub use oci::{Image, ImageConfig, ImageFormat, assemble};
pub use registry::{PushReport, Registry};

use sha2::{Digest as _, Sha256};

/// `sha256:<lowercase hex>` of `bytes`: the content address OCI uses for blobs and manifests.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let hash = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in hash.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_of_empty_input_is_the_well_known_one() {
        assert_eq!(
            super::sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
