"""moto server, made more faithful to AWS for Bedrock AgentCore Control, plus a local
AgentCore Runtime data plane (item 12).

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
   ``POST /_emulator/settings`` (or its older name ``/_emulator/agentcore/settings``) with
   JSON ``{"mmdsv2_on_create": bool, "endpoint_lag_polls": int, "ecr_registry": str,
   "create_delay_ms": int, "deny_secret_read": bool, "update_failed_runtime": "allow"|"refuse",
   "default_endpoint_delay_s": int}`` (any of the keys) changes items 8, 9, 12, 13, 18, 22 and
   23 from then on and answers the settings in force. ``POST /moto-api/reset`` keeps them.
12. The AgentCore Runtime data plane (InvokeAgentRuntime), which moto does not have; in
   scripts/emulator_dataplane.py. ``POST|GET|DELETE /runtimes/{URL-encoded runtime ARN,
   or id}/invocations?qualifier=DEFAULT`` (an endpoint name, or a version number; DEFAULT
   when absent). Never recorded by moto's recorder, never delayed by EMULATOR_LATENCY_MS.
   - Resolution: the runtime across moto's backends (account and region from the ARN);
     unknown -> 404 ResourceNotFoundException; CREATING -> 409 RetryableConflictException,
     CREATE_FAILED -> 409 ConflictException. The endpoint serves its ``liveVersion``, read
     without item 9's polling (so an UPDATING DEFAULT keeps serving the old version), with
     that version's own configuration (artifact, environment, authorizer, header allowlist,
     protocol: snapshotted per version by this file). MMDSv2 off (item 8) -> 400
     ValidationException "This runtime is not MMDSv2-enabled".
   - Authorization, when the version has ``authorizerConfiguration.customJWTAuthorizer``:
     ``Authorization: Bearer <jwt>``, RS256-verified in-process against moto's Cognito key
     (moto signs every pool's tokens with cognitoidp/resources/jwks-private.json, kid
     "dummy"; the pool named by ``discoveryUrl`` must exist here), ``exp`` and ``nbf`` against
     time.time(), ``iss`` = discoveryUrl minus /.well-known/openid-configuration, then
     ``client_id`` in allowedClients, ``aud`` in allowedAudience, any one scope (``scope``
     or ``scp``) in allowedScopes, for each list that is set. Every failure is 401
     UnauthorizedException with ``WWW-Authenticate: Bearer resource_metadata="<this
     emulator>/runtimes/{ARN}/invocations/.well-known/oauth-protected-resource?qualifier=Q"``;
     a claim check's message is "Claim '<claim>' value mismatch with configuration.". That
     URL (GET, unauthenticated) answers an RFC 9728 document naming the issuer. A SigV4
     ``Authorization: AWS4-HMAC-SHA256 ...`` on a JWT runtime, or a Bearer token on an IAM
     runtime -> 403 AccessDeniedException "Authorization method mismatch. ..."; no
     Authorization on an IAM runtime -> 403 AccessDeniedException "Missing Authentication
     Token". SigV4 signatures are not verified (as everywhere in moto).
   - Execution: the version's ``containerUri`` (``host/repo:tag`` or ``host/repo@sha256:..``)
     is pulled over the registry HTTP API v2: from EMULATOR_ECR_REGISTRY (or the
     ``ecr_registry`` setting), e.g. ``http://127.0.0.1:5001``, when ``host`` is an ECR host,
     else from ``http://host``; no registry authentication. Docker schema-2 and OCI
     manifests; an index picks linux/arm64, else its only entry; gzip or plain tar layers
     with OCI whiteouts; digests verified; unpacked into a temporary directory, cached by
     manifest digest, removed at exit. Entrypoint + Cmd run as a process of the emulator:
     the executable is resolved inside the unpacked rootfs (PATH from the image's Env,
     symlinks followed with the rootfs as "/"), under ``qemu-aarch64-static -L <rootfs>``
     when it is an aarch64 ELF and the host is not aarch64; the working directory is the
     rootfs' WorkingDir. Environment: the image's Env, then the runtime's
     environmentVariables, then PORT=<a free port> and HOST=127.0.0.1, then, standing in
     for the execution role's credentials from MMDS, AWS_ACCESS_KEY_ID=<a key of the
     process's own, item 18>, AWS_SECRET_ACCESS_KEY=testing, AWS_REGION and AWS_DEFAULT_REGION (the runtime's) and
     AWS_ENDPOINT_URL=<this emulator>. One process per (runtime, version), started by the
     first invocation (concurrent first invocations start one), ready once ``GET /ping``
     answers 200 (EMULATOR_RUNTIME_START_TIMEOUT seconds, default 60; else, or if it exits
     first, 424 RuntimeClientError naming the reason, and the process is killed). Starting
     a newer version stops the older ones; DeleteAgentRuntime and ``POST /moto-api/reset``
     stop a runtime's / all processes. Its output goes to the emulator's stderr, each line
     prefixed ``[runtime <id> v<version>] ``, and the emulator logs ``emulator: data plane:
     ...`` lines. Each child has its own process group (stopped as one: SIGTERM, then
     SIGKILL after 3 s), is stopped at exit (atexit, so on SIGTERM/SIGINT too) and gets
     PR_SET_PDEATHSIG=SIGKILL, so it dies with a SIGKILLed emulator too (it is forked from
     one long-lived thread: the signal follows the forking thread, not the process).
   - Forwarding: to ``http://127.0.0.1:<port>`` + ``/mcp`` (protocol MCP), ``/invocations``
     (HTTP, AWS's default) or ``/`` (A2A), the body as received, the client's headers
     except hop-by-hop ones, Host, Accept-Encoding and SigV4's X-Amz-*; Authorization and
     ``X-Amzn-Bedrock-AgentCore-Runtime-Custom-*`` headers only when the version's
     requestHeaderAllowlist names them. Added: X-Amzn-Bedrock-AgentCore-Runtime-Session-Id
     (the client's, else a new uuid4; a client's shorter than 33 characters -> 400
     ValidationException) and Mcp-Session-Id (the client's, else that session id). The
     answer streams back as it arrives (server-sent events event by event; werkzeug serves
     each request on its own thread) with the container's status, Content-Type,
     Content-Length, Cache-Control and Mcp-Protocol-Version, its Mcp-Session-Id (else the
     one sent), and the runtime session id.
   Deviations, by design: no container (no chroot, namespaces or image User: absolute
   paths the program opens are the host's, a ``#!`` script runs with the host's
   interpreter), and processes share the host's network on 127.0.0.1 and a free port where
   AWS has 0.0.0.0:8000 (MCP), 8080 (HTTP) or 9000 (A2A); one process serves every session
   (AWS: a microVM per session, and sessions opened before an update keep the old
   version); a process forked by the container survives a SIGKILLed emulator, and so does
   the temporary directory (until the next emulator to pull an image removes it).
   Sources: the AgentCore developer guide: MCP protocol contract (/mcp; Mcp-Session-Id
   added when absent and always returned; 401 with that WWW-Authenticate when Authorization
   is missing or empty; "SigV4-configured agents return HTTP 403 with an ACCESS_DENIED
   error and do not include WWW-Authenticate headers"), HTTP protocol contract (/invocations,
   /ping; its error table: x-amzn-ErrorType, 401 UnauthorizedException for OAuth agents, 403
   AccessDeniedException, 404 ResourceNotFoundException, 409 ConflictException and
   RetryableConflictException, 424 RuntimeClientError), A2A protocol contract (/), and
   "Troubleshoot AgentCore Runtime" (the MMDSv2 ValidationException; HTTP 424 when a
   container fails to start; RuntimeClientError "... Please check your CloudWatch logs for
   more information"); the service model of bedrock-agentcore in botocore 1.44 (the errors
   InvokeAgentRuntime declares and their statuses; its headers); the mismatch message as
   AWS returns it, quoted in aws/agentcore-cli issues #714 and #814 and PR #1647. The 401
   for a client, audience or scope that does not match, and its "Claim '...' value mismatch
   with configuration." wording, come from users' reports of the runtime's behaviour in
   public projects (some observe 403 for the same failure at an AgentCore Gateway), as does
   "any one of allowedScopes".
   Not confirmed (the emulator's choice): the messages of the other 401s (missing,
   malformed, tampered, expired token) and whether they carry the challenge; the statuses
   for a runtime or endpoint that is not READY; the message of a missing SigV4 signature;
   the order of the checks; the PRM document's members; a version number as qualifier.
   Known differences: on the MCP, A2A and AG-UI protocols AWS wraps errors in the
   protocol's envelope (JSON-RPC), not reproduced here (plain REST-JSON, as the AWS SDKs
   see the HTTP protocol); AWS answers a container's 4xx/5xx with 424 RuntimeClientError
   "Received error (<status>) from runtime..." on the HTTP protocol, while this passes the
   container's status and body through (an MCP client meets e.g. the server's 405 for GET
   /mcp); the MCP contract does not require /ping, this does; one report says AgentCore
   refuses tokens that expire within the next minute, this compares ``exp`` to now;
   customClaims are not evaluated.
13. Create calls that take a while, so that two clients racing to create the same resource
   meet as they would on AWS (tests of two ``infra apply`` at once). With
   EMULATOR_CREATE_DELAY_MS=N (default 0; also the ``create_delay_ms`` setting of item 11),
   CreateUserPool, CreateUserPoolClient, AdminCreateUser, CreateRole, CreateRepository,
   CreateSecret and CreateAgentRuntime take effect N ms after they arrive: until then,
   another client's read still finds nothing, and its own create is in flight too. After
   the delay, each create's existence check and insert run as one step (one lock for all
   of them), so names that AWS keeps unique stay unique (EntityAlreadyExists,
   RepositoryAlreadyExistsException, ResourceExistsException, ConflictException,
   UsernameExistsException) and item 4's ``clientToken`` check sees the first create;
   pools and app clients, whose names AWS does not keep unique, are created twice. moto
   checks and inserts in one Python call without a lock, so two creates arriving together
   could both pass the check. Creation dates are taken when the create takes effect.
14. Refused credentials answer in the protocol of the service. With
   INITIAL_NO_AUTH_ACTION_COUNT=0, moto checks access keys and signatures, but answers every
   service with a query-protocol XML ``<ErrorResponse>`` (HTTP 403), which the AWS SDKs
   cannot parse for JSON-protocol services (the Rust SDK reports an "unhandled error" and
   JavaScript "unexpected token '<'"). For requests in a JSON protocol (an ``X-Amz-Target``
   header or an ``application/x-amz-json-*`` / ``application/json`` body: Cognito, ECR,
   Secrets Manager; REST-JSON: a SigV4 scope of ``bedrock-agentcore``), such an answer
   becomes AWS's JSON error: ``InvalidClientTokenId`` -> ``UnrecognizedClientException``
   "The security token included in the request is invalid.", ``SignatureDoesNotMatch`` ->
   ``InvalidSignatureException`` (same message), ``AccessDenied`` ->
   ``AccessDeniedException`` (same message), as ``{"__type": ..., "message": ...}`` with
   ``X-Amzn-ErrorType``; HTTP 400 for awsJson services, 403 for REST-JSON. Query-protocol
   services (IAM, STS) keep XML and moto's code (``InvalidClientTokenId``, HTTP 403), in
   AWS's shape: ``<ErrorResponse xmlns=...><Error><Type>Sender</Type><Code>..</Code>
   <Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>``, which the Rust
   SDK requires (moto wraps ``<Error>`` in ``<Errors>`` as EC2 does, and the Rust SDK then
   reports an "unhandled error" for IAM and STS too). Sources: Cognito's answer to an unknown key, ``400 Bad Request``
   ``{"__type":"UnrecognizedClientException","message":"The security token included in the
   request is invalid."}``, quoted in aws/aws-sdk-php issue #2444 and
   ArranJacques/laravel-aws-cognito-auth issue #25; a REST-JSON service (Lambda) answering
   ``StatusCode: 403 ... UnrecognizedClientException`` in iann0036/iamlive issue #58 and
   ``InvalidSignatureException`` in aws/aws-sdk-js issue #168; the JSON body of
   ``InvalidSignatureException`` in smithy545/aws-apps-scripts issue #12; the query
   protocol's ``InvalidClientTokenId`` HTTP 403 in the IAM API reference, "Common Errors",
   and STS's whole answer (``text/xml``, HTTP 403) in aws-azure-login/aws-azure-login issue
   #251.
15. App clients have ``CreationDate`` and ``LastModifiedDate`` (set at create, and the latter
   at each UpdateUserPoolClient) in CreateUserPoolClient, DescribeUserPoolClient and
   UpdateUserPoolClient, as AWS's UserPoolClientType has them; moto has neither (its pools
   have both). ListUserPoolClients stays without them, as on AWS (UserPoolClientDescription).
   Two applies at once keep the older of two same-named clients by this date.
16. CreateUserPool does not stall every other call. moto signs every pool's tokens with the
   same key (item 12) but imports it again for each new pool: 100-180 ms of RSA arithmetic
   under Python's GIL, during which no call to any service is served. AWS serves each
   service's calls independently, so an apply creating a pool beside a role, a repository
   and a secret would look slower than it is (the benchmark in infra/benches/deploy.rs
   measures it). The launcher imports that key once and hands every pool the same object.
17. PutImageScanningConfiguration with ``"imageScanningConfiguration": {}`` turns scanOnPush
   off, as AWS does. ``scanOnPush`` is a boolean whose default is false in ECR's Smithy model,
   so SDKs leave a false value out of the request (aws-sdk-ecr's generated serializer,
   ``protocol_serde/shape_image_scanning_configuration.rs``, writes it only when true; Smithy's
   ``@default`` trait lets clients omit a member equal to its default, and the service then
   applies the default). moto ignored an empty configuration and kept scanning on.
18. The runtime's logs and its execution role, in the data plane (item 12). Each line a
   runtime process writes (stdout and stderr) is also an event in CloudWatch Logs, as
   AgentCore writes a container's output: group ``/aws/bedrock-agentcore/runtimes/<runtime
   id>-DEFAULT``, created when missing (untagged, never expiring: AgentCore makes it on the
   first invocation), one stream per process, ``YYYY/MM/DD/[runtime-logs]<uuid>``, each event
   stamped with the time the line was written. Written into moto's backend in process, so
   moto's recorder does not see them (FilterLogEvents and the other reads do). Sources: the
   AgentCore developer guide, "View observability data for Amazon Bedrock AgentCore
   Runtime" (the group's name; created on first use); the stream's name is the emulator's
   choice after what the console shows. Each process gets an access key id of its own
   (``ASIA`` + 16 characters) standing for its execution role's credentials from MMDS; with
   the setting ``{"deny_secret_read": true}`` (item 11) a ``secretsmanager.GetSecretValue``
   signed with such a key is refused as IAM refuses a role without the grant: HTTP 400
   ``AccessDeniedException`` "User: arn:aws:sts::ACCOUNT:assumed-role/ROLE/runtime-session
   is not authorized to perform: secretsmanager:GetSecretValue on resource: SECRET because no
   identity-based policy allows the secretsmanager:GetSecretValue action" (Secrets Manager
   API reference, GetSecretValue errors and Common Errors; IAM's message format). Other
   callers (infra, tests) are never refused by it.
19. FilterLogEvents always interleaves the events of a group's streams by time. AWS's API
   reference (FilterLogEvents, ``interleaved``): "Starting on June 17, 2019, this parameter is
   ignored and the value is assumed to be true. The response from this operation always
   interleaves events from multiple log streams within a log group." moto interleaves only
   when the request sends ``interleaved: true`` (the SDKs do not), else returns each
   stream's events one stream after the other.
20. The Resource Groups Tagging API (GetResources) finds Cognito user pools and ECR
   repositories by their tags (resource types ``cognito-idp:userpool`` and
   ``ecr:repository``), as AWS's does: the API reference's list of supported resource types
   names both. moto's tagging API knows secrets and log groups but neither of these; infra's
   plan searches it for what is tagged for the stack and no longer declared.
21. Versions. ListAgentRuntimeVersions answers AWS's shape: ``agentRuntimes`` (the member
   name in the service model of aws-sdk-bedrockagentcorecontrol 1.97 and botocore), each an
   AgentRuntime summary (agentRuntimeArn, agentRuntimeId, agentRuntimeVersion,
   agentRuntimeName, description, lastUpdatedAt, status), newest first, paginated with
   ``maxResults`` (1-100) and ``nextToken``; a version's status is its own (READY once made,
   or CREATE_FAILED / UPDATE_FAILED), where moto froze each one at CREATING / UPDATING and
   returned every version at once. GetAgentRuntime takes the ``version`` query parameter
   (``agentRuntimeVersion`` in the API reference of GetAgentRuntime) and answers that
   version's configuration (artifact, role, network, protocol, lifecycle, description,
   environment, authorizer, request headers), status and lastUpdatedAt; an unknown version
   is ResourceNotFoundException. moto ignored the parameter and answered the latest.
   ListAgentRuntimeEndpoints' summaries carry ``liveVersion`` and ``targetVersion``, as
   AWS's AgentRuntimeEndpoint shape has them (moto left both out).
22. A runtime that failed to create (CREATE_FAILED). AWS does not document whether
   UpdateAgentRuntime accepts one (the Terraform provider replaces it). The
   ``update_failed_runtime`` setting (item 11) chooses: ``"refuse"`` (the default) answers
   UpdateAgentRuntime on a CREATE_FAILED runtime with ConflictException (HTTP 409, "...
   is in CREATE_FAILED state and cannot be updated; delete it and create it again"), the
   error AWS's model declares for a resource whose state forbids the call; ``"allow"``
   updates it like any runtime (a new version, READY).
23. The DEFAULT endpoint may appear after the runtime: with the ``default_endpoint_delay_s``
   setting (item 11; default 0), a new runtime's DEFAULT endpoint is not found
   (GetAgentRuntimeEndpoint ResourceNotFoundException, absent from
   ListAgentRuntimeEndpoints) for that many seconds after CreateAgentRuntime, while the
   runtime itself already reads READY. AWS creates the endpoint asynchronously with the
   runtime (developer guide, "versioning and endpoints"), so a client must not take its
   absence right after a create for a deleted runtime.
24. An image put with PutImage (no digest given) has the digest of its manifest's bytes, as
   ECR's has ("imageDigest: The sha256 digest of the image manifest", ECR API reference,
   ImageIdentifier). moto hashed the manifest's layer digests joined, so two manifests without
   layers (or with the same layers) got the same digest and one image's tags covered the other.
"""

from __future__ import annotations

import collections
import copy
import functools
import hashlib
import html
import io
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from typing import Any, Callable

import moto.server
from moto.bedrockagentcorecontrol import exceptions as bac_exceptions
from moto.bedrockagentcorecontrol import models as bac_models
from moto.bedrockagentcorecontrol import responses as bac_responses
from moto.cognitoidp import models as cognito_models
from moto.ecr import models as ecr_models
from moto.core.resource_tagging import TaggableResourcesMixin, TaggedResource
from moto.logs import models as logs_models
from moto.core.utils import utcnow
from moto.utilities.utils import get_partition
from werkzeug import serving

import emulator_dataplane

AGENT_RUNTIME_NAME_PATTERN = "[a-zA-Z][a-zA-Z0-9_]{0,47}"
_NAME_RE = re.compile(AGENT_RUNTIME_NAME_PATTERN)
CONTROL_PREFIX = "/_emulator/"
FAIL_NEXT_PATH = "/_emulator/agentcore/fail-next"
SETTINGS_PATH = "/_emulator/settings"
# Item 11's first name, when it only had AgentCore settings.
AGENTCORE_SETTINGS_PATH = "/_emulator/agentcore/settings"
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
    # Item 12: where images named by an ECR host are pulled from ("" = nowhere).
    "ecr_registry": os.environ.get("EMULATOR_ECR_REGISTRY", ""),
    # Item 13: how long a create takes to take effect.
    "create_delay_ms": int(os.environ.get("EMULATOR_CREATE_DELAY_MS", "0")),
    # Item 18: runtime processes may not read secrets (their role lost the grant).
    "deny_secret_read": False,
    # Item 22: whether UpdateAgentRuntime accepts a runtime that failed to create.
    "update_failed_runtime": "refuse",
    # Item 23: how long a new runtime's DEFAULT endpoint stays not found.
    "default_endpoint_delay_s": 0,
}
_settings_lock = threading.Lock()


def _setting(name: str) -> Any:
    with _settings_lock:
        return _settings[name]


# Item 12: the data plane (its processes outlive requests, so there is one per emulator).
_dataplane = emulator_dataplane.DataPlane(_setting)


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


def _snapshot_config(runtime: Any) -> None:
    """Item 12: what the data plane needs of the runtime's current version, kept per version
    (an endpoint may serve an older version than the runtime's latest)."""
    runtime._emulator_configs[str(runtime.agent_runtime_version)] = copy.deepcopy(
        {
            "artifact": runtime.agent_runtime_artifact,
            "environment": runtime.environment_variables,
            "authorizer": runtime.authorizer_configuration,
            "request_headers": runtime.request_header_configuration,
            "protocol": runtime.protocol_configuration,
            # Item 21: the rest of the version, for GetAgentRuntime with a version.
            "role_arn": runtime.role_arn,
            "network": runtime.network_configuration,
            "lifecycle": runtime.lifecycle_configuration,
            "description": runtime.description,
            "last_updated_at": runtime.last_updated_at,
        }
    )


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
        self._emulator_configs = {}
        _snapshot_config(self)

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


@_wrap(Backend, "delete_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_agent_runtime(self: Any, *args: Any, **kwargs: Any) -> Any:
        runtime = original(self, *args, **kwargs)
        _dataplane.stop_runtime(runtime.agent_runtime_id)  # item 12
        return runtime

    return delete_agent_runtime


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


# Item 17: an empty scanning configuration is scanOnPush = false.
@_wrap(ecr_models.ECRBackend, "put_image_scanning_configuration")
def _(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def put(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("image_scan_config")
        if isinstance(config, dict):
            scan = bool(config.get("scanOnPush", False))
            kwargs["image_scan_config"] = {**config, "scanOnPush": scan}
        return original(self, *args, **kwargs)

    return put


# Item 16: the key every pool signs with, imported once. Only moto's Cognito models see the
# cache: their module-level `jwk` is replaced by a view of joserfc.jwk whose RSAKey imports
# each key document once.
class _RsaKeyImportedOnce:
    _keys: dict[str, Any] = {}

    @classmethod
    def import_key(cls, value: Any, *args: Any, **kwargs: Any) -> Any:
        rsa_key = _joserfc_jwk.RSAKey
        if args or kwargs or not isinstance(value, dict):
            return rsa_key.import_key(value, *args, **kwargs)
        cache_key = json.dumps(value, sort_keys=True)
        if cache_key not in cls._keys:
            cls._keys[cache_key] = rsa_key.import_key(value)
        return cls._keys[cache_key]


class _JwkWithKeysImportedOnce:
    RSAKey = _RsaKeyImportedOnce

    def __getattr__(self, name: str) -> Any:
        return getattr(_joserfc_jwk, name)


_joserfc_jwk = cognito_models.jwk
cognito_models.jwk = _JwkWithKeysImportedOnce()

# Item 15: app clients' dates.
UserPoolClient = cognito_models.CognitoIdpUserPoolClient


def _pools_tagged(self: Any) -> Any:
    """Item 20: every user pool, with its tags, for the Resource Groups Tagging API."""
    for pool in list(self.user_pools.values()):
        yield TaggedResource(
            arn=pool.arn,
            tags=dict(pool.extended_config.get("UserPoolTags") or {}),
            resource_type="cognito-idp:userpool",
        )


@_wrap(ecr_models.Image, "_create_digest")
def _(original: Callable[..., None]) -> Callable[..., None]:
    def _create_digest(self: Any) -> None:
        # Item 24: the digest of the manifest's bytes.
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode()).hexdigest()

    return _create_digest


def _repositories_tagged(self: Any) -> Any:
    """Item 20: every ECR repository, with its tags, for the Resource Groups Tagging API."""
    for repository in list(self.repositories.values()):
        yield TaggedResource(
            arn=repository.arn,
            tags=self.tagger.get_tag_dict_for_resource(repository.arn),
            resource_type="ecr:repository",
        )


def _taggable(backend: Any, namespace: str, resources: Callable[..., Any]) -> None:
    """Item 20: make a moto backend answer the Resource Groups Tagging API."""
    backend.SERVICE_NAMESPACE = namespace
    backend.iter_tagged_resources = resources
    if TaggableResourcesMixin not in backend.__mro__:
        backend.__bases__ = (TaggableResourcesMixin,) + backend.__bases__


_taggable(cognito_models.CognitoIdpBackend, "cognito-idp", _pools_tagged)
_taggable(ecr_models.ECRBackend, "ecr", _repositories_tagged)


@_wrap(UserPoolClient, "__init__")
def _(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._emulator_created = self._emulator_modified = utcnow()

    return __init__


@_wrap(UserPoolClient, "to_json")
def _(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def to_json(self: Any, extended: bool = False) -> dict[str, Any]:
        body = original(self, extended)
        if extended and hasattr(self, "_emulator_created"):
            body["CreationDate"] = self._emulator_created
            body["LastModifiedDate"] = self._emulator_modified
        return body

    return to_json


@_wrap(cognito_models.CognitoIdpBackend, "update_user_pool_client")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_user_pool_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client._emulator_modified = utcnow()
        return client

    return update_user_pool_client


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
            _snapshot_config(runtime)
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
# Item 19: FilterLogEvents interleaves the group's streams
# --------------------------------------------------------------------------


@_wrap(logs_models.LogsBackend, "filter_log_events")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def filter_log_events(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The last positional parameter (moto 5.2.5): ``interleaved``.
        if "interleaved" in kwargs:
            kwargs["interleaved"] = True
        elif len(args) == 8:
            args = (*args[:7], True)
        return original(self, *args, **kwargs)

    return filter_log_events
# Items 21-23: versions, a runtime that failed to create, a DEFAULT endpoint made later
# --------------------------------------------------------------------------


@_wrap(AgentRuntime, "update")
def _(original: Callable[..., None]) -> Callable[..., None]:
    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        # Item 21: the version being replaced keeps the status it ended with.
        statuses = getattr(self, "_emulator_version_status", {})
        statuses[str(self.agent_runtime_version)] = self.status
        self._emulator_version_status = statuses
        original(self, *args, **kwargs)

    return update


def _version_status(runtime: Any, version: str) -> str:
    """Item 21: a version's own status: the latest's is the runtime's."""
    if str(version) == str(runtime.agent_runtime_version):
        return runtime.status
    return getattr(runtime, "_emulator_version_status", {}).get(str(version), "READY")


@_wrap(Response, "list_agent_runtime_versions")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def list_agent_runtime_versions(self: Any) -> Any:
        runtime = self.backend._get_runtime(self._get_param("agentRuntimeId"))
        runtime.advance()
        raw_max = self.querystring.get("maxResults", [None])[0]
        token = self.querystring.get("nextToken", [None])[0]
        try:
            size = 100 if raw_max is None else int(raw_max)
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            raise ValidationException(
                f"1 validation error detected: Value '{raw_max}' at 'maxResults' failed to "
                "satisfy constraint: Member must have value between 1 and 100",
                reason="FieldValidationFailed",
                field="maxResults",
            )
        start = 0
        if token is not None:
            if not re.fullmatch(r"v[0-9]+", token):
                raise ValidationException(
                    "Invalid nextToken", reason="FieldValidationFailed", field="nextToken"
                )
            start = int(token[1:])
        summaries = [
            {**v, "status": _version_status(runtime, v["agentRuntimeVersion"])}
            for v in reversed(runtime.versions)
        ]
        page = summaries[start : start + size]
        body: dict[str, Any] = {"agentRuntimes": page}
        if start + size < len(summaries):
            body["nextToken"] = f"v{start + size}"
        return bac_responses.ActionResult(body)

    return list_agent_runtime_versions


@_wrap(Response, "get_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_agent_runtime(self: Any) -> Any:
        version = self.querystring.get("version", [None])[0]
        result = original(self)
        if version is None:
            return result
        body = result.result
        runtime = self.backend.agent_runtimes.get(body.get("agentRuntimeId"))
        config = getattr(runtime, "_emulator_configs", {}).get(str(version))
        if runtime is None or config is None:
            raise bac_exceptions.ResourceNotFoundException(
                f"Could not find version {version} of Agent Runtime {body.get('agentRuntimeId')}"
            )
        if str(version) == str(runtime.agent_runtime_version):
            return result
        body.update(
            {
                "agentRuntimeVersion": str(version),
                "agentRuntimeArtifact": config["artifact"],
                "roleArn": config["role_arn"],
                "networkConfiguration": config["network"],
                "lifecycleConfiguration": config["lifecycle"],
                "description": config["description"],
                "lastUpdatedAt": config["last_updated_at"],
                "status": _version_status(runtime, str(version)),
            }
        )
        for member, key in (
            ("protocolConfiguration", "protocol"),
            ("environmentVariables", "environment"),
            ("authorizerConfiguration", "authorizer"),
            ("requestHeaderConfiguration", "request_headers"),
        ):
            body.pop(member, None)
            if config[key]:
                body[member] = config[key]
        body.pop("failureReason", None)
        return result

    return get_agent_runtime


@_wrap(Backend, "update_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_agent_runtime(self: Any, *args: Any, **kwargs: Any) -> Any:
        rid = kwargs["agent_runtime_id"] if "agent_runtime_id" in kwargs else args[0]
        runtime = self._get_runtime(rid)
        if runtime.status == "CREATE_FAILED" and _setting("update_failed_runtime") == "refuse":
            raise bac_exceptions.ConflictException(
                f"Agent runtime {rid} is in CREATE_FAILED state and cannot be updated; "
                "delete it and create it again"
            )
        return original(self, *args, **kwargs)

    return update_agent_runtime


@_wrap(Backend, "create_agent_runtime")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_agent_runtime(self: Any, *args: Any, **kwargs: Any) -> Any:
        runtime = original(self, *args, **kwargs)
        runtime._emulator_default_at = time.time() + _setting("default_endpoint_delay_s")
        return runtime

    return create_agent_runtime


def _default_hidden(backend: Any, runtime_id: str, name: str) -> bool:
    """Item 23: a new runtime's DEFAULT endpoint, not made yet."""
    runtime = backend.agent_runtimes.get(runtime_id)
    return (
        name == "DEFAULT"
        and runtime is not None
        and time.time() < getattr(runtime, "_emulator_default_at", 0)
    )


@_wrap(Backend, "get_agent_runtime_endpoint")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_agent_runtime_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        rid = kwargs["agent_runtime_id"] if "agent_runtime_id" in kwargs else args[0]
        name = kwargs["endpoint_name"] if "endpoint_name" in kwargs else args[1]
        if _default_hidden(self, rid, name):
            raise bac_exceptions.ResourceNotFoundException(
                f"Could not find endpoint {name} for Agent Runtime {rid}"
            )
        return original(self, *args, **kwargs)

    return get_agent_runtime_endpoint


@_wrap(Response, "list_agent_runtime_endpoints")
def _(original: Callable[..., Any]) -> Callable[..., Any]:
    def list_agent_runtime_endpoints(self: Any) -> Any:
        result = original(self)
        rid = self._get_param("agentRuntimeId")
        summaries = []
        for summary in result.result.get("runtimeEndpoints", []):
            name = summary.get("name")
            if _default_hidden(self.backend, rid, name):
                continue
            endpoint = self.backend.agent_runtime_endpoints.get((rid, name))
            if endpoint is not None:
                summary["liveVersion"] = endpoint.live_version
                summary["targetVersion"] = endpoint.target_version
            summaries.append(summary)
        result.result["runtimeEndpoints"] = summaries
        return result

    return list_agent_runtime_endpoints


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


# --------------------------------------------------------------------------
# Item 13: creates that take effect later, one at a time
# --------------------------------------------------------------------------

# Operations named in X-Amz-Target (Cognito, ECR, Secrets Manager).
JSON_CREATES = {
    "CreateUserPool",
    "CreateUserPoolClient",
    "AdminCreateUser",
    "CreateRepository",
    "CreateSecret",
}
_create_lock = threading.Lock()


def _create_operation(environ: dict[str, Any]) -> str | None:
    """The create operation a request is, for item 13; None for anything else."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        operation = target.rsplit(".", 1)[-1]
        return operation if operation in JSON_CREATES else None
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "").rstrip("/")
    if method == "PUT" and path == "/runtimes":
        return "CreateAgentRuntime"
    content_type = environ.get("CONTENT_TYPE", "")
    if method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        # Query protocol (IAM): the action is in the form body; read it and put it back.
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= 0:
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
        if form.get("Action") == ["CreateRole"]:
            return "CreateRole"
    return None


def _materialized(app: Any, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Run the app to the end of its body (so a lock held around it covers the whole call)."""
    body = app(environ, start_response)
    try:
        return [b"".join(body)]
    finally:
        if hasattr(body, "close"):
            body.close()


# --------------------------------------------------------------------------
# Item 14: refused credentials, in the protocol of the service
# --------------------------------------------------------------------------

# SigV4 scopes of REST-JSON services (no X-Amz-Target, often no body).
REST_JSON_SCOPES = {"bedrock-agentcore"}
_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# moto's query-protocol code -> the JSON protocols' code (the message stays moto's).
JSON_AUTH_CODES = {
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "AccessDenied": "AccessDeniedException",
}
_XML_ERROR_RE = re.compile(
    rb"<ErrorResponse>.*?<Code>([^<]+)</Code>.*?<Message>([^<]*)</Message>", re.S
)


# The XML namespace of query-protocol errors, by SigV4 scope.
QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}


def _protocol(environ: dict[str, Any]) -> str | None:
    """'json' (awsJson), 'rest-json', 'query', or None (REST-XML, other) for a request."""
    content_type = environ.get("CONTENT_TYPE", "")
    if environ.get("HTTP_X_AMZ_TARGET") or content_type.startswith("application/x-amz-json"):
        return "json"
    scope = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if (scope and scope.group(1) in REST_JSON_SCOPES) or content_type.startswith(
        "application/json"
    ):
        return "rest-json"
    if scope and scope.group(1) in QUERY_NAMESPACES:
        return "query"
    return None


def _auth_errors(app: Any, environ: dict[str, Any], start_response: Any) -> Any:
    """moto's answer to refused credentials, as the error AWS sends in the request's protocol."""
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.update(status=status, headers=headers, exc_info=exc_info)
        return lambda data: None  # the legacy write() callable; moto's app does not use it

    body = app(environ, capture)
    status = captured.get("status", "500 Internal Server Error")
    if not status.startswith(("400", "401", "403")):
        start_response(status, captured.get("headers", []), captured.get("exc_info"))
        return body
    try:
        raw = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    match = _XML_ERROR_RE.search(raw)
    code = match and JSON_AUTH_CODES.get(match.group(1).decode())
    if not code:
        start_response(status, captured.get("headers", []), captured.get("exc_info"))
        return [raw]
    protocol = _protocol(environ)
    if protocol == "query":
        # AWS's shape (<Error> directly in <ErrorResponse>, then <RequestId>), which the Rust
        # SDK requires; moto wraps <Error> in <Errors>, as EC2 does.
        scope = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
        namespace = QUERY_NAMESPACES[scope.group(1)] if scope else ""
        payload = (
            f'<ErrorResponse xmlns="{namespace}">\n  <Error>\n    <Type>Sender</Type>\n'
            f"    <Code>{match.group(1).decode()}</Code>\n"
            f"    <Message>{match.group(2).decode()}</Message>\n  </Error>\n"
            f"  <RequestId>{uuid.uuid4()}</RequestId>\n</ErrorResponse>\n"
        ).encode()
        start_response(
            status,
            [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))],
        )
        return [payload]
    message = html.unescape(match.group(2).decode())
    payload = json.dumps({"__type": code, "message": message}).encode()
    rest_json = protocol == "rest-json"
    start_response(
        "403 Forbidden" if rest_json else "400 Bad Request",
        [
            ("Content-Type", "application/json" if rest_json else "application/x-amz-json-1.1"),
            ("Content-Length", str(len(payload))),
            ("X-Amzn-ErrorType", code),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [payload]


class EmulatorMiddleware:
    """Serves /_emulator/* and the AgentCore data plane itself; everything else goes to
    moto's app."""

    def __init__(self, app: Any):
        self.app = app
        # EMULATOR_LATENCY_MS: added to every AWS call, to stand in for the network round trip
        # to a real AWS endpoint (benchmarks of concurrent reads; 0 by default).
        self.latency = float(os.environ.get("EMULATOR_LATENCY_MS", "0")) / 1000.0
        self.dataplane = _dataplane

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(CONTROL_PREFIX):
            return self._control(path, method, environ, start_response)
        # Item 12: not a control-plane call, so neither recorded nor delayed.
        if self.dataplane.handles(method, path):
            return self.dataplane(environ, start_response)
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            _clear_arms()
            self.dataplane.stop_all()
        if self.latency and not path.startswith("/moto-api"):
            time.sleep(self.latency)
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        # Item 18: a runtime's role without its grant.
        refused = self.dataplane.role_refusal(environ, start_response)
        if refused is not None:
            return refused
        # Item 14: refused credentials in the service's protocol.
        app = functools.partial(_auth_errors, self.app) if _protocol(environ) else self.app
        operation = _create_operation(environ)
        if operation is None:
            return app(environ, start_response)
        # Item 13: the create takes effect later; its check and insert are one step.
        delay = _setting("create_delay_ms")
        if delay > 0:
            time.sleep(delay / 1000.0)
        with _create_lock:
            return _materialized(app, environ, start_response)

    def _control(
        self, path: str, method: str, environ: dict[str, Any], start_response: Any
    ) -> list[bytes]:
        route = path.rstrip("/")
        if route not in (FAIL_NEXT_PATH, SETTINGS_PATH, AGENTCORE_SETTINGS_PATH):
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
        if route in (SETTINGS_PATH, AGENTCORE_SETTINGS_PATH):
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
        kinds = {
            "mmdsv2_on_create": bool,
            "endpoint_lag_polls": int,
            "ecr_registry": str,
            "create_delay_ms": int,
            "deny_secret_read": bool,
            "update_failed_runtime": str,
            "default_endpoint_delay_s": int,
        }
        if not isinstance(payload, dict) or not set(payload) <= set(kinds):
            return _json_response(
                start_response,
                "400 Bad Request",
                {"error": f"an object with any of {sorted(kinds)}"},
            )
        for key, value in payload.items():
            if (
                type(value) is not kinds[key]
                or (key in ("endpoint_lag_polls", "create_delay_ms") and value < 0)
                or (key == "ecr_registry" and value and not re.match(r"https?://", value))
                or (key == "update_failed_runtime" and value not in ("allow", "refuse"))
                or (key == "default_endpoint_delay_s" and value < 0)
            ):
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
