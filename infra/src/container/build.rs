//! Cross-compile a workspace package to a static Linux binary with `cargo zigbuild`.
//!
//! The build is made reproducible: source paths are remapped (`--remap-path-prefix`, so the
//! checkout and cargo home locations do not reach the binary), symbols are stripped,
//! `SOURCE_DATE_EPOCH` is fixed for C build scripts, and `--locked` pins dependencies. It runs
//! in its own target directory (default `<workspace>/target/image`) so it never invalidates the
//! development build.
//!
//! The build runs in an environment that holds no secret: every dependency's `build.rs` runs
//! with it, so only what a build needs is passed on ([`build_environment`]): `PATH`, `HOME`,
//! the locale, temporary and cache directories, proxy settings, `CARGO_*`, `RUSTUP_*`, `ZIG_*`,
//! and none of those whose name says it holds a secret (`*TOKEN*`, `*SECRET*`, `*PASSWORD*`,
//! `*CREDENTIAL*`, `*_KEY*`). AWS credentials, `OPENAI_API_KEY`, a user's password variable and
//! the stack's other secret variables never reach it. `INFRA_BUILD_ENV=NAME,NAME` passes more
//! variables on by name, when a build really needs them.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// A Linux platform the image can be built for, as `stack.toml` and OCI name it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
pub enum Platform {
    /// `linux/arm64` (`aarch64-unknown-linux-musl`): what AgentCore Runtime runs.
    #[default]
    #[serde(rename = "linux/arm64")]
    LinuxArm64,
    /// `linux/amd64` (`x86_64-unknown-linux-musl`).
    #[serde(rename = "linux/amd64")]
    LinuxAmd64,
}

impl Platform {
    /// The Rust target triple of the static build.
    pub fn triple(self) -> &'static str {
        match self {
            Platform::LinuxArm64 => "aarch64-unknown-linux-musl",
            Platform::LinuxAmd64 => "x86_64-unknown-linux-musl",
        }
    }

    /// The OCI / Go architecture name (`arm64`, `amd64`).
    pub fn oci(self) -> &'static str {
        match self {
            Platform::LinuxArm64 => "arm64",
            Platform::LinuxAmd64 => "amd64",
        }
    }

    /// `linux/arm64`, `linux/amd64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::LinuxArm64 => "linux/arm64",
            Platform::LinuxAmd64 => "linux/amd64",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The cargo workspace (or package) directory to build in.
    pub workspace: PathBuf,
    /// The package to build; its binary must have the package's name.
    pub package: String,
    pub platform: Platform,
    /// Where cargo puts the build; `None` = `<workspace>/target/image`.
    pub target_dir: Option<PathBuf>,
    /// The checkout whose `.tools/` (and `.venv/`) `scripts/image-tools.sh` installed into;
    /// `None` = `workspace`. Tools on `PATH` are found either way.
    pub tools_root: Option<PathBuf>,
}

impl BuildOptions {
    /// Build `package` of the workspace at `workspace` for linux/arm64 into `target/image`.
    pub fn new(workspace: impl Into<PathBuf>, package: impl Into<String>) -> Self {
        BuildOptions {
            workspace: workspace.into(),
            package: package.into(),
            platform: Platform::default(),
            target_dir: None,
            tools_root: None,
        }
    }

    fn target_dir(&self) -> PathBuf {
        self.target_dir
            .clone()
            .unwrap_or_else(|| self.workspace.join("target").join("image"))
    }
}

/// A built binary.
#[derive(Clone)]
pub struct Built {
    /// Path of the static binary inside the target directory.
    pub binary: PathBuf,
    /// The binary itself, as read once after the build.
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of the binary.
    pub digest: String,
}

impl fmt::Debug for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Built({} {})", self.binary.display(), self.digest)
    }
}

/// The tools a build needs, found on this machine.
#[derive(Clone, Debug)]
pub struct Toolchain {
    cargo: OsString,
    /// Directory of `cargo-zigbuild`, put first on `PATH` for the build.
    zigbuild_dir: PathBuf,
    /// A Python with the `ziglang` package, if zig is not on `PATH` itself.
    ziglang_python: Option<PathBuf>,
}

/// Finds cargo-zigbuild, zig and the rustup target for `platform`; looks on `PATH` and where
/// `scripts/image-tools.sh` installs them (`<tools_root>/.tools/cargo/bin`,
/// `<tools_root>/.tools/zig`, `<tools_root>/.venv`, `~/.cargo/bin`). The error lists every
/// missing tool with its install command.
pub fn check_tools(tools_root: &Path, arch: Platform) -> Result<Toolchain> {
    let workspace = tools_root;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut missing: Vec<String> = Vec::new();

    if !target_installed(arch)? {
        missing.push(format!(
            "the Rust target {t}: rustup target add {t}",
            t = arch.triple()
        ));
    }

    let zigbuild_dir = find_zigbuild(workspace);
    if zigbuild_dir.is_none() {
        missing.push("cargo-zigbuild: cargo install cargo-zigbuild --locked".into());
    }

    let zig_on_path = std::env::var_os("CARGO_ZIGBUILD_ZIG_PATH")
        .map(PathBuf::from)
        .or_else(|| find_on_path("zig"))
        .is_some_and(|zig| runs(Command::new(zig).arg("version")));
    let ziglang_python = if zig_on_path {
        None
    } else {
        let found = python_candidates(workspace)
            .into_iter()
            .find(|python| runs(Command::new(python).args(["-m", "ziglang", "version"])));
        if found.is_none() {
            missing
                .push("zig (PyPI ziglang, or zig on PATH): python3 -m pip install ziglang".into());
        }
        found
    };

    if !missing.is_empty() {
        bail!(
            "cannot build the image for {arch}; missing:\n  - {}\nor run scripts/image-tools.sh, which installs all of them",
            missing.join("\n  - ")
        );
    }
    Ok(Toolchain {
        cargo,
        zigbuild_dir: zigbuild_dir.expect("checked above"),
        ziglang_python,
    })
}

/// Cross-compiles `options.package` to a static binary for `options.platform` with
/// `cargo zigbuild --release --locked`, after [`check_tools`]. Cargo's output goes to stderr.
pub fn build(options: &BuildOptions) -> Result<Built> {
    let workspace = check_workspace(&options.workspace)?;
    let tools_root = options.tools_root.as_ref().unwrap_or(&options.workspace);
    let tools = check_tools(tools_root, options.platform)?;
    let target_dir = options.target_dir();
    let triple = options.platform.triple();

    let mut path = vec![tools.zigbuild_dir.clone()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let cargo_home = cargo_home();
    // CARGO_ENCODED_RUSTFLAGS (0x1f-separated) keeps paths with spaces intact.
    let mut rustflags = vec![format!(
        "--remap-path-prefix={}=/build",
        workspace.display()
    )];
    if let Some(home) = &cargo_home {
        rustflags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }

    let mut command = Command::new(&tools.cargo);
    command
        .env_clear()
        .envs(build_environment(std::env::vars_os()))
        .current_dir(&workspace)
        .args(["zigbuild", "--release", "--locked", "-p"])
        .arg(&options.package)
        .args(["--target", triple, "--target-dir"])
        .arg(&target_dir)
        .env("PATH", std::env::join_paths(path)?)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"))
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_INCREMENTAL", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        command.env("SOURCE_DATE_EPOCH", "0");
    }
    if let Some(python) = &tools.ziglang_python {
        command.env("CARGO_ZIGBUILD_PYTHON_PATH", python);
    }
    let status = command
        .status()
        .with_context(|| format!("running {:?} zigbuild", tools.cargo))?;
    if !status.success() {
        bail!(
            "cargo zigbuild -p {} --target {triple} failed ({status}); its output is above",
            options.package
        );
    }

    let binary = target_dir
        .join(triple)
        .join("release")
        .join(&options.package);
    let bytes = std::fs::read(&binary).with_context(|| {
        format!(
            "the build succeeded but {} is missing (the binary must be named like the package)",
            binary.display()
        )
    })?;
    Ok(Built {
        binary,
        digest: super::sha256_digest(&bytes),
        bytes,
    })
}

/// The cargo workspace (or package) directory, checked before any tool is looked for: a
/// directory holding a `Cargo.toml`.
fn check_workspace(dir: &Path) -> Result<PathBuf> {
    let shown = dir.display();
    let workspace = match dir.canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "the cargo workspace {shown} does not exist ([image] workspace, relative to the stack file)"
            )
        }
        Err(e) => bail!("the cargo workspace {shown}: {e}"),
    };
    if !workspace.is_dir() {
        bail!(
            "the cargo workspace {shown} is not a directory ([image] workspace names the directory of Cargo.toml)"
        );
    }
    if !workspace.join("Cargo.toml").is_file() {
        bail!(
            "{shown} holds no Cargo.toml, so it is not a cargo workspace or package; \
             [image] workspace names the directory of the Cargo.toml that has the package to build"
        );
    }
    Ok(workspace)
}

/// Variables a build gets by exact name.
const BUILD_VARIABLES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TMP",
    "TEMP",
    "TERM",
    "LANG",
    "TZ",
    "SOURCE_DATE_EPOCH",
    "XDG_CACHE_HOME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "RUSTC",
    "RUSTDOC",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// Variables a build gets by prefix.
const BUILD_PREFIXES: &[&str] = &["CARGO_", "RUSTUP_", "ZIG_", "LC_"];

/// Words in a variable's name that say it holds a secret: never passed on by prefix
/// (`CARGO_REGISTRY_TOKEN`, `CARGO_REGISTRIES_<NAME>_TOKEN`).
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "_KEY",
];

/// The environment the build runs in, from this process's: what a build needs and nothing
/// that holds a secret (see the module's documentation). `INFRA_BUILD_ENV` names more.
pub fn build_environment(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    let vars: Vec<_> = vars.into_iter().collect();
    let extra: Vec<String> = vars
        .iter()
        .find(|(name, _)| name == "INFRA_BUILD_ENV")
        .and_then(|(_, value)| value.to_str())
        .map(|list| {
            list.split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    vars.into_iter()
        .filter(|(name, _)| {
            let Some(name) = name.to_str() else {
                return false;
            };
            if extra.iter().any(|e| e == name) {
                return true;
            }
            let upper = name.to_ascii_uppercase();
            let needed = BUILD_VARIABLES.contains(&name)
                || BUILD_PREFIXES.iter().any(|p| name.starts_with(p));
            needed && !SECRET_WORDS.iter().any(|w| upper.contains(w))
        })
        .collect()
}

fn target_installed(arch: Platform) -> Result<bool> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .with_context(|| format!("running {rustc:?} --print sysroot"))?;
    if !output.status.success() {
        bail!("{rustc:?} --print sysroot failed");
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    Ok(sysroot
        .join("lib/rustlib")
        .join(arch.triple())
        .join("lib")
        .is_dir())
}

fn find_zigbuild(workspace: &Path) -> Option<PathBuf> {
    let mut dirs = vec![workspace.join(".tools/cargo/bin")];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    dirs.extend(cargo_home().map(|home| home.join("bin")));
    dirs.into_iter().find(|dir| {
        let exe = dir.join("cargo-zigbuild");
        exe.is_file() && runs(Command::new(&exe).arg("--version"))
    })
}

fn python_candidates(workspace: &Path) -> Vec<PathBuf> {
    let mut candidates = vec![
        workspace.join(".tools/zig/bin/python3"),
        workspace.join(".venv/bin/python3"),
    ];
    candidates.retain(|path| path.is_file());
    candidates.extend(find_on_path("python3"));
    candidates
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .and_then(|home| home.canonicalize().ok())
}

fn runs(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_print() {
        let parse = |s: &str| serde_json::from_value::<Platform>(serde_json::json!(s));
        assert_eq!(parse("linux/arm64").unwrap(), Platform::LinuxArm64);
        assert_eq!(parse("linux/amd64").unwrap(), Platform::LinuxAmd64);
        assert!(parse("linux/s390x").is_err());
        assert_eq!(Platform::LinuxArm64.to_string(), "linux/arm64");
        assert_eq!(Platform::LinuxAmd64.triple(), "x86_64-unknown-linux-musl");
    }

    fn names(vars: &[(&str, &str)]) -> Vec<String> {
        let vars = vars
            .iter()
            .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        build_environment(vars)
            .into_iter()
            .map(|(n, _)| n.into_string().unwrap())
            .collect()
    }

    #[test]
    fn the_build_environment_keeps_what_a_build_needs_and_no_secret() {
        let kept = names(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("CARGO_HOME", "/home/u/.cargo"),
            ("RUSTUP_TOOLCHAIN", "stable"),
            ("https_proxy", "http://proxy:3128"),
            ("LC_ALL", "C.UTF-8"),
            ("OPENAI_API_KEY", "sk-x"),
            ("COGNITO_PASSWORD", "p"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SESSION_TOKEN", "t"),
            ("AWS_PROFILE", "prod"),
            ("GITHUB_TOKEN", "g"),
            ("CARGO_REGISTRY_TOKEN", "r"),
            ("CARGO_REGISTRIES_CORP_TOKEN", "r"),
            ("CARGO_SECRET_THING", "r"),
            ("MY_STACK_SECRET", "v"),
        ]);
        assert_eq!(
            kept,
            [
                "PATH",
                "HOME",
                "CARGO_HOME",
                "RUSTUP_TOOLCHAIN",
                "https_proxy",
                "LC_ALL"
            ]
        );
    }

    #[test]
    fn infra_build_env_passes_more_variables_by_name() {
        let kept = names(&[
            ("INFRA_BUILD_ENV", "PKG_CONFIG_PATH, SSH_AUTH_SOCK"),
            ("PKG_CONFIG_PATH", "/opt/lib/pkgconfig"),
            ("SSH_AUTH_SOCK", "/tmp/agent"),
            ("OPENAI_API_KEY", "sk-x"),
        ]);
        assert_eq!(kept, ["PKG_CONFIG_PATH", "SSH_AUTH_SOCK"]);
    }

    #[test]
    fn a_missing_workspace_is_named_before_any_tool_is_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let error = build(&BuildOptions::new(&missing, "server")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("does not exist ([image] workspace"),
            "{error}"
        );
        let error = build(&BuildOptions::new(dir.path(), "server")).unwrap_err();
        assert!(error.to_string().contains("holds no Cargo.toml"), "{error}");
    }

    #[test]
    fn default_target_dir_is_separate_from_the_dev_build() {
        let options = BuildOptions::new("/w", "server");
        assert_eq!(options.target_dir(), PathBuf::from("/w/target/image"));
        assert_eq!(options.platform, Platform::LinuxArm64);
    }
}
