//! The image pipeline against real components: cargo zigbuild, qemu-aarch64-static running the
//! arm64 server, and a real registry (Debian `docker-registry`, distribution 2.8) on 127.0.0.1,
//! which is pushed both formats: Docker's schema 2 (the default) and OCI.
//!
//! Needs the tools `scripts/image-tools.sh` installs; a missing tool fails the test with that hint.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

mod support;

use infra::container::{
    self as image, BuildOptions, Built, ImageConfig, ImageFormat, Platform, Registry,
};
use serde_json::{Value, json};

use support::{INSTALL_HINT, KillOnDrop, LocalRegistry, free_port, tool, wait_for_port};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn build_or_explain(options: &BuildOptions) -> Built {
    let started = Instant::now();
    let built = image::build(options)
        .unwrap_or_else(|error| panic!("image build failed: {error:#}\n({INSTALL_HINT})"));
    eprintln!(
        "built {} for {} in {:.1} s: {}",
        options.package,
        options.platform,
        started.elapsed().as_secs_f64(),
        built.digest
    );
    built
}

/// The server for linux/arm64, built once per test binary into `target/image`.
fn server_arm64() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| build_or_explain(&BuildOptions::new(workspace(), "server")))
}

#[tokio::test]
async fn arm64_server_runs_under_qemu_and_lists_its_tools() {
    let qemu = tool("qemu-aarch64-static", &["/usr/bin/qemu-aarch64-static"]);
    let built = server_arm64();
    let header = std::fs::read(&built.binary).unwrap();
    assert_eq!(&header[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([header[18], header[19]]),
        183,
        "EM_AARCH64"
    );

    let port = free_port();
    let mut server = KillOnDrop(
        Command::new(qemu)
            .arg(&built.binary)
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "text")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, &mut server.0, "the arm64 server under qemu");

    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let result = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .chain(serde_json::from_str::<Value>(&body).ok())
        .find(|message| message["id"] == 1)
        .unwrap_or_else(|| panic!("no JSON-RPC response in {body:?}"));
    let mut names: Vec<&str> = result["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {result}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["greet_user", "web_search"]);
}

/// A dependency-free crate, so building it twice from scratch takes seconds.
fn fixture_crate(dir: &Path, message: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [profile.release]\ncodegen-units = 1\npanic = \"abort\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"fixture\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        format!(
            "fn main() {{\n    println!(\"{message}\");\n    if std::env::args().count() > 5 {{\n        panic!(\"too many arguments\");\n    }}\n}}\n"
        ),
    )
    .unwrap();
}

#[test]
fn same_source_gives_the_same_digest_and_a_changed_line_another() {
    // Two checkouts at different paths, each built from scratch in its own target directory:
    // neither the checkout path nor the target path may reach the binary.
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    fixture_crate(first.path(), "hello");
    fixture_crate(second.path(), "hello");
    let spec = ImageConfig::server(Platform::LinuxArm64);
    let digest_of = |dir: &Path| {
        let built = build_or_explain(&BuildOptions {
            tools_root: Some(workspace()),
            ..BuildOptions::new(dir, "fixture")
        });
        let bytes = std::fs::read(&built.binary).unwrap();
        (built.digest, image::assemble(&bytes, &spec).unwrap().digest)
    };
    let (binary_a, image_a) = digest_of(first.path());
    let (binary_b, image_b) = digest_of(second.path());
    assert_eq!(binary_a, binary_b, "the build is not reproducible");
    assert_eq!(image_a, image_b);

    fixture_crate(second.path(), "hello, world");
    let (binary_c, image_c) = digest_of(second.path());
    assert_ne!(binary_a, binary_c);
    assert_ne!(image_a, image_c);
}

#[test]
fn server_image_digest_is_stable_and_follows_every_byte() {
    let bytes = std::fs::read(&server_arm64().binary).unwrap();
    let spec = ImageConfig::server(Platform::LinuxArm64);
    let image = image::assemble(&bytes, &spec).unwrap();
    assert_eq!(image::assemble(&bytes, &spec).unwrap().digest, image.digest);
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0x01;
    assert_ne!(
        image::assemble(&changed, &spec).unwrap().digest,
        image.digest
    );
    eprintln!(
        "arm64 image: binary {} B, layer {} B, config {} B, manifest {} B, compressed total {} B",
        bytes.len(),
        image.layer.len(),
        image.config.len(),
        image.manifest.len(),
        image.compressed_size()
    );
}

#[tokio::test]
async fn push_to_a_real_registry_reads_back_and_is_idempotent() {
    let registry_process = LocalRegistry::start();
    let bytes = std::fs::read(&server_arm64().binary).unwrap();
    let image = image::assemble(&bytes, &ImageConfig::server(Platform::LinuxArm64)).unwrap();
    let registry = Registry::new(&registry_process.url).unwrap();
    let repository = "agentcore/web-search";

    assert_eq!(registry.resolve(repository, "v1").await.unwrap(), None);
    assert!(
        !registry
            .manifest_exists(repository, &image.digest)
            .await
            .unwrap()
    );

    let started = Instant::now();
    let first = registry
        .push(repository, &image, &["v1", "latest"])
        .await
        .unwrap();
    let first_push = started.elapsed();
    assert_eq!(first.digest, image.digest);
    assert_eq!(first.blobs_uploaded, 2);
    assert_eq!(first.blobs_present, 0);
    assert_eq!(first.manifests_put, ["v1", "latest"]);

    // Read back through the registry API: the default format is Docker's schema 2.
    let http = reqwest::Client::new();
    let manifest = http
        .get(format!(
            "{}/v2/{repository}/manifests/{}",
            registry_process.url, image.digest
        ))
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(
        manifest.headers()["docker-content-digest"]
            .to_str()
            .unwrap(),
        image.digest
    );
    let manifest: Value = serde_json::from_slice(&manifest.bytes().await.unwrap()).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: Value = http
        .get(format!(
            "{}/v2/{repository}/blobs/{config_digest}",
            registry_process.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["config"]["Entrypoint"], json!(["/server"]));
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(config["config"]["ExposedPorts"], json!({"8000/tcp": {}}));
    let env = config["config"]["Env"].as_array().unwrap();
    assert!(env.contains(&json!("HOST=0.0.0.0")) && env.contains(&json!("PORT=8000")));
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    let layer = http
        .get(format!(
            "{}/v2/{repository}/blobs/{layer_digest}",
            registry_process.url
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(image::sha256_digest(&layer), layer_digest);

    // Unchanged image: nothing uploaded, no manifest written.
    let started = Instant::now();
    let second = registry
        .push(repository, &image, &["v1", "latest"])
        .await
        .unwrap();
    let second_push = started.elapsed();
    assert_eq!(second.blobs_uploaded, 0);
    assert_eq!(second.blobs_present, 2);
    assert!(second.manifests_put.is_empty(), "{second:?}");
    eprintln!(
        "push of {} B: first {:.1} ms, unchanged {:.1} ms",
        image.compressed_size(),
        first_push.as_secs_f64() * 1e3,
        second_push.as_secs_f64() * 1e3
    );

    assert_eq!(
        registry.resolve(repository, "v1").await.unwrap().as_deref(),
        Some(image.digest.as_str())
    );
    assert!(
        registry
            .manifest_exists(repository, &image.digest)
            .await
            .unwrap()
    );

    // A changed binary: only the new layer and config go up, and the tag moves.
    let mut changed = bytes.clone();
    changed[0x1000] ^= 0x01;
    let changed = image::assemble(&changed, &ImageConfig::server(Platform::LinuxArm64)).unwrap();
    let third = registry.push(repository, &changed, &["v1"]).await.unwrap();
    assert_eq!(third.blobs_uploaded, 2);
    assert_eq!(third.manifests_put, ["v1"]);
    assert_eq!(
        registry.resolve(repository, "v1").await.unwrap().as_deref(),
        Some(changed.digest.as_str())
    );
    assert_eq!(
        registry
            .resolve(repository, "latest")
            .await
            .unwrap()
            .as_deref(),
        Some(image.digest.as_str())
    );

    // By digest only.
    let by_digest = registry.push("other/repo", &image, &[]).await.unwrap();
    assert_eq!(by_digest.manifests_put, vec![image.digest.clone()]);
    assert!(
        registry
            .manifest_exists("other/repo", &image.digest)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn both_formats_push_to_a_real_registry_and_read_back_as_their_media_type() {
    let registry_process = LocalRegistry::start();
    let registry = Registry::new(&registry_process.url).unwrap();
    let bytes = std::fs::read(&server_arm64().binary).unwrap();
    let repository = "formats/server";
    let http = reqwest::Client::new();
    let mut digests = Vec::new();
    for (format, media_type, config_type, layer_type) in [
        (
            ImageFormat::Docker,
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        ),
        (
            ImageFormat::Oci,
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        ),
    ] {
        let spec = ImageConfig {
            format,
            ..ImageConfig::server(Platform::LinuxArm64)
        };
        let image = image::assemble(&bytes, &spec).unwrap();
        assert_eq!(
            image::assemble(&bytes, &spec).unwrap().digest,
            image.digest,
            "{format} is not reproducible"
        );
        let tag = format.as_str();
        let report = registry.push(repository, &image, &[tag]).await.unwrap();
        assert_eq!(report.digest, image.digest);
        assert_eq!(report.manifests_put, [tag]);
        // The config and layer bytes are the same in both formats: the second push sends none.
        let expected_uploads = if digests.is_empty() { 2 } else { 0 };
        assert_eq!(
            report.blobs_uploaded, expected_uploads,
            "{format}: {report:?}"
        );

        for reference in [tag, image.digest.as_str()] {
            let response = http
                .get(format!(
                    "{}/v2/{repository}/manifests/{reference}",
                    registry_process.url
                ))
                .header("accept", media_type)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{format} {reference}");
            let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
            assert_eq!(header("content-type"), media_type, "{format} {reference}");
            assert_eq!(header("docker-content-digest"), image.digest);
            let body = response.bytes().await.unwrap();
            assert_eq!(image::sha256_digest(&body), image.digest);
            assert_eq!(body, image.manifest);
            let manifest: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(manifest["mediaType"], media_type);
            assert_eq!(manifest["config"]["mediaType"], config_type);
            assert_eq!(manifest["layers"][0]["mediaType"], layer_type);
        }
        assert_eq!(
            registry.resolve(repository, tag).await.unwrap().as_deref(),
            Some(image.digest.as_str())
        );
        assert!(
            registry
                .manifest_exists(repository, &image.digest)
                .await
                .unwrap()
        );
        // Pushing it again changes nothing.
        let again = registry.push(repository, &image, &[tag]).await.unwrap();
        assert_eq!((again.blobs_uploaded, again.manifests_put.len()), (0, 0));
        eprintln!(
            "{format} image ({media_type}): {}, compressed {} B (layer {} B, config {} B, manifest {} B)",
            image.digest,
            image.compressed_size(),
            image.layer.len(),
            image.config.len(),
            image.manifest.len()
        );
        digests.push(image.digest);
    }
    assert_ne!(digests[0], digests[1], "each format has its own digest");
}

/// The repository's stack, building `fixture` (a small package beside the stack file that
/// stands in for the server, so rebuilding after a source change takes seconds).
fn fixture_project() -> support::Project {
    let project = support::Project::from_repo_building(|s| {
        s.replace("build = \"server\"", "build = \"fixture\"")
    });
    fixture_crate(project.dir.path(), "hello");
    project
}

/// The environment of `infra` building the fixture and pushing it to `registry`.
fn build_env(registry: &LocalRegistry) -> Vec<(&'static str, String)> {
    let home = std::env::var("HOME").unwrap();
    vec![
        ("COGNITO_PASSWORD", support::PASSWORD.to_owned()),
        ("OPENAI_API_KEY", support::OPENAI_KEY.to_owned()),
        ("INFRA_ECR_REGISTRY", registry.url.clone()),
        ("INFRA_TOOLS_ROOT", workspace().display().to_string()),
        (
            "RUSTUP_HOME",
            std::env::var("RUSTUP_HOME").unwrap_or(format!("{home}/.rustup")),
        ),
        (
            "CARGO_HOME",
            std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo")),
        ),
    ]
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The container URI of the stack's runtime, read through the AgentCore API.
async fn runtime_container_uri(aws: &support::Aws) -> (String, String) {
    use aws_sdk_bedrockagentcorecontrol::types::AgentRuntimeArtifact;
    let list = aws.agentcore.list_agent_runtimes().send().await.unwrap();
    let id = list.agent_runtimes()[0].agent_runtime_id().to_owned();
    let runtime = aws
        .agentcore
        .get_agent_runtime()
        .agent_runtime_id(&id)
        .send()
        .await
        .unwrap();
    let Some(AgentRuntimeArtifact::ContainerConfiguration(c)) = runtime.agent_runtime_artifact()
    else {
        panic!("no container artifact");
    };
    (
        c.container_uri().to_owned(),
        runtime.agent_runtime_version().to_owned(),
    )
}

#[tokio::test]
async fn apply_builds_pushes_once_and_pins_the_runtime_to_the_digest() {
    let registry_process = LocalRegistry::start();
    let registry = Registry::new(&registry_process.url).unwrap();
    let moto = support::Moto::start();
    let aws = support::Aws::new(&moto).await;
    // A workspace of its own: the stack file beside a small package that stands in for the
    // server, so rebuilding after a source change takes seconds.
    let project = fixture_project();
    let owned = build_env(&registry_process);
    let env = pairs(&owned);

    let plan = project.infra_env(&moto, &["plan"], &env).expect(0);
    assert!(plan.stdout.contains("+ image.fixture"), "{}", plan.stdout);
    let apply = project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    assert!(
        apply
            .stdout
            .contains("image.fixture: uploaded 2 of 2 blobs"),
        "{}",
        apply.stdout
    );
    let (uri, version) = runtime_container_uri(&aws).await;
    let (repo, digest) = uri
        .split_once('@')
        .expect("the runtime runs the image by digest");
    assert_eq!(
        repo,
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/web-search-mcp"
    );
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert!(
        registry
            .manifest_exists("web-search-mcp", digest)
            .await
            .unwrap()
    );
    assert_eq!(version, "1");

    // Unchanged source: same digest, nothing pushed, no AWS write.
    moto.start_recording();
    let again = project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(moto.writes(), Vec::<String>::new());

    // A one-line change: a new digest is pushed and the runtime is updated exactly once.
    fixture_crate(project.dir.path(), "hello, world");
    let plan = project
        .infra_env(&moto, &["plan", "--detailed-exitcode"], &env)
        .expect(2);
    assert!(plan.stdout.contains("+ image.fixture"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains(&format!("~ container_uri: \"{uri}\" -> ")),
        "{}",
        plan.stdout
    );
    moto.start_recording();
    project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    assert_eq!(moto.writes(), ["UpdateAgentRuntime"]);
    let (new_uri, new_version) = runtime_container_uri(&aws).await;
    assert_ne!(new_uri, uri);
    assert_eq!(new_version, "2");
    let new_digest = new_uri.split_once('@').unwrap().1;
    assert!(
        registry
            .manifest_exists("web-search-mcp", new_digest)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_tag_in_the_stacks_repository_runs_by_the_digest_it_points_at_and_a_moved_tag_rolls_out()
{
    let registry_process = LocalRegistry::start();
    let registry = Registry::new(&registry_process.url).unwrap();
    let moto = support::Moto::start();
    let aws = support::Aws::new(&moto).await;
    let project = support::Project::from_repo_building(|s| {
        s.replace(
            "build = \"server\"\nplatform = \"linux/arm64\"",
            "uri = \"${repository_uri}:stable\"",
        )
    });
    let env = [
        ("COGNITO_PASSWORD", support::PASSWORD),
        ("OPENAI_API_KEY", support::OPENAI_KEY),
        ("INFRA_ECR_REGISTRY", registry_process.url.as_str()),
    ];
    // Two images: assembled from two different "binaries" (the bytes need not run here).
    let spec = ImageConfig::server(Platform::LinuxArm64);
    let first = image::assemble(b"first build", &spec).unwrap();
    let second = image::assemble(b"second build", &spec).unwrap();
    registry
        .push("web-search-mcp", &first, &["stable"])
        .await
        .unwrap();

    // The repository does not exist before the first apply, so the tag is resolved from then on.
    project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    let (uri, _) = runtime_container_uri(&aws).await;
    assert_eq!(
        uri,
        format!(
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/web-search-mcp@{}",
            first.digest
        )
    );
    project
        .infra_env(&moto, &["plan", "--detailed-exitcode"], &env)
        .expect(0);

    // Someone moves the tag: the plan sees it, and apply rolls the new digest out.
    registry
        .push("web-search-mcp", &second, &["stable"])
        .await
        .unwrap();
    let plan = project
        .infra_env(&moto, &["plan", "--detailed-exitcode"], &env)
        .expect(2);
    assert!(plan.stdout.contains(&second.digest), "{}", plan.stdout);
    project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    let (uri, _) = runtime_container_uri(&aws).await;
    assert!(uri.ends_with(&second.digest), "{uri}");
}

/// The plan's output with what changes between runs replaced: the fixture's digest (it follows
/// the toolchain) and the local endpoints' ports.
fn normalised(text: &str, digest: &str, endpoints: &[(&str, &str)]) -> String {
    endpoints.iter().fold(
        text.replace(digest, "sha256:[fixture digest]"),
        |text, (url, name)| text.replace(url, name),
    )
}

#[tokio::test]
async fn a_runtime_pinned_to_a_digest_the_repository_no_longer_holds_stops_plan_and_apply() {
    let registry_process = LocalRegistry::start();
    let registry = Registry::new(&registry_process.url).unwrap();
    let moto = support::Moto::start();
    let aws = support::Aws::new(&moto).await;
    let project = fixture_project();
    let owned = build_env(&registry_process);
    let env = pairs(&owned);

    // Built and pushed by `build`; then a pipeline pins the runtime to that digest itself.
    project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(0);
    let (uri, version) = runtime_container_uri(&aws).await;
    let (repository_uri, digest) = uri.split_once('@').unwrap();
    assert_eq!(
        repository_uri,
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/web-search-mcp"
    );
    let pinned = format!("uri = \"${{repository_uri}}@{digest}\"");
    project.edit_stack(|s| {
        let edited = s.replacen(
            "build = \"fixture\"\nplatform = \"linux/arm64\"",
            &pinned,
            1,
        );
        assert_ne!(edited, s, "the stack no longer builds the fixture");
        edited
    });
    project
        .infra_env(&moto, &["plan", "--detailed-exitcode"], &env)
        .expect(0);

    // The repository loses the image (a lifecycle policy expired it, someone deleted it).
    registry_process
        .delete_manifest("web-search-mcp", digest)
        .await;
    assert!(
        !registry
            .manifest_exists("web-search-mcp", digest)
            .await
            .unwrap()
    );
    moto.start_recording();
    let plan = project.infra_env(&moto, &["plan"], &env).expect(1);
    assert!(
        plan.stdout.contains(&format!(
            "✗ image: uri: {digest} is not in the repository web-search-mcp \
             (123456789012.dkr.ecr.us-west-2.amazonaws.com/web-search-mcp)"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("keep_images = 10") && plan.stdout.contains("Push that image"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stderr.trim_end(),
        "error: the plan has 1 problem(s); nothing was changed"
    );
    let endpoints = [
        (registry_process.url.as_str(), "http://[registry]"),
        (moto.endpoint.as_str(), "http://[emulator]"),
    ];
    insta::assert_snapshot!(
        "plan_of_a_pinned_digest_the_repository_lacks",
        normalised(
            &format!("--- stdout\n{}--- stderr\n{}", plan.stdout, plan.stderr),
            digest,
            &endpoints
        )
    );
    let apply = project
        .infra_env(&moto, &["apply", "--yes"], &env)
        .expect(1);
    assert!(apply.stdout.contains(digest), "{}", apply.stdout);
    assert_eq!(moto.writes(), Vec::<String>::new());
    assert_eq!(runtime_container_uri(&aws).await, (uri.clone(), version));

    // Before the repository exists (an apply from empty) there is nothing to ask.
    moto.reset();
    let from_empty = project
        .infra_env(&moto, &["plan", "--detailed-exitcode"], &env)
        .expect(2);
    assert!(
        from_empty
            .stdout
            .contains(&format!("+ container_uri = \"{uri}\"")),
        "{}",
        from_empty.stdout
    );
}

#[test]
fn the_build_runs_without_any_secret_in_its_environment() {
    // Every dependency's build script runs with the build's environment: the fixture's own
    // build script stands in for one and fails the build when it can read a secret.
    let moto = support::Moto::start();
    let project = fixture_project();
    std::fs::write(
        project.dir.path().join("build.rs"),
        r#"fn main() {
    let mut seen = 0;
    for (name, value) in std::env::vars() {
        seen += 1;
        if value.contains("sentinel-secret") {
            panic!("a secret reached the build: {name}");
        }
    }
    println!("cargo:warning=the build script read {seen} variables, none a secret");
}
"#,
    )
    .unwrap();
    let registry = LocalRegistry::start();
    let mut owned = build_env(&registry);
    owned.retain(|(name, _)| !["COGNITO_PASSWORD", "OPENAI_API_KEY"].contains(name));
    for name in [
        "COGNITO_PASSWORD",
        "OPENAI_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "CARGO_REGISTRY_TOKEN",
        "GITHUB_TOKEN",
    ] {
        owned.push((name, format!("sentinel-secret-of-{name}")));
    }
    let plan = project
        .infra_env(&moto, &["plan"], &pairs(&owned))
        .expect(0);
    assert!(
        plan.stderr.contains("the build script read") && plan.stderr.contains("none a secret"),
        "the build script did not run:\n{}",
        plan.stderr
    );
    assert!(plan.stdout.contains("+ image.fixture"), "{}", plan.stdout);
}

#[tokio::test]
async fn a_saved_plan_is_stale_once_the_tag_it_runs_by_has_moved() {
    let registry_process = LocalRegistry::start();
    let registry = Registry::new(&registry_process.url).unwrap();
    let moto = support::Moto::start();
    let project = support::Project::from_repo_building(|s| {
        s.replace(
            "build = \"server\"\nplatform = \"linux/arm64\"",
            "uri = \"${repository_uri}:stable\"",
        )
    });
    let env = [
        ("COGNITO_PASSWORD", support::PASSWORD),
        ("OPENAI_API_KEY", support::OPENAI_KEY),
        ("INFRA_ECR_REGISTRY", registry_process.url.as_str()),
    ];
    let spec = ImageConfig::server(Platform::LinuxArm64);
    let first = image::assemble(b"first build", &spec).unwrap();
    let second = image::assemble(b"second build", &spec).unwrap();
    registry
        .push("web-search-mcp", &first, &["stable"])
        .await
        .unwrap();
    for _ in 0..2 {
        project
            .infra_env(&moto, &["apply", "--yes"], &env)
            .expect(0);
    }
    project.edit_stack(|s| {
        s.replace(
            "description = \"OpenAI web search over MCP\"",
            "description = \"OpenAI web search over MCP, reviewed\"",
        )
    });
    project
        .infra_env(&moto, &["plan", "--out", "plan.json"], &env)
        .expect(0);

    // The tag moves after the review: what was reviewed ran the first digest.
    registry
        .push("web-search-mcp", &second, &["stable"])
        .await
        .unwrap();
    moto.start_recording();
    let run = project
        .infra_env(&moto, &["apply", "plan.json"], &env)
        .expect(1);
    assert!(
        run.stderr.contains("error: the plan is stale")
            && run.stderr.contains(&format!(
                "image: tag_digest: was \"{}\", now \"{}\"",
                first.digest, second.digest
            )),
        "{}",
        run.stderr
    );
    assert_eq!(moto.writes(), Vec::<String>::new());
}
