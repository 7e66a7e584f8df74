//! Test support: a moto server per test on a free loopback port, its request recorder, the
//! `infra` binary run exactly as a user runs it, and AWS clients to read results back.

#![allow(dead_code)] // each test binary uses its own subset

pub mod faults;
pub mod stacks;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

/// The password the tests declare. It must never appear in any output.
pub const PASSWORD: &str = "Str0ng-Passw0rd!";
/// The digest of the prebuilt image `Project::from_repo` declares.
pub const PREBUILT_DIGEST: &str =
    "sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
/// The repository of the prebuilt image `Project::from_repo` declares: not the stack's own
/// (whose pinned digests the plan checks with the registry), so no registry is asked.
pub const PREBUILT_REPOSITORY: &str =
    "123456789012.dkr.ecr.us-west-2.amazonaws.com/prebuilt-web-search-mcp";
/// The OpenAI key the runtime's environment takes from `$OPENAI_API_KEY`; a secret too.
pub const OPENAI_KEY: &str = "sk-test-0123456789abcdef";
pub const STACK_NAME: &str = "web-search-mcp";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// The emulator with these variables in its environment (`EMULATOR_CREATE_DELAY_MS`,
    /// `INITIAL_NO_AUTH_ACTION_COUNT`, ...: see scripts/emulator.py).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let python = workspace_root().join(".venv/bin/python");
        let launcher = workspace_root().join("scripts/emulator.py");
        assert!(
            python.exists(),
            "{} is missing: run scripts/test-tools.sh (or scripts/test)",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        // Retry on the rare race where another process takes the port between probe and bind.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&python)
                .arg(&launcher)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ENABLE_RECORDING", "True")
                .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording"))
                .envs(env.iter().copied())
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the emulator");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Some(status) = child.try_wait().unwrap() {
                    eprintln!("the emulator exited early ({status}); retrying on another port");
                    break;
                }
                if http(port, "GET", "/moto-api/data.json").is_some() {
                    let moto = Moto {
                        child,
                        port,
                        endpoint: format!("http://127.0.0.1:{port}"),
                        _dir: dir,
                    };
                    moto.start_recording();
                    return moto;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the emulator did not start");
    }

    /// Empty every service (`POST /moto-api/reset`), as a new emulator would be; the
    /// launcher's settings are kept.
    pub fn reset(&self) {
        http(self.port, "POST", "/moto-api/reset").expect("reset the emulator");
    }

    /// An AWS SDK configuration for this emulator (us-west-2, test credentials).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-west-2"))
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await
    }

    /// Snapshot filters ([`assert_run_snapshot`]): this emulator's endpoint as
    /// `http://[EMULATOR]`.
    pub fn filters(&self) -> Vec<(String, String)> {
        vec![(literal(&self.endpoint), "http://[EMULATOR]".to_owned())]
    }

    /// Forget what was recorded so far and record from now on.
    pub fn start_recording(&self) {
        http(self.port, "POST", "/moto-api/recorder/reset-recording").expect("reset recording");
        http(self.port, "POST", "/moto-api/recorder/start-recording").expect("start recording");
    }

    /// Record nothing from now on (recording costs the emulator CPU on every call).
    pub fn stop_recording(&self) {
        http(self.port, "POST", "/moto-api/recorder/stop-recording").expect("stop recording");
    }

    /// The AWS operations received since the last `start_recording`, in order.
    pub fn operations(&self) -> Vec<String> {
        let body = http(self.port, "GET", "/moto-api/recorder/download-recording")
            .expect("download recording");
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(operation_of)
            .collect()
    }

    /// Make the next AgentCore runtime create or update fail with `reason` (the launcher's
    /// control route).
    pub fn fail_next_runtime(&self, reason: &str) {
        let body = serde_json::json!({ "reason": reason }).to_string();
        let response = self.control("/_emulator/agentcore/fail-next", &body);
        assert!(response.contains("armed"), "{response}");
    }

    /// Change the emulator's AgentCore behaviour from now on, e.g.
    /// `{"mmdsv2_on_create": false}` or `{"endpoint_lag_polls": 2}` (the launcher's docstring).
    pub fn emulator_settings(&self, json: &str) {
        let response = self.control("/_emulator/agentcore/settings", json);
        assert!(
            response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
            "{response}"
        );
    }

    /// POST a JSON body to one of the launcher's control routes; the whole response.
    fn control(&self, path: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// The access key ids that signed the calls recorded since the last `start_recording`.
    pub fn signing_keys(&self) -> Vec<String> {
        let body = http(self.port, "GET", "/moto-api/recorder/download-recording")
            .expect("download recording");
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).ok()?;
                let auth = record["headers"]["Authorization"].as_str()?;
                let credential = auth.split("Credential=").nth(1)?;
                Some(credential.split('/').next()?.to_owned())
            })
            .collect()
    }

    /// The operations that change something.
    pub fn writes(&self) -> Vec<String> {
        self.operations()
            .into_iter()
            .filter(|op| !is_read(op))
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads: describe/list/get calls, and the sign-in that verifies a password.
pub fn is_read(op: &str) -> bool {
    ["Get", "List", "Describe", "AdminGet"]
        .iter()
        .any(|p| op.starts_with(p))
        || op == "InitiateAuth"
        || op == "AdminInitiateAuth"
}

fn operation_of(line: &str) -> String {
    let record: serde_json::Value = serde_json::from_str(line).expect("recorder lines are JSON");
    let method = record["method"].as_str().unwrap_or_default();
    let url = record["url"].as_str().unwrap_or_default();
    let path = url.splitn(4, '/').nth(3).unwrap_or_default();
    let body = record["body"].as_str().unwrap_or_default();
    let body = if record["body_encoded"].as_bool() == Some(true) {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap(),
        )
        .unwrap()
    } else {
        body.to_owned()
    };
    operation(
        method,
        path,
        record["headers"]["X-Amz-Target"].as_str(),
        &body,
    )
}

/// The AWS operation of a request: `path` is the request path without its leading `/`,
/// `target` the `X-Amz-Target` header, `body` the request body as text.
pub fn operation(method: &str, path: &str, target: Option<&str>, body: &str) -> String {
    // JSON protocols (Cognito, ECR, Secrets Manager) name the operation in a header.
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap().to_owned();
    }
    let path = path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    // REST-JSON (AgentCore control): the method and path name it.
    let segments: Vec<&str> = path.split('/').collect();
    let rest = match (method, segments.as_slice()) {
        ("POST", ["runtimes"]) => Some("ListAgentRuntimes"),
        ("PUT", ["runtimes"]) => Some("CreateAgentRuntime"),
        ("GET", ["runtimes", _]) => Some("GetAgentRuntime"),
        ("PUT", ["runtimes", _]) => Some("UpdateAgentRuntime"),
        ("DELETE", ["runtimes", _]) => Some("DeleteAgentRuntime"),
        ("GET", ["runtimes", _, "runtime-endpoints", _]) => Some("GetAgentRuntimeEndpoint"),
        ("POST", ["runtimes", _, "runtime-endpoints"]) => Some("ListAgentRuntimeEndpoints"),
        ("POST", ["runtimes", _, "versions"]) => Some("ListAgentRuntimeVersions"),
        ("GET", ["tags", ..]) => Some("ListTagsForResource"),
        ("POST", ["tags", ..]) => Some("TagResource"),
        ("DELETE", ["tags", ..]) => Some("UntagResource"),
        _ => None,
    };
    if let Some(op) = rest {
        return op.to_owned();
    }
    // Query protocols (IAM, STS) send `Action=...` in the form body.
    body.split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{method} /{path}"))
}

/// A minimal HTTP/1.0 request to the emulator's control API; `None` if it is not up.
pub fn http(port: u16, method: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// A directory with a stack file in it, as a user's checkout would have.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// The repository's own stack.toml, edited by `edit`, with a prebuilt image
    /// ([`prebuilt_image`]: by digest in another repository, so no registry is asked) instead
    /// of `build = "server"` (building is tested in tests/image.rs).
    pub fn from_repo(edit: impl FnOnce(String) -> String) -> Project {
        Project::from_repo_building(|s| {
            let prebuilt = s.replacen(
                "build = \"server\"\nplatform = \"linux/arm64\"",
                &format!("uri = \"{}\"", prebuilt_image()),
                1,
            );
            assert_ne!(prebuilt, s, "stack.toml no longer builds the server image");
            edit(prebuilt)
        })
    }

    /// The repository's own stack.toml as it is, edited by `edit`.
    pub fn from_repo_building(edit: impl FnOnce(String) -> String) -> Project {
        let text = std::fs::read_to_string(workspace_root().join("stack.toml")).unwrap();
        Project::with_stack(&edit(text))
    }

    pub fn with_stack(text: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stack.toml"), text).unwrap();
        Project { dir }
    }

    /// Snapshot filters ([`assert_run_snapshot`]): this project's directory as `[PROJECT]`.
    pub fn filters(&self) -> Vec<(String, String)> {
        let dir = self
            .dir
            .path()
            .to_str()
            .expect("a UTF-8 temporary directory");
        vec![(literal(dir), "[PROJECT]".to_owned())]
    }

    pub fn write_stack(&self, text: &str) {
        std::fs::write(self.dir.path().join("stack.toml"), text).unwrap();
    }

    /// Change the stack file as a user's edit would: `edit` gets the current text.
    pub fn edit_stack(&self, edit: impl FnOnce(String) -> String) {
        let path = self.dir.path().join("stack.toml");
        self.write_stack(&edit(std::fs::read_to_string(path).unwrap()));
    }

    /// Run `infra ARGS` in this directory against `moto`, with the test password set.
    pub fn infra(&self, moto: &Moto, args: &[&str]) -> Run {
        self.infra_env(
            moto,
            args,
            &[
                ("COGNITO_PASSWORD", PASSWORD),
                ("OPENAI_API_KEY", OPENAI_KEY),
            ],
        )
    }

    /// `infra ARGS` against any endpoint (with the test secrets set).
    pub fn infra_at(&self, endpoint: &str, args: &[&str]) -> Run {
        let mut cmd = self.command_at(endpoint, Command::new(env!("CARGO_BIN_EXE_infra")));
        cmd.args(args)
            .stdin(Stdio::null())
            .env("COGNITO_PASSWORD", PASSWORD)
            .env("OPENAI_API_KEY", OPENAI_KEY);
        Run::of(cmd)
    }

    /// Start `infra ARGS` against any endpoint (with the test secrets set) and return at once,
    /// so the test can kill it; stdout and stderr go to the file `log`.
    pub fn spawn_at(&self, endpoint: &str, args: &[&str], log: &Path) -> Child {
        let mut cmd = self.command_at(endpoint, Command::new(env!("CARGO_BIN_EXE_infra")));
        let out = std::fs::File::create(log).unwrap();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .env("COGNITO_PASSWORD", PASSWORD)
            .env("OPENAI_API_KEY", OPENAI_KEY);
        cmd.spawn().expect("start infra")
    }

    pub fn infra_env(&self, moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.infra_env_without(moto, args, env, &[])
    }

    /// `infra_env`, with the variables in `remove` taken out of the environment.
    pub fn infra_env_without(
        &self,
        moto: &Moto,
        args: &[&str],
        env: &[(&str, &str)],
        remove: &[&str],
    ) -> Run {
        let mut cmd = self.command(moto, Command::new(env!("CARGO_BIN_EXE_infra")));
        cmd.args(args).stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        for k in remove {
            cmd.env_remove(k);
        }
        let run = Run::of(cmd);
        for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains('\x1b'),
                "colour codes in a pipe ({name}):\n{text}"
            );
        }
        run
    }

    /// Run `infra ARGS` on a pseudo-terminal (util-linux `script`), typing `input`.
    /// Everything the program prints, stdout and stderr, comes back in `stdout`.
    pub fn infra_on_terminal(
        &self,
        moto: &Moto,
        args: &str,
        input: &str,
        env: &[(&str, &str)],
    ) -> Run {
        let mut script = Command::new("script");
        script.args([
            "--quiet",
            "--return",
            "--command",
            &format!("{} {args}", env!("CARGO_BIN_EXE_infra")),
            "/dev/null",
        ]);
        let mut cmd = self.command(moto, script);
        cmd.env("COGNITO_PASSWORD", PASSWORD)
            .env("OPENAI_API_KEY", OPENAI_KEY)
            .env("TERM", "xterm");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let input_file = self.dir.path().join("typed-input");
        std::fs::write(&input_file, input).unwrap();
        cmd.stdin(std::fs::File::open(input_file).unwrap());
        Run {
            command: format!("infra {args} (on a terminal, typing {input:?})"),
            ..Run::of(cmd)
        }
    }

    /// A command with the environment of a user pointed at the emulator, and nothing else.
    /// `cmd` run in this directory against `moto` as the tests run `infra`: a clean
    /// environment with test credentials, no AWS config files, the check after apply off.
    pub fn command(&self, moto: &Moto, cmd: Command) -> Command {
        self.command_at(&moto.endpoint, cmd)
    }

    fn command_at(&self, endpoint: &str, mut cmd: Command) -> Command {
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // The check after apply connects to the runtime's image, which the emulator runs
            // only when the test pushed a real one: tests/client.rs turns it on.
            .env("INFRA_CHECK", "0");
        cmd
    }
}

/// The image `Project::from_repo` declares: [`PREBUILT_DIGEST`] in [`PREBUILT_REPOSITORY`].
pub fn prebuilt_image() -> String {
    format!("{PREBUILT_REPOSITORY}@{PREBUILT_DIGEST}")
}

#[derive(Debug)]
pub struct Run {
    /// The command line as a user types it (`infra --profile prod plan`): the description of
    /// the run's snapshot.
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Run `cmd` (the `infra` binary) to completion; the password must not appear in anything
    /// it printed.
    pub fn of(mut cmd: Command) -> Run {
        let out = cmd.output().expect("run infra");
        let args = cmd.get_args().map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(' ') {
                format!("{arg:?}")
            } else {
                arg.into_owned()
            }
        });
        let run = Run {
            command: std::iter::once("infra".to_owned())
                .chain(args)
                .collect::<Vec<_>>()
                .join(" "),
            code: out.status.code().expect("infra exits normally"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(PASSWORD),
                "the password leaked into {name}:\n{text}"
            );
            assert!(
                !text.contains(OPENAI_KEY),
                "the OpenAI key leaked into {name}:\n{text}"
            );
        }
        run
    }

    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The run as its snapshot shows it, before filters: the exit code, then stdout and stderr
    /// each under its own heading.
    pub fn snapshot(&self) -> String {
        format!(
            "exit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshots of whole runs (uv's `uv_snapshot!`)
// ---------------------------------------------------------------------------------------------

/// Assert a whole run against the insta snapshot `name`: one file,
/// `snapshots/<test binary>__<name>.snap`, with the exit code, stdout and stderr as a user
/// sees them ([`Run::snapshot`]), its description the command line. What changes between runs
/// is replaced by [`filters`]; the further filters given (any number of `(regex, replacement)`
/// lists, such as [`Project::filters`] and [`Moto::filters`]) are applied first, so a value the
/// test knows gets its own name before the generic filters see it.
///
/// ```ignore
/// let run = project.infra(&moto, &["plan"]).expect(1);
/// assert_run_snapshot!("refused_stack_file", run, project.filters(), moto.filters());
/// ```
///
/// Checks that a secret appears nowhere stay `!contains` assertions: a snapshot shows what is
/// there, not what must never be.
#[allow(unused_macros)] // each test binary uses its own subset
macro_rules! assert_run_snapshot {
    ($name:expr, $run:expr $(, $filters:expr)* $(,)?) => {{
        let run: &$crate::support::Run = &$run;
        let mut settings = ::insta::Settings::clone_current();
        settings.set_description(run.command.clone());
        settings.set_omit_expression(true);
        let filters = ::std::iter::empty::<(String, String)>()
            $(.chain($filters))*
            .chain($crate::support::filters());
        for (regex, replacement) in filters {
            settings.add_filter(&regex, replacement);
        }
        settings.bind(|| ::insta::assert_snapshot!($name, run.snapshot()));
    }};
}
#[allow(unused_imports)]
pub(crate) use assert_run_snapshot;

/// What changes between runs, as `(regex, replacement)` insta filters, in the order they apply.
pub fn filters() -> Vec<(String, String)> {
    let temp = literal(
        std::env::temp_dir()
            .to_str()
            .expect("a UTF-8 temporary directory")
            .trim_end_matches('/'),
    );
    // An AgentCore runtime id: the runtime's name, `-`, ten random characters.
    let runtime_id = "[A-Za-z][A-Za-z0-9_]{0,47}-[A-Za-z0-9]{10}";
    let filters: [(&str, &str); 20] = [
        // On a terminal: line ends as in a pipe; a carriage return that is not one and escape
        // codes made visible.
        (r"\r\n", "\n"),
        (r"\r", "␍"),
        (r"\x1b", "␛"),
        // Temporary directories (tempfile's `.tmpXXXXXX`), after the test's own.
        (&format!(r"{temp}/\.tmp[A-Za-z0-9]+"), "[TEMP]"),
        // Ports on the loopback interface (the emulator's, a stand-in's).
        (r"\b127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\blocalhost:\d+", "localhost:[PORT]"),
        // Digests: the two the support declares by name, then any other.
        (&literal(PREBUILT_DIGEST), "sha256:[PREBUILT_DIGEST]"),
        (&literal(stacks::OTHER_DIGEST), "sha256:[OTHER_DIGEST]"),
        (r"\bsha256:[0-9a-f]{64}\b", "sha256:[DIGEST]"),
        // Request ids: labelled ones, then any UUID.
        (
            r"(?i)(request[ _-]?id[\s:=]*)[A-Za-z0-9-]{8,}",
            "${1}[REQUEST_ID]",
        ),
        (
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            "[UUID]",
        ),
        // Cognito: a pool id is `<region>_<random>`, a client id 26 lower-case letters and digits.
        (r"\b[a-z]{2}(-gov)?-[a-z]+-\d_[0-9A-Za-z]+\b", "[POOL_ID]"),
        (r"\b[0-9a-z]{26}\b", "[CLIENT_ID]"),
        // IAM: a role's unique id.
        (r"\bAROA[0-9A-Z]{16,}\b", "[ROLE_ID]"),
        // AgentCore: the emulator's runtime ids (`a` and hex), then AWS's where an id stands (in
        // an ARN or its URL-encoded form, a log group, `runtime_id = "..."`, `[id=...]`).
        (r"\ba[0-9a-f]{9}-[0-9a-f]{10}\b", "[RUNTIME_ID]"),
        (
            &format!(r#"(runtime/|runtime%2F|runtimes/|runtime_id = "|id=){runtime_id}\b"#),
            "${1}[RUNTIME_ID]",
        ),
        // Secrets Manager: the random suffix of a secret's ARN.
        (
            r"(:secret:[A-Za-z0-9/_+=.@-]+)-[A-Za-z0-9]{6}([^A-Za-z0-9/_+=.@-]|$)",
            "${1}-[SUFFIX]${2}",
        ),
        // Timings: the uptime that starts a log line (`   0.012345s DEBUG ...`), then any
        // `in 123 ms`, `1.2s`.
        (r"(?m)^ *\d+\.\d+s\b", "[UPTIME]"),
        (r"\b\d+(\.\d+)? ?(ns|µs|us|ms)\b", "[TIME]"),
        (r"\b\d+\.\d+ ?s\b", "[TIME]"),
    ];
    filters
        .into_iter()
        .map(|(regex, replacement)| (regex.to_owned(), replacement.to_owned()))
        .collect()
}

/// `text` as a regex that matches it literally.
pub fn literal(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// AWS clients pointed at the emulator, for reading results back independently of `infra`.
pub struct Aws {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub iam: aws_sdk_iam::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub agentcore: aws_sdk_bedrockagentcorecontrol::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Aws {
    pub async fn new(moto: &Moto) -> Aws {
        let config = moto.sdk_config().await;
        Aws {
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            ecr: aws_sdk_ecr::Client::new(&config),
            agentcore: aws_sdk_bedrockagentcorecontrol::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        }
    }

    /// (status, liveVersion) of a runtime's DEFAULT endpoint (the one the MCP URL names).
    pub async fn default_endpoint(&self, id: &str) -> (String, Option<String>) {
        let endpoint = self
            .agentcore
            .get_agent_runtime_endpoint()
            .agent_runtime_id(id)
            .endpoint_name("DEFAULT")
            .send()
            .await
            .unwrap();
        (
            endpoint.status().as_str().to_owned(),
            endpoint.live_version().map(str::to_owned),
        )
    }

    /// An `UpdateAgentRuntime` made by hand, as a console user makes it: the runtime's current
    /// configuration, changed by `edit` (later setters win); done once DEFAULT serves the new
    /// version (until then a plan shows the deployment in progress). The new version.
    pub async fn update_runtime_by_hand(
        &self,
        id: &str,
        edit: impl FnOnce(
            aws_sdk_bedrockagentcorecontrol::operation::update_agent_runtime::builders::UpdateAgentRuntimeFluentBuilder,
        ) -> aws_sdk_bedrockagentcorecontrol::operation::update_agent_runtime::builders::UpdateAgentRuntimeFluentBuilder,
    ) -> String {
        let now = self
            .agentcore
            .get_agent_runtime()
            .agent_runtime_id(id)
            .send()
            .await
            .unwrap();
        let update = self
            .agentcore
            .update_agent_runtime()
            .agent_runtime_id(id)
            .set_agent_runtime_artifact(now.agent_runtime_artifact().cloned())
            .role_arn(now.role_arn())
            .set_network_configuration(now.network_configuration().cloned())
            .set_protocol_configuration(now.protocol_configuration().cloned())
            .set_lifecycle_configuration(now.lifecycle_configuration().cloned())
            .set_authorizer_configuration(now.authorizer_configuration().cloned())
            .set_description(now.description().map(str::to_owned))
            .set_environment_variables(now.environment_variables().cloned());
        let version = edit(update)
            .send()
            .await
            .unwrap()
            .agent_runtime_version()
            .to_owned();
        assert!(
            self.wait_for_default(id, &version).await,
            "DEFAULT never served version {version}"
        );
        version
    }

    /// Poll DEFAULT (bounded) until it is READY serving `version`; whether it got there. Each
    /// call moves the emulator's DEFAULT one poll closer, as AgentCore moves it after an update.
    pub async fn wait_for_default(&self, id: &str, version: &str) -> bool {
        for _ in 0..50 {
            let (status, live) = self.default_endpoint(id).await;
            if status == "READY" && live.as_deref() == Some(version) {
                return true;
            }
        }
        false
    }

    /// The stored value of the secret named `name`.
    pub async fn secret_value(&self, name: &str) -> String {
        let out = self
            .secrets
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .unwrap();
        out.secret_string().unwrap().to_owned()
    }

    /// The ARN of the secret named `name`.
    pub async fn secret_arn(&self, name: &str) -> String {
        let out = self
            .secrets
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .unwrap();
        out.arn().unwrap().to_owned()
    }

    /// Ids of the pools with this name.
    pub async fn pool_ids(&self, name: &str) -> Vec<String> {
        let pools = self
            .cognito
            .list_user_pools()
            .max_results(60)
            .send()
            .await
            .unwrap();
        pools
            .user_pools()
            .iter()
            .filter(|p| p.name() == Some(name))
            .map(|p| p.id().unwrap().to_owned())
            .collect()
    }

    pub async fn client_ids(&self, pool_id: &str, name: &str) -> Vec<String> {
        let clients = self
            .cognito
            .list_user_pool_clients()
            .user_pool_id(pool_id)
            .max_results(60)
            .send()
            .await
            .unwrap();
        clients
            .user_pool_clients()
            .iter()
            .filter(|c| c.client_name() == Some(name))
            .map(|c| c.client_id().unwrap().to_owned())
            .collect()
    }

    /// Sign in as a user; true when Cognito hands out tokens.
    pub async fn can_sign_in(&self, client_id: &str, username: &str, password: &str) -> bool {
        self.cognito
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .is_ok_and(|out| out.authentication_result().is_some())
    }
}

/// Parse a URL-encoded policy document as IAM returns it.
pub fn policy(document: &str) -> serde_json::Value {
    let decoded = percent_encoding::percent_decode_str(document)
        .decode_utf8()
        .unwrap();
    serde_json::from_str(&decoded).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Local tools: a real registry, free ports, child processes
// ---------------------------------------------------------------------------------------------

pub const INSTALL_HINT: &str =
    "run scripts/image-tools.sh (installs the image build and test tools)";

/// A tool from PATH or one of the known locations; panics with the install hint when absent.
pub fn tool(name: &str, known: &[&str]) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(name));
    on_path
        .chain(known.iter().map(PathBuf::from))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed: {INSTALL_HINT}"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the child when the test ends, passing or failing.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `docker-registry` (distribution) on a free loopback port, storing in a temp directory;
/// manifests can be deleted (`DELETE /v2/<name>/manifests/<digest>`), as from ECR.
pub struct LocalRegistry {
    pub url: String,
    _process: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    pub fn start() -> Self {
        let binary = tool("docker-registry", &["/usr/bin/docker-registry"]);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: local-test-only\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        // It logs every 404 at error level: keep its log in the temp directory.
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let mut process = KillOnDrop(
            Command::new(binary)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        wait_for_port(port, &mut process.0, "docker-registry");
        LocalRegistry {
            url: format!("http://127.0.0.1:{port}"),
            _process: process,
            _dir: dir,
        }
    }

    /// Delete a manifest by digest through the registry API, as an expiring lifecycle policy
    /// or `aws ecr batch-delete-image` would.
    pub async fn delete_manifest(&self, repository: &str, digest: &str) {
        let response = reqwest::Client::new()
            .delete(format!("{}/v2/{repository}/manifests/{digest}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "DELETE of {repository}@{digest}");
    }
}

/// A stand-in of OpenAI's Responses API on a free loopback port: every `POST .../responses`
/// with the expected key gets a completed answer with two URL citations (the shape o3 with
/// web_search returns); any other key gets OpenAI's 401. Records the keys it was sent.
pub struct ResponsesStandIn {
    pub base_url: String,
    pub keys: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub const STAND_IN_ANSWER: &str = "Rust 1.0 was released on May 15, 2015.";
pub const STAND_IN_CITATION: &str = "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html";

impl ResponsesStandIn {
    pub fn start(key: &str) -> ResponsesStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen, key) = (keys.clone(), key.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, key) = (seen.clone(), key.clone());
                std::thread::spawn(move || Self::answer(stream, &seen, &key));
            }
        });
        ResponsesStandIn {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            keys,
        }
    }

    fn answer(mut stream: TcpStream, seen: &std::sync::Mutex<Vec<String>>, key: &str) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        let _ = stream.read_exact(&mut body);
        // A question marked [slow] is answered only after 30 s (a long search, to cancel).
        if String::from_utf8_lossy(&body).contains("[slow]") {
            std::thread::sleep(Duration::from_secs(30));
        }
        let sent = header("authorization").unwrap_or_default();
        let sent = sent.strip_prefix("Bearer ").unwrap_or(&sent).to_owned();
        seen.lock().unwrap().push(sent.clone());
        let (status, payload) = if sent == key {
            let len = STAND_IN_ANSWER.len();
            (
                "200 OK",
                serde_json::json!({
                    "id": "resp_standin", "object": "response", "status": "completed",
                    "model": "o3-2025-04-16", "error": null,
                    "output": [
                        {"id": "ws_1", "type": "web_search_call", "status": "completed",
                         "action": {"type": "search", "query": "rust 1.0 release date"}},
                        {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                         "content": [{"type": "output_text", "text": STAND_IN_ANSWER, "annotations": [
                            {"type": "url_citation", "start_index": 0, "end_index": len,
                             "url": STAND_IN_CITATION, "title": "Announcing Rust 1.0 | Rust Blog"}
                         ]}]}
                    ],
                    "usage": {"input_tokens": 10, "output_tokens": 10, "total_tokens": 20}
                }),
            )
        } else {
            (
                "401 Unauthorized",
                serde_json::json!({"error": {"message": "Incorrect API key provided",
                    "type": "invalid_request_error", "code": "invalid_api_key"}}),
            )
        };
        let text = payload.to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }
}
