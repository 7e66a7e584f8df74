"""The AgentCore Runtime data plane of scripts/emulator.py (its docstring, item 12).

``POST|GET|DELETE /runtimes/{runtime ARN or id}/invocations?qualifier=...`` authorizes the
caller like AgentCore does, runs the image of the version the qualifier serves as a local
process (pulled from an OCI registry, unpacked, no container), and streams the request to
it and its answer back. The emulator's WSGI middleware routes here before moto; nothing
here is a moto service, so moto's request recorder and EMULATOR_LATENCY_MS never see it.

This module must not import ``emulator`` (that file runs as ``__main__``; importing it again
would patch moto twice). The emulator hands in what it shares: a settings reader, and on
each runtime ``_emulator_configs`` (version -> configuration snapshot) and
``_emulator_require_mmdsv2``.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import hashlib
import http
import http.client
import json
import os
import platform
import posixpath
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from joserfc import jwt
from joserfc.jwk import KeySet
from moto.bedrockagentcorecontrol import models as bac_models
from moto.cognitoidp import models as cognito_models
from moto.logs import models as logs_models
from moto.utilities.utils import load_resource

ROUTE = re.compile(
    r"^/runtimes/(?P<runtime>.+?)/invocations"
    r"(?P<prm>/\.well-known/oauth-protected-resource)?/?$"
)
METHODS = ("GET", "POST", "DELETE")
RUNTIME_ARN = re.compile(
    r"^arn:[^:]+:bedrock-agentcore:(?P<region>[^:]+):(?P<account>\d{12}):runtime/(?P<id>[^/:]+)$"
)
ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
COGNITO_DISCOVERY = re.compile(
    r"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>[^/]+)"
    r"/\.well-known/openid-configuration$"
)
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
CUSTOM_HEADER_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"
# Never forwarded to the container: hop-by-hop headers (RFC 9110 7.6.1), the ones this
# proxy recomputes, and SigV4's own.
DROPPED_HEADERS = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length", "expect",
        "accept-encoding", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
    }
)
# Container response headers passed back, besides the session headers.
PASSED_BACK = ("Content-Type", "Content-Length", "Cache-Control", "Mcp-Protocol-Version")
CONTAINER_PATHS = {"MCP": "/mcp", "A2A": "/", "HTTP": "/invocations"}

MISMATCH = (
    "Authorization method mismatch. The agent is configured for a different authorization "
    "method than what was used in your request. Check the agent's authorization "
    "configuration and ensure your request uses the matching method (OAuth or SigV4)"
)
CLIENT_ERROR_HINT = "Please check your CloudWatch logs for more information"

# OCI / Docker registry media types (OCI image-spec, Docker image manifest v2 schema 2).
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
GZIP_LAYERS = (
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
)
TAR_LAYERS = ("application/vnd.oci.image.layer.v1.tar",)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EM_AARCH64 = 183
PR_SET_PDEATHSIG = 1
INVOKE_TIMEOUT = 900.0  # seconds a container may take to answer (AgentCore's 15 minutes)
ROOT_PREFIX = "emulator-dataplane-"  # + the emulator's pid: its temporary directory

_libc = ctypes.CDLL(None, use_errno=True)
_log_lock = threading.Lock()


def log(message: str) -> None:
    with _log_lock:
        sys.stderr.write(f"emulator: data plane: {message}\n")
        sys.stderr.flush()


class DataPlaneError(Exception):
    """An AgentCore error, rendered in AWS's REST-JSON shape."""

    def __init__(
        self, status: int, error_type: str, message: str, headers: Iterable[tuple[str, str]] = ()
    ):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = list(headers)

    def respond(self, start_response: Any) -> list[bytes]:
        body = json.dumps({"message": self.message}).encode()
        start_response(
            _status_line(self.status),
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("x-amzn-ErrorType", self.error_type),
                ("x-amzn-RequestId", str(uuid.uuid4())),
                *self.headers,
            ],
        )
        return [body]


def _status_line(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _client_error(reason: str) -> DataPlaneError:
    return DataPlaneError(424, "RuntimeClientError", f"{reason}. {CLIENT_ERROR_HINT}")


# --------------------------------------------------------------------------
# Images: pull from a registry, unpack, cache by manifest digest
# --------------------------------------------------------------------------


@dataclass
class Image:
    digest: str
    rootfs: str
    config: dict[str, Any]  # the image configuration's "config" (Entrypoint, Cmd, Env...)
    architecture: str


class ImageStore:
    def __init__(self, registry_for_ecr: Callable[[], str], root: Callable[[], str]):
        self._registry_for_ecr = registry_for_ecr
        self._root = root
        self._images: dict[str, Image] = {}
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, uri: str) -> Image:
        registry, repo, reference = self._locate(uri)
        with self._lock:  # one pull at a time; a cached image returns at once
            return self._pull(uri, registry, repo, reference)

    def _locate(self, uri: str) -> tuple[str, str, str]:
        """(registry base URL, repository, tag or digest) of a container URI."""
        host, _, rest = uri.partition("/")
        if not rest:
            raise _client_error(f"Cannot pull {uri}: not a registry/repository reference")
        if "@" in rest:
            repo, _, reference = rest.partition("@")
        else:
            repo, tag = rest, "latest"
            last = rest.rsplit("/", 1)[-1]
            if ":" in last:
                repo, _, tag = rest.rpartition(":")
            reference = tag
        if ECR_HOST.match(host):
            registry = self._registry_for_ecr()
            if not registry:
                raise _client_error(
                    f"Cannot pull {uri}: it names ECR, and the emulator has no registry for "
                    "ECR (set EMULATOR_ECR_REGISTRY or the ecr_registry setting)"
                )
        else:
            registry = f"http://{host}"
        return registry.rstrip("/"), repo, reference

    def _fetch(self, uri: str, url: str, accept: str | None = None) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        try:
            with self._opener.open(request, timeout=60) as response:
                return response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            raise _client_error(f"Cannot pull {uri}: GET {url} answered HTTP {e.code}")
        except (urllib.error.URLError, OSError) as e:
            raise _client_error(f"Cannot pull {uri}: GET {url} failed ({e})")

    def _manifest(
        self, uri: str, registry: str, repo: str, reference: str
    ) -> tuple[str, dict[str, Any]]:
        url = f"{registry}/v2/{repo}/manifests/{reference}"
        body, content_type = self._fetch(uri, url, ", ".join(INDEX_TYPES + MANIFEST_TYPES))
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise _client_error(f"Cannot pull {uri}: the manifest's digest is {digest}")
        try:
            manifest = json.loads(body)
        except ValueError:
            raise _client_error(f"Cannot pull {uri}: the manifest is not JSON")
        manifest.setdefault("mediaType", content_type.split(";")[0].strip())
        return digest, manifest

    def _pull(self, uri: str, registry: str, repo: str, reference: str) -> Image:
        digest, manifest = self._manifest(uri, registry, repo, reference)
        if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            # An index (manifest list): AgentCore runs linux/arm64; else its only entry.
            entries = manifest.get("manifests") or []
            chosen = [
                e for e in entries
                if (e.get("platform") or {}).get("os") == "linux"
                and (e.get("platform") or {}).get("architecture") == "arm64"
            ] or (entries if len(entries) == 1 else [])
            if not chosen:
                raise _client_error(f"Cannot pull {uri}: its index has no linux/arm64 image")
            digest, manifest = self._manifest(uri, registry, repo, chosen[0]["digest"])
        if manifest.get("mediaType") not in MANIFEST_TYPES and "layers" not in manifest:
            kind = manifest.get("mediaType")
            raise _client_error(f"Cannot pull {uri}: unsupported manifest type {kind}")
        cached = self._images.get(digest)
        if cached is not None:
            return cached
        config_digest = manifest["config"]["digest"]
        body, _ = self._fetch(uri, f"{registry}/v2/{repo}/blobs/{config_digest}")
        _verify(uri, config_digest, hashlib.sha256(body).hexdigest())
        image_config = json.loads(body)
        rootfs = tempfile.mkdtemp(prefix=digest.replace(":", "-")[:19] + "-", dir=self._root())
        try:
            for layer in manifest.get("layers") or []:
                self._apply_layer(uri, registry, repo, layer, rootfs)
        except BaseException:
            shutil.rmtree(rootfs, ignore_errors=True)
            raise
        image = Image(
            digest=digest,
            rootfs=rootfs,
            config=image_config.get("config") or {},
            architecture=str(image_config.get("architecture") or ""),
        )
        self._images[digest] = image
        return image

    def _apply_layer(
        self, uri: str, registry: str, repo: str, layer: dict[str, Any], rootfs: str
    ) -> None:
        media_type, digest = layer.get("mediaType", ""), layer["digest"]
        if media_type not in GZIP_LAYERS + TAR_LAYERS:
            raise _client_error(f"Cannot pull {uri}: unsupported layer type {media_type}")
        url = f"{registry}/v2/{repo}/blobs/{digest}"
        with tempfile.TemporaryFile(dir=self._root()) as blob:
            sha = hashlib.sha256()
            try:
                with self._opener.open(url, timeout=60) as response:
                    while chunk := response.read(1 << 20):
                        sha.update(chunk)
                        blob.write(chunk)
            except (urllib.error.URLError, OSError) as e:
                raise _client_error(f"Cannot pull {uri}: GET {url} failed ({e})")
            _verify(uri, digest, sha.hexdigest())
            blob.seek(0)
            try:
                with tarfile.open(fileobj=blob, mode="r:*") as tar:
                    _unpack(tar, rootfs)
            except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
                raise _client_error(f"Cannot unpack layer {digest} of {uri}: {e}")


def _verify(uri: str, digest: str, sha256_hex: str) -> None:
    if digest != f"sha256:{sha256_hex}":
        raise _client_error(f"Cannot pull {uri}: blob {digest} does not match its content")


def _inside(rootfs: str, name: str) -> str | None:
    """Host path of a layer member's name, or None when it would leave the rootfs."""
    relative = posixpath.normpath("/" + name).lstrip("/")
    if not relative or relative == ".":
        return None
    path = os.path.join(rootfs, relative)
    parent = os.path.realpath(os.path.dirname(path))
    if parent != rootfs and not parent.startswith(rootfs + os.sep):
        return None
    return path


def _unpack(tar: tarfile.TarFile, rootfs: str) -> None:
    """Apply one layer: its whiteouts to the layers below, then its files (OCI image-spec,
    "Representing Changes")."""
    rootfs = os.path.realpath(rootfs)
    members = tar.getmembers()
    for member in members:
        directory, base = posixpath.split(member.name.rstrip("/"))
        if not base.startswith(".wh."):
            continue
        if base == ".wh..wh..opq":  # opaque directory: drop what lower layers put there
            target = _inside(rootfs, posixpath.join(directory, "x"))
            if target is not None and os.path.isdir(os.path.dirname(target)):
                for entry in os.listdir(os.path.dirname(target)):
                    _remove(os.path.join(os.path.dirname(target), entry))
        else:
            target = _inside(rootfs, posixpath.join(directory, base[len(".wh."):]))
            if target is not None:
                _remove(target)
    for member in members:
        if posixpath.basename(member.name.rstrip("/")).startswith(".wh."):
            continue
        target = _inside(rootfs, member.name)
        if target is None:
            continue
        # A file replaces whatever a lower layer had there; never write through a symlink.
        if not member.isdir() and os.path.islink(target):
            os.unlink(target)
        try:
            tar.extract(member, rootfs, filter=_layer_filter)
        except (tarfile.FilterError, OSError) as e:
            log(f"skipped {member.name!r} of an image layer: {e}")


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def _layer_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    if member.ischr() or member.isblk() or member.isfifo():
        return None  # device nodes need root and mean nothing outside a container
    member = tarfile.tar_filter(member, dest)
    mode = member.mode or 0
    if member.isdir():
        mode |= 0o700  # keep the tree writable by us, so that later layers and rmtree work
    elif member.isreg():
        mode |= 0o600
    return member.replace(mode=mode, deep=False)


def _in_rootfs(rootfs: str, path: str) -> str | None:
    """Host path of an absolute path inside the image, following its symlinks with the
    rootfs as "/" (there is no chroot); None if it does not exist."""
    pending = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        host = os.path.join(rootfs, *resolved, part)
        if os.path.islink(host):
            hops += 1
            if hops > 40:
                return None
            target = os.readlink(host)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    host = os.path.join(rootfs, *resolved)
    return host if os.path.exists(host) else None


def _command(image: Image, env: dict[str, str]) -> tuple[list[str], str]:
    """argv and working directory of the image's Entrypoint + Cmd, resolved in its rootfs."""
    config = image.config
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not argv:
        raise _client_error("Runtime initialization failed: the image has no Entrypoint or Cmd")
    workdir = config.get("WorkingDir") or "/"
    name = argv[0]
    if "/" not in name:
        candidates = [f"{d}/{name}" for d in env.get("PATH", DEFAULT_PATH).split(":") if d]
    else:
        candidates = [posixpath.join(workdir, name)]
    executable = None
    for candidate in candidates:
        found = _in_rootfs(image.rootfs, candidate)
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            executable = found
            break
    if executable is None:
        raise _client_error(
            f"Runtime initialization failed: the image has no executable {name!r}"
        )
    argv[0] = executable
    if _foreign_arm64(executable):
        qemu = shutil.which("qemu-aarch64-static")
        if qemu is None:
            raise _client_error(
                "Runtime initialization failed: the image is arm64 and qemu-aarch64-static "
                "is not installed"
            )
        argv = [qemu, "-L", image.rootfs, *argv]
    cwd = _in_rootfs(image.rootfs, workdir)
    return argv, cwd if cwd and os.path.isdir(cwd) else image.rootfs


def _foreign_arm64(path: str) -> bool:
    """An aarch64 ELF on a host that is not (scripts run as they are, by the host)."""
    with open(path, "rb") as f:
        head = f.read(20)
    return (
        len(head) == 20
        and head[:4] == b"\x7fELF"
        and head[5] == 1  # little-endian
        and int.from_bytes(head[18:20], "little") == EM_AARCH64
        and platform.machine().lower() not in ("aarch64", "arm64")
    )


# --------------------------------------------------------------------------
# Processes: one per (runtime id, version), dying with the emulator
# --------------------------------------------------------------------------


class Spawner:
    """Forks every child from one long-lived thread.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, and werkzeug runs
    each request on a thread of its own that ends with the request; this thread lives as
    long as the emulator.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, job: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="spawner", daemon=True)
                self._thread.start()
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as e:
                future.set_exception(e)


def _die_with_parent(parent: int) -> None:
    """preexec_fn: SIGKILL this child when the spawner thread (or the emulator) dies."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the emulator died before prctl took effect
        os._exit(1)


@dataclass
class RuntimeProcess:
    runtime_id: str
    version: str
    port: int
    popen: subprocess.Popen[bytes]
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))
    reader: threading.Thread | None = None
    # Where each output line also goes: the runtime's CloudWatch Logs stream (RuntimeLog).
    sink: Callable[[str], None] | None = None

    @property
    def label(self) -> str:
        return f"runtime {self.runtime_id} v{self.version}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pump_output(self) -> None:
        """Copy the child's output to the emulator's stderr, line by line, prefixed."""
        assert self.popen.stdout is not None
        prefix = f"[{self.label}] "
        for raw in iter(self.popen.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.tail.append(line)
            with _log_lock:
                sys.stderr.write(prefix + line + "\n")
                sys.stderr.flush()
            if self.sink is not None:
                self.sink(line)

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 3 s (and to any stragglers)."""
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        self.popen.poll()  # reap it, if it had exited on its own
        if self.reader is not None:
            self.reader.join(timeout=1.0)


def _sweep_stale_roots() -> None:
    """Remove the temporary directories of emulators that died without cleaning up
    (SIGKILL, as test harnesses stop them)."""
    base = tempfile.gettempdir()
    for entry in os.listdir(base):
        match = re.fullmatch(re.escape(ROOT_PREFIX) + r"(\d+)-.*", entry)
        if match is None:
            continue
        try:
            os.kill(int(match[1]), 0)
            continue  # alive
        except ProcessLookupError:
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
        except OSError:
            continue  # someone else's, alive


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


# --------------------------------------------------------------------------
# The runtime's CloudWatch Logs (item 18)
# --------------------------------------------------------------------------

_logs_lock = threading.Lock()


class RuntimeLog:
    """One runtime process's output in CloudWatch Logs, as AgentCore writes a container's
    stdout/stderr: the group ``/aws/bedrock-agentcore/runtimes/<runtime id>-DEFAULT``
    (created when missing, untagged, never expiring, as AgentCore does on first use), a stream
    per instance, ``YYYY/MM/DD/[runtime-logs]<uuid>``, each line one event stamped with the
    time it was written. Into moto's logs backend in process: nothing is recorded by moto's
    recorder (tests that count an apply's calls are not disturbed) and FilterLogEvents,
    GetLogEvents and DescribeLogStreams see the events. Sources: the AgentCore developer
    guide, "View observability data for Amazon Bedrock AgentCore Runtime" (the group name;
    logs appear after the first invocation); the stream name's date and
    ``[runtime-logs]`` prefix follow what AgentCore shows in the console (the uuid is the
    emulator's)."""

    def __init__(self, served: Served):
        self.account = str(served.runtime.account_id)
        self.region = served.region
        self.group = f"/aws/bedrock-agentcore/runtimes/{served.runtime.agent_runtime_id}-DEFAULT"
        self.stream = time.strftime("%Y/%m/%d/", time.gmtime()) + f"[runtime-logs]{uuid.uuid4()}"

    def put(self, line: str) -> None:
        if not line:  # PutLogEvents takes messages of at least one character
            return
        event = {"timestamp": int(time.time() * 1000), "message": line}
        for attempt in (1, 2):  # a CreateLogGroup of infra's may come in between
            try:
                with _logs_lock:
                    backend = logs_models.logs_backends[self.account][self.region]
                    if self.group not in backend.groups:
                        backend.create_log_group(self.group, tags={})
                    backend.ensure_log_stream(self.group, self.stream)
                    backend.put_log_events(self.group, self.stream, [event])
                return
            except Exception as e:  # a reset emulator: the line stays on stderr only
                if attempt == 2:
                    log(f"cannot write to {self.group}: {type(e).__name__}: {e}")


# --------------------------------------------------------------------------
# The data plane
# --------------------------------------------------------------------------


@dataclass
class Served:
    """What an invocation reaches: a runtime, the version its qualifier serves, and that
    version's configuration snapshot."""

    runtime: Any
    region: str
    version: str
    config: dict[str, Any]


class DataPlane:
    def __init__(self, setting: Callable[[str], Any]):
        self._setting = setting
        self._root_dir: str | None = None
        self._root_lock = threading.Lock()
        self._images = ImageStore(lambda: str(setting("ecr_registry") or ""), self._root)
        self._spawner = Spawner()
        self._processes: dict[tuple[str, str], RuntimeProcess] = {}
        self._runtime_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._start_timeout = float(os.environ.get("EMULATOR_RUNTIME_START_TIMEOUT", "60"))
        # Access key id -> the execution role ARN a runtime process stands in for.
        self._role_keys: dict[str, str] = {}
        self._cognito_keys = KeySet.import_key_set(
            load_resource("cognitoidp/resources/jwks-public.json")
        )
        atexit.register(self.shutdown)

    def _root(self) -> str:
        """This emulator's temporary directory (unpacked images), made on first use."""
        with self._root_lock:
            if self._root_dir is None:
                _sweep_stale_roots()
                self._root_dir = tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-")
            return self._root_dir

    @staticmethod
    def handles(method: str, path: str) -> bool:
        return method in METHODS and ROUTE.match(path) is not None

    def stop_all(self) -> None:
        self._stop(lambda runtime_id: True)

    def stop_runtime(self, runtime_id: str) -> None:
        self._stop(lambda candidate: candidate == runtime_id)

    def _stop(self, which: Callable[[str], bool]) -> None:
        with self._lock:
            keys = [key for key in self._processes if which(key[0])]
            processes = [self._processes.pop(key) for key in keys]
        for process in processes:
            process.stop()

    def shutdown(self) -> None:
        self.stop_all()
        if self._root_dir is not None:
            shutil.rmtree(self._root_dir, ignore_errors=True)

    # -- request handling --------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            return self._invoke(environ, start_response)
        except DataPlaneError as e:
            return e.respond(start_response)
        except Exception:
            log("internal error:\n" + traceback.format_exc().rstrip())
            return DataPlaneError(
                500,
                "InternalServerException",
                "Internal error - An unexpected error occurred while processing the request",
            ).respond(start_response)

    def _invoke(self, environ: dict[str, Any], start_response: Any) -> Any:
        match = ROUTE.match(environ.get("PATH_INFO", ""))
        assert match is not None
        method = environ["REQUEST_METHOD"]
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        qualifier = (query.get("qualifier") or ["DEFAULT"])[0] or "DEFAULT"
        body = _read_body(environ)  # always, so that a keep-alive connection stays in sync
        headers = _request_headers(environ)
        base_url = _base_url(environ)
        runtime, region = _find_runtime(match["runtime"])
        arn = runtime.agent_runtime_arn
        invocations = f"{base_url}/runtimes/{urllib.parse.quote(arn, safe='')}/invocations"
        challenge = (
            f'Bearer resource_metadata="{invocations}/.well-known/oauth-protected-resource'
            f'?qualifier={urllib.parse.quote(qualifier, safe="")}"'
        )
        if match["prm"]:
            return self._protected_resource(runtime, invocations, qualifier, method, start_response)
        served = self._served(runtime, region, qualifier)
        self._authorize(served.config, headers, challenge)
        if not getattr(runtime, "_emulator_require_mmdsv2", True):
            raise DataPlaneError(400, "ValidationException", "This runtime is not MMDSv2-enabled")
        session = headers.get(SESSION_HEADER.lower()) or str(uuid.uuid4())
        if len(session) < 33:
            raise DataPlaneError(
                400,
                "ValidationException",
                "1 validation error detected: Value at 'runtimeSessionId' failed to satisfy "
                "constraint: Member must have length greater than or equal to 33",
            )
        process = self._process(served, base_url)
        return self._forward(process, served, method, body, headers, session, start_response)

    def _served(self, runtime: Any, region: str, qualifier: str) -> Served:
        """The version the qualifier (an endpoint name, or a version number) serves."""
        backend = bac_models.bedrockagentcorecontrol_backends[runtime.account_id][region]
        runtime_id = runtime.agent_runtime_id
        status = runtime.status
        if status == "CREATING":
            raise DataPlaneError(
                409,
                "RetryableConflictException",
                f"Agent runtime {runtime_id} is not ready yet (status CREATING); retry later",
            )
        if status in ("CREATE_FAILED", "DELETING"):
            raise DataPlaneError(
                409, "ConflictException", f"Agent runtime {runtime_id} is {status}"
            )
        configs: dict[str, dict[str, Any]] = getattr(runtime, "_emulator_configs", {})
        endpoint = backend.agent_runtime_endpoints.get((runtime_id, qualifier))
        if endpoint is not None:
            # Read without GetAgentRuntimeEndpoint's polling (item 9): an UPDATING endpoint
            # keeps serving its liveVersion.
            if endpoint.status in ("CREATING", "DELETING") or not endpoint.live_version:
                raise DataPlaneError(
                    409,
                    "RetryableConflictException",
                    f"Endpoint {qualifier} of agent runtime {runtime_id} is not ready "
                    f"(status {endpoint.status}); retry later",
                )
            version = str(endpoint.live_version)
        elif qualifier.isdigit() and qualifier in configs:
            version = qualifier
        else:
            raise DataPlaneError(
                404,
                "ResourceNotFoundException",
                f"No endpoint or version {qualifier} for agent runtime {runtime_id}",
            )
        config = configs.get(version)
        if config is None:
            raise DataPlaneError(
                409,
                "ConflictException",
                f"Version {version} of agent runtime {runtime_id} has no configuration",
            )
        return Served(runtime, region, version, config)

    # -- authorization -----------------------------------------------------

    def _authorize(self, config: dict[str, Any], headers: dict[str, str], challenge: str) -> None:
        authorization = headers.get("authorization", "").strip()
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        jwt_config = (config.get("authorizer") or {}).get("customJWTAuthorizer")
        if jwt_config is None:  # IAM (SigV4) runtime; signatures are not checked, as in moto
            if scheme == "bearer":
                raise DataPlaneError(403, "AccessDeniedException", MISMATCH)
            if scheme != "aws4-hmac-sha256":
                raise DataPlaneError(403, "AccessDeniedException", "Missing Authentication Token")
            return
        if scheme == "aws4-hmac-sha256":
            raise DataPlaneError(403, "AccessDeniedException", MISMATCH)
        unauthorized = [("WWW-Authenticate", challenge)]

        def reject(message: str) -> DataPlaneError:
            return DataPlaneError(401, "UnauthorizedException", message, unauthorized)

        if not authorization:
            raise reject("Authentication required")
        if scheme != "bearer" or not credentials.strip():
            raise reject("Invalid Authorization header: expected a Bearer token")
        claims = self._verify(credentials.strip(), jwt_config, reject)
        client_id = claims.get("client_id")
        allowed_clients = jwt_config.get("allowedClients")
        if allowed_clients and client_id not in allowed_clients:
            raise reject("Claim 'client_id' value mismatch with configuration.")
        allowed_audience = jwt_config.get("allowedAudience")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if allowed_audience and not set(allowed_audience) & {a for a in audiences if a}:
            raise reject("Claim 'aud' value mismatch with configuration.")
        allowed_scopes = jwt_config.get("allowedScopes")
        scope = claims.get("scope", claims.get("scp", ""))
        scopes = set(scope.split() if isinstance(scope, str) else scope or [])
        if allowed_scopes and not set(allowed_scopes) & scopes:  # any one of them
            raise reject("Claim 'scope' value mismatch with configuration.")

    def _verify(
        self,
        token: str,
        jwt_config: dict[str, Any],
        reject: Callable[[str], DataPlaneError],
    ) -> dict[str, Any]:
        """The claims of an RS256 token signed by a user pool of this emulator's Cognito."""
        discovery = str(jwt_config.get("discoveryUrl") or "")
        match = COGNITO_DISCOVERY.match(discovery)
        if match is None or not _pool_exists(match["region"], match["pool"]):
            log(f"cannot verify tokens for discovery URL {discovery!r}: not a user pool here")
            raise reject("Invalid Bearer token: the authorizer's issuer is unavailable")
        try:
            claims = dict(jwt.decode(token, self._cognito_keys, algorithms=["RS256"]).claims)
        except Exception as e:  # malformed, unknown key, bad signature: all the same to callers
            raise reject(f"Invalid Bearer token: {type(e).__name__}")
        expires = claims.get("exp")
        now = time.time()
        if not isinstance(expires, (int, float)) or expires <= now:
            raise reject("Invalid Bearer token: the token has expired")
        not_before = claims.get("nbf")
        if isinstance(not_before, (int, float)) and not_before > now:
            raise reject("Invalid Bearer token: the token is not valid yet")
        if claims.get("iss") != discovery[: -len(DISCOVERY_SUFFIX)]:
            raise reject("Claim 'iss' value mismatch with configuration.")
        return claims

    def _protected_resource(
        self, runtime: Any, invocations: str, qualifier: str, method: str, start_response: Any
    ) -> list[bytes]:
        """GetRuntimeProtectedResourceMetadata (RFC 9728), unauthenticated by design."""
        jwt_config = (runtime.authorizer_configuration or {}).get("customJWTAuthorizer")
        if method != "GET" or jwt_config is None:
            raise DataPlaneError(
                404, "ResourceNotFoundException", "The agent runtime is not configured for OAuth"
            )
        discovery = str(jwt_config.get("discoveryUrl") or "")
        document = {
            "resource": f"{invocations}?qualifier={urllib.parse.quote(qualifier, safe='')}",
            "authorization_servers": [discovery.removesuffix(DISCOVERY_SUFFIX)],
            "bearer_methods_supported": ["header"],
        }
        if jwt_config.get("allowedScopes"):
            document["scopes_supported"] = list(jwt_config["allowedScopes"])
        body = json.dumps(document).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    # -- processes ---------------------------------------------------------

    def _runtime_lock(self, runtime_id: str) -> threading.Lock:
        with self._lock:
            return self._runtime_locks.setdefault(runtime_id, threading.Lock())

    def _process(self, served: Served, base_url: str) -> RuntimeProcess:
        runtime_id = served.runtime.agent_runtime_id
        key = (runtime_id, served.version)
        with self._runtime_lock(runtime_id):  # concurrent first requests start one process
            with self._lock:
                process = self._processes.get(key)
            if process is not None and process.alive():
                return process
            if process is not None:
                log(f"{process.label} exited with status {process.popen.returncode}; restarting")
                with self._lock:
                    self._processes.pop(key, None)
            # A newer version replaces the older ones.
            with self._lock:
                older = [
                    k for k in self._processes
                    if k[0] == runtime_id and _version_key(k[1]) < _version_key(served.version)
                ]
                stale = [self._processes.pop(k) for k in older]
            for process in stale:
                log(f"stopping {process.label}: v{served.version} replaces it")
                process.stop()
            process = self._start(served, base_url)
            with self._lock:
                self._processes[key] = process
            return process

    def _start(self, served: Served, base_url: str) -> RuntimeProcess:
        runtime_id = served.runtime.agent_runtime_id
        artifact = served.config.get("artifact") or {}
        uri = str((artifact.get("containerConfiguration") or {}).get("containerUri") or "")
        if not uri:
            raise _client_error("Runtime initialization failed: the version has no containerUri")
        image = self._images.get(uri)
        port = _free_port()
        env: dict[str, str] = {}
        for item in image.config.get("Env") or []:
            name, _, value = str(item).partition("=")
            env[name] = value
        env.setdefault("PATH", DEFAULT_PATH)
        env.update({str(k): str(v) for k, v in (served.config.get("environment") or {}).items()})
        env.update(
            PORT=str(port),
            HOST="127.0.0.1",
            # Standing in for the execution role's credentials from MMDS: a key of this
            # process's own, so that requests signed with it are the role's (role_refusal).
            AWS_ACCESS_KEY_ID=self._role_key(served),
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=served.region,
            AWS_DEFAULT_REGION=served.region,
            AWS_ENDPOINT_URL=base_url,
        )
        argv, cwd = _command(image, env)
        parent = os.getpid()
        try:
            popen: subprocess.Popen[bytes] = self._spawner.run(
                lambda: subprocess.Popen(
                    argv,
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, stopped as one
                    preexec_fn=lambda: _die_with_parent(parent),
                )
            )
        except OSError as e:  # e.g. a script whose interpreter the host lacks
            log(f"runtime {runtime_id} v{served.version}: cannot run {argv}: {e}")
            raise _client_error(f"Runtime initialization failed: cannot run the entrypoint ({e})")
        process = RuntimeProcess(runtime_id, served.version, port, popen)
        process.sink = RuntimeLog(served).put
        process.reader = threading.Thread(
            target=process.pump_output, name=process.label, daemon=True
        )
        process.reader.start()
        reason = self._wait_ready(process)
        if reason is not None:
            process.stop()
            last = " | ".join(list(process.tail)[-5:]) or "(no output)"
            log(f"{process.label} failed to start: {reason}; its last output: {last}")
            raise _client_error(f"Runtime initialization failed: {reason}")
        log(
            f"{process.label} ready: pid {popen.pid} on 127.0.0.1:{port} "
            f"({image.architecture or 'unknown'} image {image.digest[:19]})"
        )
        return process

    def _wait_ready(self, process: RuntimeProcess) -> str | None:
        """None once GET /ping answers 200; else why not."""
        deadline = time.monotonic() + self._start_timeout
        status = None
        while time.monotonic() < deadline:
            if not process.alive():
                return f"the container exited with status {process.popen.returncode}"
            status = _ping(process.port)
            if status == 200:
                return None
            time.sleep(0.05)
        answer = f"answered HTTP {status}" if status else "did not answer"
        return f"GET /ping {answer} within {self._start_timeout:g} s"

    # -- the execution role's calls (item 18) --------------------------------

    def _role_key(self, served: Served) -> str:
        """A new access key id for a process of ``served``, standing for its execution role."""
        key = "ASIA" + uuid.uuid4().hex[:16].upper()
        with self._lock:
            self._role_keys[key] = str(getattr(served.runtime, "role_arn", "") or "")
        return key

    def role_refusal(self, environ: dict[str, Any], start_response: Any) -> list[bytes] | None:
        """With the ``deny_secret_read`` setting, a runtime process's
        ``secretsmanager.GetSecretValue`` is refused as IAM refuses a role without the grant:
        HTTP 400 ``AccessDeniedException`` (Secrets Manager's API reference, GetSecretValue
        "Errors" and "Common Errors": AccessDeniedException, "You do not have sufficient
        access to perform this action"; the message is IAM's usual "User: <assumed role> is
        not authorized to perform: <action> on resource: <ARN> because no identity-based
        policy allows the <action> action"). None: not refused, moto answers."""
        if environ.get("HTTP_X_AMZ_TARGET") != "secretsmanager.GetSecretValue":
            return None
        if not self._setting("deny_secret_read"):
            return None
        match = re.search(r"Credential=([^/,\s]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        with self._lock:
            role_arn = self._role_keys.get(match[1]) if match else None
        if role_arn is None:
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            secret = str(json.loads(raw or b"{}").get("SecretId") or "")
        except (ValueError, AttributeError):
            secret = ""
        role = re.match(r"^arn:([^:]+):iam::(\d{12}):role/(?:.*/)?([^/]+)$", role_arn)
        who = (
            f"arn:{role[1]}:sts::{role[2]}:assumed-role/{role[3]}/runtime-session"
            if role
            else role_arn
        )
        message = (
            f"User: {who} is not authorized to perform: secretsmanager:GetSecretValue on "
            f"resource: {secret} because no identity-based policy allows the "
            "secretsmanager:GetSecretValue action"
        )
        log(f"refused GetSecretValue of {secret} to {who} (deny_secret_read)")
        body = json.dumps({"__type": "AccessDeniedException", "Message": message}).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(body))),
                ("X-Amzn-ErrorType", "AccessDeniedException"),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [body]

    # -- forwarding --------------------------------------------------------

    def _forward(
        self,
        process: RuntimeProcess,
        served: Served,
        method: str,
        body: bytes,
        headers: dict[str, str],
        session: str,
        start_response: Any,
    ) -> Iterator[bytes]:
        allowed = {
            str(h).lower()
            for h in (served.config.get("request_headers") or {}).get("requestHeaderAllowlist")
            or []
        }
        forwarded: dict[str, str] = {}
        for name, value in headers.items():
            if name in DROPPED_HEADERS:
                continue
            gated = name == "authorization" or name.startswith(CUSTOM_HEADER_PREFIX)
            if gated and name not in allowed:  # forwarded only when allowlisted
                continue
            forwarded[_header_case(name)] = value
        mcp_session = headers.get("mcp-session-id") or session
        forwarded[SESSION_HEADER] = session
        forwarded["Mcp-Session-Id"] = mcp_session
        protocol = str((served.config.get("protocol") or {}).get("serverProtocol") or "HTTP")
        path = CONTAINER_PATHS.get(protocol.upper(), "/invocations")
        connection = http.client.HTTPConnection("127.0.0.1", process.port, timeout=INVOKE_TIMEOUT)
        try:
            payload = body if body or method == "POST" else None
            connection.request(method, path, body=payload, headers=forwarded)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as e:
            connection.close()
            log(f"{process.label} did not answer {method} {path}: {e}")
            raise _client_error(f"Received no response from runtime ({e})")
        out = [
            ("Mcp-Session-Id", response.getheader("Mcp-Session-Id") or mcp_session),
            (SESSION_HEADER, session),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        for name in PASSED_BACK:
            value = response.getheader(name)
            if value is not None and not (name == "Content-Length" and response.chunked):
                out.append((name, value))
        start_response(_status_line(response.status), out)
        return _stream(response, connection)


def _stream(
    response: http.client.HTTPResponse, connection: http.client.HTTPConnection
) -> Iterator[bytes]:
    """The container's body as it arrives (server-sent events event by event)."""
    try:
        while chunk := response.read1(65536):
            yield chunk
    except (OSError, http.client.HTTPException) as e:
        log(f"the container's response broke off: {e}")
    finally:
        connection.close()


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)


def _header_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return bytes(stream.read(length))
    if environ.get("wsgi.input_terminated"):  # chunked request body, de-chunked by werkzeug
        return bytes(stream.read())
    return b""


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers, names in lower case."""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _base_url(environ: dict[str, Any]) -> str:
    """This emulator's own URL, as its child processes on this host reach it."""
    host = str(environ.get("SERVER_NAME") or "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = environ.get("wsgi.url_scheme", "http")
    return f"{scheme}://{host}:{environ.get('SERVER_PORT', '80')}"


def _find_runtime(reference: str) -> tuple[Any, str]:
    """The runtime an ARN (its account and region) or a bare id (any) names, and its region."""
    arn = RUNTIME_ARN.match(reference)
    runtime_id = arn["id"] if arn else reference
    # dict's own items(): moto's BackendDict creates backends on lookup.
    for account, regional in list(dict.items(bac_models.bedrockagentcorecontrol_backends)):
        for region, backend in list(dict.items(regional)):
            if arn and (account, region) != (arn["account"], arn["region"]):
                continue
            runtime = backend.agent_runtimes.get(runtime_id)
            if runtime is not None:
                return runtime, region
    raise DataPlaneError(
        404, "ResourceNotFoundException", f"Could not find Agent Runtime {reference}"
    )


def _pool_exists(region: str, pool_id: str) -> bool:
    for regional in list(dict.values(cognito_models.cognitoidp_backends)):
        backend = dict.get(regional, region)
        if backend is not None and pool_id in backend.user_pools:
            return True
    return False
