"""moto server, made more faithful to AWS for Bedrock AgentCore Control.

Usage (same flags as ``moto_server``: -H/--host, -p/--port, -r, -s, -c, -k):

    .venv/bin/python scripts/emulator.py -H 127.0.0.1 -p 5000

It serves every moto service on the one port, exactly like ``moto_server``
(threaded, ``/moto-api/...`` routes and the request recorder included). At
import time it wraps a few moto 5.2.5 functions; no moto code is copied.

Deviations from stock moto, and why:

1. AgentRuntime ARN has AWS's shape and is stable:
   ``arn:{partition}:bedrock-agentcore:{region}:{account}:runtime/{agentRuntimeId}``.
   moto invents ``agent/{uuid}:{version}`` and rewrites it on every update,
   so tags (keyed by ARN) and ARNs stored by clients go stale. The ARN is set
   before tags given at create are stored; version snapshots
   (ListAgentRuntimeVersions) carry it too. agentRuntimeVersion still
   increments per update.
2. After UpdateAgentRuntime, UPDATING progresses to READY like CREATING does
   (moto has no UPDATING->READY transition, so runtimes stayed UPDATING
   forever). The progression mode is moto's (default: immediate), so the
   update response says UPDATING and the next GetAgentRuntime says READY.
3. CreateAgentRuntime validates agentRuntimeName against AWS's pattern
   ``[a-zA-Z][a-zA-Z0-9_]{0,47}`` (ValidationException, HTTP 400, reason
   FieldValidationFailed) and rejects a name already used in the same
   account/region (ConflictException, HTTP 409). moto accepted both.
4. CreateAgentRuntime honours ``clientToken``: a repeat with the same token and
   identical parameters returns the runtime it created (no conflict, no second
   runtime); the same token with different parameters is a ValidationException
   with reason IdempotentParameterMismatchException, as AWS's model declares.
5. Failure driving for tests (not an AWS API; never recorded by the moto
   recorder): ``POST /_emulator/agentcore/fail-next`` with JSON
   ``{"reason": "..."}`` arms one failure and answers ``{"armed": true}``.
   The next CreateAgentRuntime or UpdateAgentRuntime (whichever comes first,
   any account/region) then progresses to CREATE_FAILED / UPDATE_FAILED
   instead of READY, and GetAgentRuntime includes ``failureReason`` while the
   runtime is in a *_FAILED status. Each arm is one failure (arms queue up).
   ``POST /moto-api/reset`` also drops pending arms.
6. Quiet: werkzeug's per-request log lines are dropped (set
   EMULATOR_LOG_REQUESTS=1 to keep them); one line is printed to stderr once
   the socket is bound. SIGTERM/SIGINT exit with status 0 (moto's handlers).
7. EMULATOR_LATENCY_MS (default 0) delays every AWS call by that much, standing in
   for the network round trip to AWS in benchmarks of concurrent reads.
8. MMDSv2. UpdateAgentRuntime takes ``metadataConfiguration.requireMMDSV2`` and
   GetAgentRuntime returns it (moto drops both). AWS turns it on for runtimes
   created since mid-2026 and then refuses ``false`` for them; older runtimes
   have it off until an update turns it on, and AWS rejects their invocations
   ("This runtime is not MMDSv2-enabled"). Sources: the AgentCore API reference
   (UpdateAgentRuntime ``metadataConfiguration``, RuntimeMetadataConfiguration)
   and the service model of aws-sdk-bedrockagentcorecontrol 1.97 (the field is on
   UpdateAgentRuntime and GetAgentRuntime only, not on CreateAgentRuntime). New
   runtimes here have it on, like AWS today; ``EMULATOR_MMDSV2_ON_CREATE=0`` or the
   settings route below makes new runtimes like the older ones.
9. The DEFAULT endpoint. AWS creates a runtime's DEFAULT endpoint with the runtime
   and moves it to each new version after an update, possibly after the runtime
   itself reads READY (AgentCore developer guide, "versioning and endpoints";
   GetAgentRuntimeEndpoint ``liveVersion``/``targetVersion``). moto creates no
   endpoint. Here DEFAULT is created with the runtime; after an update it reads
   UPDATING with the old ``liveVersion`` for the next N GetAgentRuntimeEndpoint
   calls (``EMULATOR_ENDPOINT_LAG_POLLS``, default 2), then READY serving the new
   version. An update that fails (item 5) leaves DEFAULT on the old version.
10. UpdateAgentRuntime replaces the whole configuration, as AWS does: an optional
   member it is not sent (description, authorizer, request headers, protocol,
   lifecycle, environment, and the members moto does not store at all:
   filesystemConfigurations, capacityProviderConfiguration, platformVersion,
   allowedPorts) is gone afterwards. moto kept the old value of an omitted
   member and dropped the unstored ones; here they are stored, returned by
   GetAgentRuntime, and reset by an update that leaves them out. Source: the
   AgentCore API reference of UpdateAgentRuntime ("the updated configuration")
   and the Terraform provider's runtime resource, which sends every member on
   update for that reason.
11. Settings for tests (not an AWS API, never recorded):
   ``POST /_emulator/agentcore/settings`` with JSON ``{"mmdsv2_on_create": bool,
   "endpoint_lag_polls": int}`` (either key) changes items 8 and 9 from then on
   and answers the settings in force.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import re
import sys
import threading
import time
from typing import Any, Callable

import moto.server
from moto.bedrockagentcorecontrol import exceptions as bac_exceptions
from moto.bedrockagentcorecontrol import models as bac_models
from moto.bedrockagentcorecontrol import responses as bac_responses
from moto.utilities.utils import get_partition
from werkzeug import serving

AGENT_RUNTIME_NAME_PATTERN = "[a-zA-Z][a-zA-Z0-9_]{0,47}"
_NAME_RE = re.compile(AGENT_RUNTIME_NAME_PATTERN)
CONTROL_PREFIX = "/_emulator/"
FAIL_NEXT_PATH = "/_emulator/agentcore/fail-next"
SETTINGS_PATH = "/_emulator/agentcore/settings"
DEFAULT_FAILURE_REASON = "Failure injected by the emulator"


class ValidationException(bac_exceptions.BedrockAgentCoreControlClientError):
    code = "ValidationException"

    def __init__(self, message: str, reason: str, field: str | None = None):
        super().__init__(message)
        # Extra members of the ValidationException shape; serialized by moto.
        self.reason = reason
        if field is not None:
            self.fieldList = [{"name": field, "message": message}]


# --------------------------------------------------------------------------
# Failure arming (process-wide queue of failure reasons)
# --------------------------------------------------------------------------

_arms: collections.deque[str] = collections.deque()
_arms_lock = threading.Lock()


def arm_failure(reason: str) -> None:
    with _arms_lock:
        _arms.append(reason)


def _take_arm() -> str | None:
    with _arms_lock:
        return _arms.popleft() if _arms else None


def _clear_arms() -> None:
    with _arms_lock:
        _arms.clear()


# --------------------------------------------------------------------------
# Settings (items 8 and 9)
# --------------------------------------------------------------------------

_settings: dict[str, Any] = {
    "mmdsv2_on_create": os.environ.get("EMULATOR_MMDSV2_ON_CREATE", "1").lower()
    not in ("0", "false", "no"),
    "endpoint_lag_polls": int(os.environ.get("EMULATOR_ENDPOINT_LAG_POLLS", "2")),
}
_settings_lock = threading.Lock()


def _setting(name: str) -> Any:
    with _settings_lock:
        return _settings[name]


def _wrap(owner: Any, name: str) -> Callable[[Callable[..., Any]], Any]:
    """Replace owner.name by decorator(original), keeping the original callable."""

    def decorator(make: Callable[..., Any]) -> Any:
        original = getattr(owner, name)
        wrapper = make(original)
        functools.update_wrapper(wrapper, original)
        setattr(owner, name, wrapper)
        return wrapper

    return decorator


def _stable_arn(runtime: Any) -> str:
    return (
        f"arn:{get_partition(runtime.region_name)}:bedrock-agentcore:"
        f"{runtime.region_name}:{runtime.account_id}:runtime/{runtime.agent_runtime_id}"
    )


def _set_transitions(runtime: Any, create_to: str, update_to: str) -> None:
    # The first pair's source is the initial status (ManagedState convention).
    runtime._transitions = [("CREATING", create_to), ("UPDATING", update_to)]


# --------------------------------------------------------------------------
# Model patches
# --------------------------------------------------------------------------

AgentRuntime = bac_models.AgentRuntime
Backend = bac_models.BedrockAgentCoreControlBackend
Response = bac_responses.BedrockAgentCoreControlResponse


@_wrap(AgentRuntime, "__init__")
def _(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # moto's update() parses its own ARN shape; keep it aside for that.
        self._emulator_moto_arn = self.agent_runtime_arn
        self.agent_runtime_arn = _stable_arn(self)
        reason = _take_arm()
        self._emulator_failure_reason = reason
        self._emulator_client_token = None
        self._emulator_request = None
        # Item 8: on for runtimes created "now", and then it can never be turned off.
        self._emulator_require_mmdsv2 = bool(_setting("mmdsv2_on_create"))
        self._emulator_mmdsv2_locked = self._emulator_require_mmdsv2
        _set_transitions(self, "CREATE_FAILED" if reason else "READY", "READY")
        # moto's constructor already read `status` for its version snapshot
        # (which may have progressed it); restart from CREATING and retake the
        # snapshot with the ARN and transitions above.
        self.status = "CREATING"
        self.versions.clear()
        self._snapshot_version()

    return __init__


@_wrap(AgentRuntime, "update")
def _(original: Callable[..., None]) -> Callable[..., None]:
    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        arn = self.agent_runtime_arn
        reason = _take_arm()
        self._emulator_failure_reason = reason
        create_to = self._transitions[0][1] if self._transitions else "READY"
        _set_transitions(self, create_to, "UPDATE_FAILED" if reason else "READY")
        self.agent_runtime_arn = self._emulator_moto_arn
        try:
            original(self, *args, **kwargs)
        finally:
            self._emulator_moto_arn = self.agent_runtime_arn
            self.agent_runtime_arn = arn
        if self.versions:
            self.versions[-1]["agentRuntimeArn"] = arn

    return update


@_wrap(Backend, "create_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_agent_runtime(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs["agent_runtime_name"] if "agent_runtime_name" in kwargs else args[0]
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'agentRuntimeName' "
                "failed to satisfy constraint: Member must satisfy regular "
                f"expression pattern: {AGENT_RUNTIME_NAME_PATTERN}",
                reason="FieldValidationFailed",
                field="agentRuntimeName",
            )
        for existing in self.agent_runtimes.values():
            if existing.agent_runtime_name == name:
                raise bac_exceptions.ConflictException(
                    f"An agent runtime with the name '{name}' already exists "
                    f"({existing.agent_runtime_id})"
                )
        runtime = original(self, *args, **kwargs)
        # Item 9: AWS creates the DEFAULT endpoint with the runtime.
        self.create_agent_runtime_endpoint(
            agent_runtime_id=runtime.agent_runtime_id,
            name="DEFAULT",
            agent_runtime_version=None,
            description=None,
            tags=None,
        )
        return runtime

    return create_agent_runtime


@_wrap(Backend, "update_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_agent_runtime(self: Any, *args: Any, **kwargs: Any) -> Any:
        runtime = original(self, *args, **kwargs)
        endpoint = self.agent_runtime_endpoints.get((runtime.agent_runtime_id, "DEFAULT"))
        if endpoint is not None and not runtime._emulator_failure_reason:
            # Item 9: DEFAULT moves to the new version, some polls later.
            endpoint.target_version = runtime.agent_runtime_version
            endpoint.status = "UPDATING"
            endpoint._emulator_lag = int(_setting("endpoint_lag_polls"))
        return runtime

    return update_agent_runtime


@_wrap(Backend, "get_agent_runtime_endpoint")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_agent_runtime_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = original(self, *args, **kwargs)
        lag = getattr(endpoint, "_emulator_lag", 0)
        if lag > 0:
            endpoint._emulator_lag = lag - 1
        elif endpoint.status == "UPDATING":
            endpoint.live_version = endpoint.target_version
            endpoint.status = "READY"
        return endpoint

    return get_agent_runtime_endpoint


# --------------------------------------------------------------------------
# Response patches
# --------------------------------------------------------------------------


@_wrap(Response, "create_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_agent_runtime(self: Any) -> Any:
        params = dict(self._get_params())
        token = params.pop("clientToken", None)
        if token:
            for runtime in self.backend.agent_runtimes.values():
                if getattr(runtime, "_emulator_client_token", None) != token:
                    continue
                if runtime._emulator_request != params:
                    raise ValidationException(
                        "The request uses the same client token as a previous, "
                        "but non-identical request. Do not reuse a client token "
                        "with different requests, unless the requests are identical.",
                        reason="IdempotentParameterMismatchException",
                    )
                return bac_responses.ActionResult(
                    {
                        "agentRuntimeArn": runtime.agent_runtime_arn,
                        "workloadIdentityDetails": runtime.workload_identity_details,
                        "agentRuntimeId": runtime.agent_runtime_id,
                        "agentRuntimeVersion": runtime.agent_runtime_version,
                        "createdAt": runtime.created_at,
                        "status": runtime.status,
                    }
                )
        result = original(self)
        runtime = self.backend.agent_runtimes.get(result.result["agentRuntimeId"])
        if runtime is not None:
            _store_extra(runtime, params)
            if token:
                runtime._emulator_client_token = token
                runtime._emulator_request = params
        return result

    return create_agent_runtime


@_wrap(Response, "update_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_agent_runtime(self: Any) -> Any:
        runtime = self.backend.agent_runtimes.get(self._get_param("agentRuntimeId"))
        metadata = self._get_params().get("metadataConfiguration")
        require = None
        if isinstance(metadata, dict) and "requireMMDSV2" in metadata:
            require = bool(metadata["requireMMDSV2"])
            if runtime is not None and runtime._emulator_mmdsv2_locked and not require:
                raise ValidationException(
                    "requireMMDSV2 cannot be set to false for this agent runtime",
                    reason="FieldValidationFailed",
                    field="metadataConfiguration.requireMMDSV2",
                )
        result = original(self)
        if runtime is not None:
            if require is not None:
                runtime._emulator_require_mmdsv2 = require
            params = self._get_params()
            _store_extra(runtime, params)
            # moto keeps an omitted member's old value; AWS does not.
            for member, attribute, empty in (
                ("description", "description", ""),
                ("authorizerConfiguration", "authorizer_configuration", None),
                ("requestHeaderConfiguration", "request_header_configuration", None),
                ("protocolConfiguration", "protocol_configuration", None),
                ("lifecycleConfiguration", "lifecycle_configuration", {}),
                ("environmentVariables", "environment_variables", None),
            ):
                if member not in params:
                    setattr(runtime, attribute, empty)
        return result

    return update_agent_runtime


# Item 10: members moto does not store, kept per runtime as sent.
EXTRA_MEMBERS = (
    "filesystemConfigurations",
    "capacityProviderConfiguration",
    "platformVersion",
    "allowedPorts",
)


def _store_extra(runtime: Any, params: dict[str, Any]) -> None:
    runtime._emulator_extra = {k: params[k] for k in EXTRA_MEMBERS if k in params}


@_wrap(Response, "get_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_agent_runtime(self: Any) -> Any:
        result = original(self)
        body = result.result
        runtime = self.backend.agent_runtimes.get(body.get("agentRuntimeId"))
        reason = getattr(runtime, "_emulator_failure_reason", None)
        if reason and str(body.get("status", "")).endswith("_FAILED"):
            body["failureReason"] = reason
        if runtime is not None:
            body["metadataConfiguration"] = {
                "requireMMDSV2": runtime._emulator_require_mmdsv2
            }
            body.update(getattr(runtime, "_emulator_extra", {}))
        return result

    return get_agent_runtime


# --------------------------------------------------------------------------
# WSGI: control routes in front of moto's app
# --------------------------------------------------------------------------


def _json_response(start_response: Any, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class EmulatorMiddleware:
    """Serves /_emulator/* itself; everything else goes to moto's app."""

    def __init__(self, app: Any):
        self.app = app
        # EMULATOR_LATENCY_MS: added to every AWS call, to stand in for the network round trip
        # to a real AWS endpoint (benchmarks of concurrent reads; 0 by default).
        self.latency = float(os.environ.get("EMULATOR_LATENCY_MS", "0")) / 1000.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(CONTROL_PREFIX):
            return self._control(path, method, environ, start_response)
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            _clear_arms()
        if self.latency and not path.startswith("/moto-api"):
            time.sleep(self.latency)
        return self.app(environ, start_response)

    def _control(
        self, path: str, method: str, environ: dict[str, Any], start_response: Any
    ) -> list[bytes]:
        route = path.rstrip("/")
        if route not in (FAIL_NEXT_PATH, SETTINGS_PATH):
            return _json_response(
                start_response, "404 Not Found", {"error": f"no route {path}"}
            )
        if method != "POST":
            return _json_response(
                start_response, "405 Method Not Allowed", {"error": "use POST"}
            )
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _json_response(
                start_response, "400 Bad Request", {"error": "body is not JSON"}
            )
        if route == SETTINGS_PATH:
            return self._settings(payload, start_response)
        reason = payload.get("reason") if isinstance(payload, dict) else None
        if reason is None:
            reason = DEFAULT_FAILURE_REASON
        if not isinstance(reason, str) or not reason:
            return _json_response(
                start_response,
                "400 Bad Request",
                {"error": "reason must be a non-empty string"},
            )
        arm_failure(reason)
        return _json_response(start_response, "200 OK", {"armed": True})

    def _settings(self, payload: Any, start_response: Any) -> list[bytes]:
        kinds = {"mmdsv2_on_create": bool, "endpoint_lag_polls": int}
        if not isinstance(payload, dict) or not set(payload) <= set(kinds):
            return _json_response(
                start_response,
                "400 Bad Request",
                {"error": f"an object with any of {sorted(kinds)}"},
            )
        for key, value in payload.items():
            if type(value) is not kinds[key] or (key == "endpoint_lag_polls" and value < 0):
                return _json_response(
                    start_response, "400 Bad Request", {"error": f"bad {key}"}
                )
        with _settings_lock:
            _settings.update(payload)
            current = dict(_settings)
        return _json_response(start_response, "200 OK", current)


# --------------------------------------------------------------------------
# Server: moto.server.main with our middleware and a quiet request handler
# --------------------------------------------------------------------------


def _quiet(handler: type[serving.WSGIRequestHandler]) -> type:
    if os.environ.get("EMULATOR_LOG_REQUESTS") == "1":
        return handler

    class QuietRequestHandler(handler):  # type: ignore[misc, valid-type]
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return QuietRequestHandler


def _run_simple(hostname: str, port: int, application: Any, **kwargs: Any) -> None:
    app = EmulatorMiddleware(application)
    handler = _quiet(kwargs.get("request_handler") or serving.WSGIRequestHandler)
    if kwargs.get("use_reloader"):
        kwargs["request_handler"] = handler
        serving.run_simple(hostname, port, app, **kwargs)
        return
    server = serving.make_server(
        hostname,
        port,
        app,
        threaded=kwargs.get("threaded", True),
        request_handler=handler,
        ssl_context=kwargs.get("ssl_context"),
    )
    scheme = "https" if kwargs.get("ssl_context") else "http"
    print(
        f"emulator: moto with AgentCore patches listening on "
        f"{scheme}://{hostname}:{server.port}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    moto.server.run_simple = _run_simple
    moto.server.main(argv)


if __name__ == "__main__":
    main()
