"""Checks scripts/emulator.py end to end over HTTP on a free loopback port.

Run: .venv/bin/python scripts/test_emulator.py   (exit code 0 on success)
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from http.client import HTTPConnection
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from moto.utilities.utils import load_resource

HERE = Path(__file__).resolve().parent
REGION = "us-west-2"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/agentcore-runtime"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/x@sha256:" + "ab" * 32
ARTIFACT = {"containerConfiguration": {"containerUri": IMAGE}}
NETWORK = {"networkMode": "PUBLIC"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, **extra_env: str) -> subprocess.Popen:
    env = dict(os.environ, MOTO_ENABLE_RECORDING="True")
    for k in list(env):
        if k.startswith(("AWS_", "EMULATOR_")) or k.endswith("_PROXY") or k.endswith("_proxy"):
            env.pop(k)
    env.update(extra_env)
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "emulator.py"), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"emulator exited early: {proc.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("emulator did not start listening")


def http(base: str, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def client(base: str, service: str):
    return boto3.client(
        service,
        endpoint_url=base,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, proxies={}),
    )


def expect_error(fn, code: str, status: int, **kwargs) -> ClientError:
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert got == code, f"expected {code}, got {got}: {e}"
        assert got_status == status, f"expected HTTP {status}, got {got_status}"
        return e
    raise AssertionError(f"expected {code}, call succeeded")


def check(base: str) -> None:
    ac = client(base, "bedrock-agentcore-control")

    def create(name: str, **extra):
        return ac.create_agent_runtime(
            agentRuntimeName=name,
            agentRuntimeArtifact=ARTIFACT,
            roleArn=ROLE_ARN,
            networkConfiguration=NETWORK,
            **extra,
        )

    def update(rid: str, **extra):
        return ac.update_agent_runtime(
            agentRuntimeId=rid,
            agentRuntimeArtifact=ARTIFACT,
            roleArn=ROLE_ARN,
            networkConfiguration=NETWORK,
            **extra,
        )

    # create -> READY, stable AWS-shaped ARN, tags at create
    c = create("svc_one", tags={"team": "a"})
    rid, arn = c["agentRuntimeId"], c["agentRuntimeArn"]
    assert c["status"] == "CREATING", c["status"]
    assert arn == f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/{rid}", arn
    assert c["agentRuntimeVersion"] == "1"
    g = ac.get_agent_runtime(agentRuntimeId=rid)
    assert g["status"] == "READY", g["status"]
    assert g["agentRuntimeArn"] == arn
    assert "failureReason" not in g
    assert ac.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}

    # update -> UPDATING, then READY, version 2, same ARN
    u = update(rid, description="second")
    assert u["status"] == "UPDATING", u["status"]
    assert u["agentRuntimeArn"] == arn, u["agentRuntimeArn"]
    assert u["agentRuntimeVersion"] == "2"
    g = ac.get_agent_runtime(agentRuntimeId=rid)
    assert g["status"] == "READY", g["status"]
    assert g["agentRuntimeVersion"] == "2"
    assert g["agentRuntimeArn"] == arn
    assert g["description"] == "second"
    versions = ac.list_agent_runtime_versions(agentRuntimeId=rid)["agentRuntimes"]
    assert sorted(v["agentRuntimeVersion"] for v in versions) == ["1", "2"], versions
    assert all(v["agentRuntimeArn"] == arn for v in versions), versions
    update(rid)
    g = ac.get_agent_runtime(agentRuntimeId=rid)
    assert (g["status"], g["agentRuntimeVersion"], g["agentRuntimeArn"]) == ("READY", "3", arn)

    # item 9: DEFAULT is created with the runtime and serves a new version only some polls
    # after an update, while the runtime already reads READY; a failed update leaves it alone
    settings = "/_emulator/agentcore/settings"
    assert http(base, "POST", settings, {"endpoint_lag_polls": 2})[0] == 200
    did = create("svc_default")["agentRuntimeId"]

    def default():
        e = ac.get_agent_runtime_endpoint(agentRuntimeId=did, endpointName="DEFAULT")
        return (e["status"], e["liveVersion"], e["targetVersion"])

    assert default() == ("READY", "1", "1"), default()
    update(did)
    assert ac.get_agent_runtime(agentRuntimeId=did)["status"] == "READY"
    seen = [default() for _ in range(3)]
    assert seen == [("UPDATING", "1", "2"), ("UPDATING", "1", "2"), ("READY", "2", "2")], seen
    http(base, "POST", "/_emulator/agentcore/fail-next", {"reason": "bad image"})
    update(did)
    assert ac.get_agent_runtime(agentRuntimeId=did)["status"] == "UPDATE_FAILED"
    assert default() == ("READY", "2", "2"), default()

    # item 8: MMDSv2 is on for new runtimes and cannot be turned off; an older runtime (off)
    # is turned on by an update
    assert ac.get_agent_runtime(agentRuntimeId=did)["metadataConfiguration"] == {"requireMMDSV2": True}
    expect_error(update, "ValidationException", 400, rid=did, metadataConfiguration={"requireMMDSV2": False})
    assert http(base, "POST", settings, {"mmdsv2_on_create": False})[0] == 200
    old = create("svc_legacy")["agentRuntimeId"]
    assert ac.get_agent_runtime(agentRuntimeId=old)["metadataConfiguration"] == {"requireMMDSV2": False}
    update(old, metadataConfiguration={"requireMMDSV2": True})
    assert ac.get_agent_runtime(agentRuntimeId=old)["metadataConfiguration"] == {"requireMMDSV2": True}
    status, body = http(base, "POST", settings, {"mmdsv2_on_create": True})
    assert status == 200 and json.loads(body) == {"mmdsv2_on_create": True, "endpoint_lag_polls": 2, "ecr_registry": "", "create_delay_ms": 0, "deny_secret_read": False, "update_failed_runtime": "refuse", "default_endpoint_delay_s": 0}, body
    assert http(base, "POST", settings, {"endpoint_lag_polls": -1})[0] == 400
    assert http(base, "POST", settings, {"ecr_registry": "127.0.0.1:5000"})[0] == 400  # a URL
    assert http(base, "POST", settings, {"unknown": 1})[0] == 400

    # item 10: an update replaces the whole configuration; members moto does not store are kept
    fid = create(
        "svc_replace",
        description="kept?",
        environmentVariables={"A": "1"},
        filesystemConfigurations=[{"sessionStorage": {"mountPath": "/mnt/s"}}],
        platformVersion="2",
    )["agentRuntimeId"]
    g = ac.get_agent_runtime(agentRuntimeId=fid)
    assert g["filesystemConfigurations"] == [{"sessionStorage": {"mountPath": "/mnt/s"}}], g
    assert (g["platformVersion"], g["description"], g["environmentVariables"]) == ("2", "kept?", {"A": "1"})
    update(fid, allowedPorts=[{"port": 8080}])
    g = ac.get_agent_runtime(agentRuntimeId=fid)
    assert g["allowedPorts"] == [{"port": 8080}], g
    for gone in ("filesystemConfigurations", "platformVersion", "environmentVariables"):
        assert gone not in g, (gone, g)
    assert g.get("description", "") == "", g

    # tags by ARN survive updates
    ac.tag_resource(resourceArn=arn, tags={"env": "test"})
    assert ac.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a", "env": "test"}
    ac.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert ac.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test"}

    # ListAgentRuntimes summaries (what the Rust side reads)
    summaries = ac.list_agent_runtimes()["agentRuntimes"]
    mine = [s for s in summaries if s["agentRuntimeId"] == rid]
    assert len(mine) == 1, summaries
    s = mine[0]
    assert s["agentRuntimeName"] == "svc_one"
    assert s["agentRuntimeArn"] == arn
    assert s["agentRuntimeVersion"] == "3"
    assert s["status"] == "READY"

    # name validation
    for bad in ["1abc", "has-dash", "a" * 49, "sp ace", "_x"]:
        e = expect_error(create, "ValidationException", 400, name=bad)
        assert "[a-zA-Z][a-zA-Z0-9_]{0,47}" in e.response["Error"]["Message"], e
    create("a" * 48)  # longest valid name

    # duplicate name
    expect_error(create, "ConflictException", 409, name="svc_one")

    # clientToken idempotency
    token = uuid.uuid4().hex + "-retry"
    first = create("svc_token", clientToken=token)
    again = create("svc_token", clientToken=token)
    assert again["agentRuntimeId"] == first["agentRuntimeId"], (first, again)
    assert again["agentRuntimeArn"] == first["agentRuntimeArn"]
    e = expect_error(create, "ValidationException", 400, name="svc_token", clientToken=token, description="different")
    assert e.response.get("reason") == "IdempotentParameterMismatchException" or "client token" in e.response["Error"]["Message"], e.response
    expect_error(create, "ConflictException", 409, name="svc_token")  # fresh token
    names = [s["agentRuntimeName"] for s in ac.list_agent_runtimes()["agentRuntimes"]]
    assert names.count("svc_token") == 1, names

    # fail-next -> CREATE_FAILED with failureReason
    status, body = http(base, "POST", "/_emulator/agentcore/fail-next", {"reason": "image pull failed"})
    assert status == 200 and json.loads(body) == {"armed": True}, (status, body)
    # a rejected create does not consume the arm
    expect_error(create, "ValidationException", 400, name="-bad")
    f = create("svc_fail")
    assert f["status"] == "CREATING"
    g = ac.get_agent_runtime(agentRuntimeId=f["agentRuntimeId"])
    assert g["status"] == "CREATE_FAILED", g["status"]
    assert g["failureReason"] == "image pull failed", g
    assert g["agentRuntimeArn"].endswith(f":runtime/{f['agentRuntimeId']}")
    # one arm = one failure
    ok = create("svc_after_fail")
    g = ac.get_agent_runtime(agentRuntimeId=ok["agentRuntimeId"])
    assert g["status"] == "READY" and "failureReason" not in g, g

    # fail-next -> UPDATE_FAILED, then a clean update recovers
    status, _ = http(base, "POST", "/_emulator/agentcore/fail-next", {"reason": "health check timed out"})
    assert status == 200
    u = update(rid)
    assert u["status"] == "UPDATING" and u["agentRuntimeArn"] == arn
    g = ac.get_agent_runtime(agentRuntimeId=rid)
    assert g["status"] == "UPDATE_FAILED", g["status"]
    assert g["failureReason"] == "health check timed out"
    assert g["agentRuntimeArn"] == arn
    update(rid)
    g = ac.get_agent_runtime(agentRuntimeId=rid)
    assert g["status"] == "READY" and "failureReason" not in g, g

    # control route errors
    assert http(base, "GET", "/_emulator/agentcore/fail-next")[0] == 405
    assert http(base, "POST", "/_emulator/nope", {})[0] == 404

    # arms are dropped by moto's reset; reset clears state
    http(base, "POST", "/_emulator/agentcore/fail-next", {"reason": "stale"})
    assert http(base, "POST", "/moto-api/reset")[0] == 200
    assert ac.list_agent_runtimes()["agentRuntimes"] == []
    r = create("svc_after_reset")
    assert ac.get_agent_runtime(agentRuntimeId=r["agentRuntimeId"])["status"] == "READY"

    # recorder still records; the control route is not recorded
    assert http(base, "POST", "/moto-api/recorder/reset-recording")[0] == 200
    assert http(base, "POST", "/moto-api/recorder/start-recording")[0] == 200
    http(base, "POST", "/_emulator/agentcore/fail-next", {"reason": "recorded?"})
    create("svc_recorded")
    iam = client(base, "iam")
    iam.create_role(RoleName="emulator-check", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))
    assert http(base, "POST", "/moto-api/recorder/stop-recording")[0] == 200
    status, log = http(base, "GET", "/moto-api/recorder/download-recording")
    assert status == 200
    entries = [json.loads(line) for line in log.decode().splitlines() if line.strip()]
    assert len(entries) == 2, entries
    assert not any("_emulator" in json.dumps(e) for e in entries), entries

    # other services on the same port
    assert iam.get_role(RoleName="emulator-check")["Role"]["Arn"].endswith(":role/emulator-check")
    assert client(base, "sts").get_caller_identity()["Account"] == ACCOUNT
    pool = client(base, "cognito-idp").create_user_pool(PoolName="p", UserPoolTags={"a": "b"})
    assert pool["UserPool"]["Id"]
    repo = client(base, "ecr").create_repository(repositoryName="emulator-check")
    assert repo["repository"]["repositoryName"] == "emulator-check"

    # item 17: an empty scanning configuration (what SDKs send for scanOnPush = false) turns
    # scanning off
    ecr = client(base, "ecr")
    scanned = {"repositoryName": "scanned", "imageScanningConfiguration": {"scanOnPush": True}}
    ecr.create_repository(**scanned)
    ecr.put_image_scanning_configuration(repositoryName="scanned", imageScanningConfiguration={})
    described = ecr.describe_repositories(repositoryNames=["scanned"])["repositories"][0]
    assert described["imageScanningConfiguration"] == {"scanOnPush": False}, described
    ecr.put_image_scanning_configuration(**scanned)
    described = ecr.describe_repositories(repositoryNames=["scanned"])["repositories"][0]
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}, described

    # item 24: an image's digest is its manifest's sha256; two manifests, two digests
    manifests = [
        json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "size": n, "digest": "sha256:" + str(n) * 64}, "layers": []})
        for n in (1, 2)
    ]
    digests = [
        ecr.put_image(repositoryName="scanned", imageManifest=m, **tag)["image"]["imageId"]["imageDigest"]
        for m, tag in zip(manifests, ({"imageTag": "v1"}, {}))
    ]
    assert digests == ["sha256:" + hashlib.sha256(m.encode()).hexdigest() for m in manifests], digests
    # item 20: the Tagging API finds pools and repositories by tag
    tagging = client(base, "resourcegroupstaggingapi")
    ecr.tag_resource(resourceArn=repo["repository"]["repositoryArn"], tags=[{"Key": "a", "Value": "b"}])
    found = tagging.get_resources(TagFilters=[{"Key": "a", "Values": ["b"]}],
                                  ResourceTypeFilters=["cognito-idp:userpool", "ecr:repository"])
    arns = sorted(r["ResourceARN"] for r in found["ResourceTagMappingList"])
    assert arns == sorted([pool["UserPool"]["Arn"], repo["repository"]["repositoryArn"]]), arns

    # item 16: pools made one after another still sign tokens that moto's public JWKS verifies
    # (the key is imported once and shared)
    cognito = client(base, "cognito-idp")
    public = jwk_import_set(load_resource("cognitoidp/resources/jwks-public.json"))
    for name in ("signer-a", "signer-b"):
        pool_id = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName=name, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool_id, Username="u", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username="u", Password="Passw0rd!x", Permanent=True
        )
        token = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "u", "PASSWORD": "Passw0rd!x"},
        )["AuthenticationResult"]["AccessToken"]
        assert jwt.decode(token, public).claims["client_id"] == client_id

    # the armed create above still failed
    runtimes = {s["agentRuntimeName"]: s for s in ac.list_agent_runtimes()["agentRuntimes"]}
    assert runtimes["svc_recorded"]["status"] == "CREATE_FAILED", runtimes

    # delete
    ac.delete_agent_runtime(agentRuntimeId=r["agentRuntimeId"])
    expect_error(ac.get_agent_runtime, "ResourceNotFoundException", 404, agentRuntimeId=r["agentRuntimeId"])


# --------------------------------------------------------------------------
# Item 13: creates that take effect later, one at a time
# --------------------------------------------------------------------------


def together(*calls):
    """Run the calls at once (released by a barrier); each one's result or ClientError."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except ClientError as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def one_error(results, code: str):
    """Exactly one of two racing creates failed, with `code`; the other's result."""
    errors = [r for r in results if isinstance(r, ClientError)]
    assert len(errors) == 1, results
    assert errors[0].response["Error"]["Code"] == code, errors[0]
    return next(r for r in results if not isinstance(r, ClientError))


def check_versions(base: str) -> None:
    """Items 21-23: versions listed and read one by one, a runtime that failed to create, a
    DEFAULT endpoint made after the runtime."""
    ac = client(base, "bedrock-agentcore-control")
    settings = "/_emulator/settings"
    image = lambda n: f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/x@sha256:" + f"{n:02d}" * 32

    def artifact(n: int) -> dict:
        return {"containerConfiguration": {"containerUri": image(n)}}

    created = ac.create_agent_runtime(
        agentRuntimeName="svc_versions",
        agentRuntimeArtifact=artifact(1),
        roleArn=ROLE_ARN,
        networkConfiguration=NETWORK,
        environmentVariables={"V": "1"},
    )
    rid, arn = created["agentRuntimeId"], created["agentRuntimeArn"]
    for n in (2, 3):
        ac.update_agent_runtime(
            agentRuntimeId=rid,
            agentRuntimeArtifact=artifact(n),
            roleArn=ROLE_ARN,
            networkConfiguration=NETWORK,
            description=f"v{n}",
        )
    # item 21: newest first, AWS's summary members, each version's own status, paginated
    listed = ac.list_agent_runtime_versions(agentRuntimeId=rid)
    versions = listed["agentRuntimes"]
    assert [v["agentRuntimeVersion"] for v in versions] == ["3", "2", "1"], versions
    assert all(v["status"] == "READY" for v in versions), versions
    assert all(v["agentRuntimeArn"] == arn and v["agentRuntimeId"] == rid for v in versions)
    assert set(versions[0]) == {
        "agentRuntimeArn", "agentRuntimeId", "agentRuntimeVersion", "agentRuntimeName",
        "description", "lastUpdatedAt", "status",
    }, versions[0]
    assert "nextToken" not in listed, listed
    first = ac.list_agent_runtime_versions(agentRuntimeId=rid, maxResults=2)
    assert [v["agentRuntimeVersion"] for v in first["agentRuntimes"]] == ["3", "2"], first
    rest = ac.list_agent_runtime_versions(agentRuntimeId=rid, maxResults=2, nextToken=first["nextToken"])
    assert [v["agentRuntimeVersion"] for v in rest["agentRuntimes"]] == ["1"], rest
    assert "nextToken" not in rest, rest
    expect_error(ac.list_agent_runtime_versions, "ValidationException", 400, agentRuntimeId=rid, nextToken="junk")
    expect_error(ac.list_agent_runtime_versions, "ResourceNotFoundException", 404, agentRuntimeId="nope-0123456789")
    # GetAgentRuntime with a version: that version's configuration
    one = ac.get_agent_runtime(agentRuntimeId=rid, agentRuntimeVersion="1")
    assert one["agentRuntimeVersion"] == "1", one
    assert one["agentRuntimeArtifact"] == artifact(1), one
    assert one["environmentVariables"] == {"V": "1"}, one
    assert one["description"] == "", one
    two = ac.get_agent_runtime(agentRuntimeId=rid, agentRuntimeVersion="2")
    assert (two["agentRuntimeArtifact"], two["description"]) == (artifact(2), "v2"), two
    assert "environmentVariables" not in two, two
    latest = ac.get_agent_runtime(agentRuntimeId=rid)
    assert (latest["agentRuntimeVersion"], latest["agentRuntimeArtifact"]) == ("3", artifact(3))
    three = ac.get_agent_runtime(agentRuntimeId=rid, agentRuntimeVersion="3")
    strip = lambda r: {k: v for k, v in r.items() if k != "ResponseMetadata"}
    assert strip(three) == strip(latest), (three, latest)
    expect_error(ac.get_agent_runtime, "ResourceNotFoundException", 404, agentRuntimeId=rid, agentRuntimeVersion="9")
    # ListAgentRuntimeEndpoints: liveVersion and targetVersion, as AWS's summary has them
    for _ in range(4):
        ac.get_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="DEFAULT")
    endpoints = ac.list_agent_runtime_endpoints(agentRuntimeId=rid)["runtimeEndpoints"]
    assert [(e["name"], e["liveVersion"], e["targetVersion"]) for e in endpoints] == [("DEFAULT", "3", "3")], endpoints
    # a failed update: that version says UPDATE_FAILED, the others keep theirs
    http(base, "POST", "/_emulator/agentcore/fail-next", {"reason": "bad image"})
    ac.update_agent_runtime(agentRuntimeId=rid, agentRuntimeArtifact=artifact(4), roleArn=ROLE_ARN, networkConfiguration=NETWORK)
    statuses = [(v["agentRuntimeVersion"], v["status"]) for v in ac.list_agent_runtime_versions(agentRuntimeId=rid)["agentRuntimes"]]
    assert statuses == [("4", "UPDATE_FAILED"), ("3", "READY"), ("2", "READY"), ("1", "READY")], statuses

    # item 22: a runtime that failed to create: refused (the default), or updated when allowed
    def failed_runtime(name: str) -> str:
        http(base, "POST", "/_emulator/agentcore/fail-next", {"reason": "no such image"})
        fid = ac.create_agent_runtime(
            agentRuntimeName=name, agentRuntimeArtifact=artifact(1), roleArn=ROLE_ARN, networkConfiguration=NETWORK
        )["agentRuntimeId"]
        got = ac.get_agent_runtime(agentRuntimeId=fid)
        assert (got["status"], got["failureReason"]) == ("CREATE_FAILED", "no such image"), got
        return fid

    fid = failed_runtime("svc_failed_refused")
    e = expect_error(
        ac.update_agent_runtime, "ConflictException", 409,
        agentRuntimeId=fid, agentRuntimeArtifact=artifact(2), roleArn=ROLE_ARN, networkConfiguration=NETWORK,
    )
    assert "CREATE_FAILED" in str(e), e
    assert ac.get_agent_runtime(agentRuntimeId=fid)["agentRuntimeVersion"] == "1"
    ac.delete_agent_runtime(agentRuntimeId=fid)
    status, body = http(base, "POST", settings, {"update_failed_runtime": "allow"})
    assert status == 200 and json.loads(body)["update_failed_runtime"] == "allow", body
    aid = failed_runtime("svc_failed_allowed")
    ac.update_agent_runtime(agentRuntimeId=aid, agentRuntimeArtifact=artifact(2), roleArn=ROLE_ARN, networkConfiguration=NETWORK)
    got = ac.get_agent_runtime(agentRuntimeId=aid)
    assert (got["status"], got["agentRuntimeVersion"]) == ("READY", "2"), got
    assert http(base, "POST", settings, {"update_failed_runtime": "maybe"})[0] == 400
    assert http(base, "POST", settings, {"update_failed_runtime": "refuse"})[0] == 200

    # item 23: DEFAULT made some seconds after the runtime
    assert http(base, "POST", settings, {"default_endpoint_delay_s": -1})[0] == 400
    assert http(base, "POST", settings, {"default_endpoint_delay_s": 1})[0] == 200
    lid = ac.create_agent_runtime(
        agentRuntimeName="svc_late_default", agentRuntimeArtifact=artifact(1), roleArn=ROLE_ARN, networkConfiguration=NETWORK
    )["agentRuntimeId"]
    assert http(base, "POST", settings, {"default_endpoint_delay_s": 0})[0] == 200
    assert ac.get_agent_runtime(agentRuntimeId=lid)["status"] == "READY"
    expect_error(ac.get_agent_runtime_endpoint, "ResourceNotFoundException", 404, agentRuntimeId=lid, endpointName="DEFAULT")
    assert ac.list_agent_runtime_endpoints(agentRuntimeId=lid)["runtimeEndpoints"] == []
    time.sleep(1.1)
    assert ac.get_agent_runtime_endpoint(agentRuntimeId=lid, endpointName="DEFAULT")["status"] == "READY"


def check_create_delay(base: str) -> None:
    assert http(base, "POST", "/moto-api/reset")[0] == 200
    status, body = http(base, "POST", "/_emulator/settings", {"create_delay_ms": 400})
    assert status == 200 and json.loads(body)["create_delay_ms"] == 400, (status, body)
    assert http(base, "POST", "/_emulator/settings", {"create_delay_ms": -1})[0] == 400
    assert http(base, "POST", "/_emulator/settings", {"create_delay_ms": "1"})[0] == 400
    iam, ecr, sm = client(base, "iam"), client(base, "ecr"), client(base, "secretsmanager")
    cognito, ac = client(base, "cognito-idp"), client(base, "bedrock-agentcore-control")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})

    # A read while a create is in flight finds nothing; the create then takes effect.
    started = time.time()
    pending = threading.Thread(target=lambda: iam.create_role(RoleName="slow", AssumeRolePolicyDocument=trust))
    pending.start()
    time.sleep(0.15)
    expect_error(iam.get_role, "NoSuchEntity", 404, RoleName="slow")
    pending.join()
    assert time.time() - started >= 0.4
    assert iam.get_role(RoleName="slow")["Role"]["RoleName"] == "slow"

    # Unique names stay unique: one of two racing creates fails, as on AWS.
    role = lambda: iam.create_role(RoleName="raced", AssumeRolePolicyDocument=trust)
    one_error(together(role, role), "EntityAlreadyExists")
    repo = lambda: ecr.create_repository(repositoryName="raced")
    one_error(together(repo, repo), "RepositoryAlreadyExistsException")
    secret = lambda: sm.create_secret(Name="stack/raced", SecretString="v")
    one_error(together(secret, secret), "ResourceExistsException")
    assert len(sm.list_secrets()["SecretList"]) == 1

    # Pool and client names are not unique: both creates succeed.
    pool = lambda: cognito.create_user_pool(PoolName="raced")["UserPool"]
    a, b = together(pool, pool)
    assert a["Id"] != b["Id"], (a, b)
    names = [p["Name"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"]]
    assert names.count("raced") == 2, names
    app = lambda: cognito.create_user_pool_client(UserPoolId=a["Id"], ClientName="raced")["UserPoolClient"]
    c, d = together(app, app)
    clients = cognito.list_user_pool_clients(UserPoolId=a["Id"], MaxResults=60)["UserPoolClients"]
    assert len(clients) == 2, clients
    # Item 15: clients have dates (one create after the other: distinct), not in the list.
    assert c["CreationDate"] != d["CreationDate"], (c, d)
    assert "CreationDate" not in clients[0], clients
    described = cognito.describe_user_pool_client(UserPoolId=a["Id"], ClientId=c["ClientId"])["UserPoolClient"]
    assert described["CreationDate"] == c["CreationDate"] == described["LastModifiedDate"], described
    time.sleep(0.01)
    updated = cognito.update_user_pool_client(UserPoolId=a["Id"], ClientId=c["ClientId"], ClientName="raced")
    assert updated["UserPoolClient"]["LastModifiedDate"] > c["CreationDate"], updated
    assert updated["UserPoolClient"]["CreationDate"] == c["CreationDate"], updated
    user = lambda: cognito.admin_create_user(UserPoolId=a["Id"], Username="raced", MessageAction="SUPPRESS")
    one_error(together(user, user), "UsernameExistsException")

    # Runtimes: the same clientToken gets the one runtime; another token a conflict.
    def runtime(token: str):
        return lambda: ac.create_agent_runtime(
            agentRuntimeName="raced",
            agentRuntimeArtifact=ARTIFACT,
            roleArn=ROLE_ARN,
            networkConfiguration=NETWORK,
            clientToken=token,
        )

    same = "t" * 40
    x, y = together(runtime(same), runtime(same))
    assert not isinstance(x, ClientError) and not isinstance(y, ClientError), (x, y)
    assert x["agentRuntimeId"] == y["agentRuntimeId"], (x, y)
    one_error(together(runtime("u" * 40), runtime(same)), "ConflictException")
    assert len(ac.list_agent_runtimes()["agentRuntimes"]) == 1

    status, body = http(base, "POST", "/_emulator/agentcore/settings", {"create_delay_ms": 0})
    assert status == 200 and json.loads(body)["create_delay_ms"] == 0, (status, body)
    assert http(base, "POST", "/moto-api/reset")[0] == 200


# --------------------------------------------------------------------------
# Item 14: refused credentials, in the protocol of the service
# --------------------------------------------------------------------------


def check_auth_errors() -> None:
    port = free_port()
    proc = start(port, INITIAL_NO_AUTH_ACTION_COUNT="0")
    base = f"http://127.0.0.1:{port}"
    invalid = "The security token included in the request is invalid."
    try:
        for service, call, kwargs, code, status in (
            ("cognito-idp", "list_user_pools", {"MaxResults": 10}, "UnrecognizedClientException", 400),
            ("ecr", "describe_repositories", {}, "UnrecognizedClientException", 400),
            ("secretsmanager", "list_secrets", {}, "UnrecognizedClientException", 400),
            ("bedrock-agentcore-control", "list_agent_runtimes", {}, "UnrecognizedClientException", 403),
            # Query protocol: moto's XML, as AWS answers.
            ("sts", "get_caller_identity", {}, "InvalidClientTokenId", 403),
            ("iam", "list_roles", {}, "InvalidClientTokenId", 403),
        ):
            e = expect_error(getattr(client(base, service), call), code, status, **kwargs)
            assert e.response["Error"]["Message"] == invalid, (service, e.response)
        # The raw answer: JSON with the code in __type and in X-Amzn-ErrorType.
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST",
            "/",
            body=b"{}",
            headers={
                "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20260101/us-west-2/"
                "cognito-idp/aws4_request, SignedHeaders=host, Signature=00",
            },
        )
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 400 and body == {"__type": "UnrecognizedClientException", "message": invalid}, body
        assert r.getheader("X-Amzn-ErrorType") == "UnrecognizedClientException"
        # Query protocol: AWS's XML shape (<Error> right in <ErrorResponse>), not moto's.
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST",
            "/",
            body=b"Action=GetCallerIdentity&Version=2011-06-15",
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20260101/us-east-1/"
                "sts/aws4_request, SignedHeaders=host, Signature=00",
            },
        )
        r = conn.getresponse()
        text = r.read().decode()
        assert r.status == 403 and r.getheader("Content-Type") == "text/xml", (r.status, text)
        assert text.startswith('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n'), text
        assert "<Code>InvalidClientTokenId</Code>" in text and "<Errors>" not in text, text
        assert "<RequestId>" in text, text
    finally:
        proc.kill()
        proc.communicate()


# --------------------------------------------------------------------------
# Item 12: the data plane, with a local OCI registry and images built here
# --------------------------------------------------------------------------

# The image's entrypoint: answers /ping, echoes what it receives (with its pid, environment
# and working directory), and streams two server-sent events half a second apart.
FAKE_SERVER = r"""#!/usr/bin/env python3
import http.server, json, os, sys, time


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/ping":
            self.send(200, {"status": "Healthy"})
        else:
            self.echo(b"")

    def do_DELETE(self):
        self.echo(b"")

    def do_POST(self):
        self.echo(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def echo(self, body):
        if body == b'{"stream": true}':
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Mcp-Session-Id", "from-the-server")
            self.end_headers()
            self.wfile.write(b"data: first\n\n")
            self.wfile.flush()
            time.sleep(0.5)
            self.wfile.write(b"data: %r\n\n" % time.time())
            return
        self.send(200, {
            "pid": os.getpid(),
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers),
            "body": body.decode(),
            "env": dict(os.environ),
            "argv": sys.argv,
            "cwd": sorted(os.listdir(".")),
        })


if os.environ.get("CRASH"):
    print("boom", flush=True)
    sys.exit(3)
server = http.server.ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler)
print("fake-mcp listening on %s:%d" % server.server_address, flush=True)
server.serve_forever()
"""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def registry_call(method: str, url: str, data: bytes | None = None, content_type: str | None = None):
    req = urllib.request.Request(url, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def start_registry(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        ["/usr/bin/docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            if registry_call("GET", url + "/v2/")[0] == 200:
                return proc, url
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def push_blob(registry: str, repo: str, data: bytes) -> str:
    digest = sha256(data)
    status, headers, _ = registry_call("POST", f"{registry}/v2/{repo}/blobs/uploads/")
    assert status == 202, status
    location = urllib.parse.urljoin(registry, headers["Location"])
    joiner = "&" if "?" in location else "?"
    status, _, body = registry_call(
        "PUT", f"{location}{joiner}digest={digest}", data, "application/octet-stream"
    )
    assert status == 201, (status, body)
    return digest


def push_manifest(registry: str, repo: str, reference: str, manifest: dict) -> tuple[str, int]:
    data = json.dumps(manifest).encode()
    status, _, body = registry_call(
        "PUT", f"{registry}/v2/{repo}/manifests/{reference}", data, manifest["mediaType"]
    )
    assert status == 201, (status, body)
    return sha256(data), len(data)


def tar_layer(entries: list[tuple[str, str, str | bytes]]) -> bytes:
    """An uncompressed layer: (kind, name, content or symlink target) with kind one of
    dir, file, exec, symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            data = content.encode() if isinstance(content, str) else content
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(content)
                tar.addfile(info)
            else:
                info.mode, info.size = (0o755 if kind == "exec" else 0o644), len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def push_images(registry: str) -> dict[str, str]:
    """fake-mcp:v1 (OCI, amd64, two layers: gzip, then plain with a whiteout), a Docker
    schema-2 image pushed by digest, and fake-mcp:multi (an OCI index: amd64 and arm64)."""
    repo = "fake-mcp"
    # The entrypoint's `#!/usr/bin/env python3` runs on the host (no chroot): put this
    # interpreter's directory on the image's PATH.
    path = f"PATH={os.path.dirname(os.path.realpath(sys.executable))}:/usr/local/bin:/usr/bin:/bin"
    base = tar_layer([
        ("dir", "app", ""),
        ("exec", "app/server.py", FAKE_SERVER),
        ("file", "app/stale.txt", "removed by the next layer"),
        ("dir", "usr", ""),
        ("dir", "usr/local", ""),
        ("dir", "usr/local/bin", ""),
        ("symlink", "usr/local/bin/fake-mcp", "/app/server.py"),  # absolute, inside the image
    ])
    upper = tar_layer([("file", "app/.wh.stale.txt", ""), ("file", "app/fresh.txt", "new")])
    base_gz = gzip.compress(base, mtime=0)
    base_gz_digest = push_blob(registry, repo, base_gz)
    upper_digest = push_blob(registry, repo, upper)

    def manifest(name: str, arch: str, oci: bool) -> dict:
        config = json.dumps({
            "architecture": arch,
            "os": "linux",
            "config": {
                "Entrypoint": ["fake-mcp"],
                "Cmd": ["--from-cmd"],
                "Env": [path, f"IMAGE_NAME={name}", "GREETING=from-the-image"],
                "WorkingDir": "/app",
            },
            "rootfs": {"type": "layers", "diff_ids": [sha256(base)] + ([sha256(upper)] if oci else [])},
        }).encode()
        config_digest = push_blob(registry, repo, config)
        if oci:
            return {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": base_gz_digest, "size": len(base_gz)},
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": upper_digest, "size": len(upper)},
                ],
            }
        return {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": len(config)},
            "layers": [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": base_gz_digest, "size": len(base_gz)},
            ],
        }

    push_manifest(registry, repo, "v1", manifest("oci-amd64", "amd64", oci=True))
    docker_digest, _ = push_manifest(registry, repo, "docker", manifest("docker-amd64", "amd64", oci=False))
    entries = []
    for name, arch in (("index-amd64", "amd64"), ("index-arm64", "arm64")):
        digest, size = push_manifest(registry, repo, name, manifest(name, arch, oci=True))
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": {"os": "linux", "architecture": arch}})
    push_manifest(registry, repo, "multi", {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    })
    return {"docker_digest": docker_digest}


def invoke(
    base: str,
    arn: str,
    body: bytes = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
    method: str = "POST",
    qualifier: str | None = None,
    **headers: str,
) -> tuple[int, dict[str, str], bytes]:
    """A raw call to the data plane (headers given as Python names: Mcp_Session_Id=...)."""
    path = f"/runtimes/{urllib.parse.quote(arn, safe='')}/invocations"
    if qualifier is not None:
        path += f"?qualifier={qualifier}"
    conn = HTTPConnection(urllib.parse.urlparse(base).netloc, timeout=30)
    try:
        conn.request(method, path, body=body if method != "GET" else None, headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        })
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def jwk_import_set(document: dict) -> KeySet:
    return KeySet.import_key_set(document)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def forge(claims: dict, **changes: object) -> str:
    """A token signed with the key moto's Cognito signs with (kid "dummy")."""
    key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, {**claims, **changes}, key)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is as good as gone
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def check_dataplane(base: str, registry: str, images: dict[str, str]) -> dict:
    settings = "/_emulator/agentcore/settings"
    status, body = http(base, "POST", settings, {"ecr_registry": registry})
    assert status == 200 and json.loads(body)["ecr_registry"] == registry, body
    ac = client(base, "bedrock-agentcore-control")
    rt = client(base, "bedrock-agentcore")
    ecr_image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fake-mcp"

    def create(name: str, uri: str, **extra):
        return ac.create_agent_runtime(
            agentRuntimeName=name,
            agentRuntimeArtifact={"containerConfiguration": {"containerUri": uri}},
            roleArn=ROLE_ARN,
            networkConfiguration=NETWORK,
            **extra,
        )

    def sigv4(arn: str, **extra):
        return rt.invoke_agent_runtime(agentRuntimeArn=arn, payload=b'{"prompt": "hi"}', contentType="application/json", **extra)

    # A user pool, two app clients, a user, and a token of each client
    idp = client(base, "cognito-idp")
    pool = idp.create_user_pool(PoolName="mcp")["UserPool"]["Id"]
    good, other = (
        idp.create_user_pool_client(UserPoolId=pool, ClientName=n, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
        for n in ("good", "other")
    )
    idp.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword="Tmp-Passw0rd!", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Str0ng-Passw0rd!", Permanent=True)

    def token(client_id: str) -> str:
        return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": "Str0ng-Passw0rd!"})["AuthenticationResult"]["AccessToken"]

    good_token, other_token = token(good), token(other)
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"
    jwt_authorizer = {"customJWTAuthorizer": {"discoveryUrl": issuer + "/.well-known/openid-configuration", "allowedClients": [good]}}
    custom = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-"
    c = create(
        "mcp_jwt",
        f"{ecr_image}:v1",
        protocolConfiguration={"serverProtocol": "MCP"},
        authorizerConfiguration=jwt_authorizer,
        environmentVariables={"GREETING": "hello-v1"},
        requestHeaderConfiguration={"requestHeaderAllowlist": [custom + "Kept"]},
    )
    arn, rid = c["agentRuntimeArn"], c["agentRuntimeId"]

    # No token: 401 with the RFC 9728 challenge, whose document names the pool as issuer
    status, headers, body = invoke(base, arn)
    assert (status, headers["x-amzn-errortype"]) == (401, "UnauthorizedException"), (status, headers, body)
    challenge = headers["www-authenticate"]
    assert challenge.startswith('Bearer resource_metadata="') and challenge.endswith('?qualifier=DEFAULT"'), challenge
    metadata_url = urllib.parse.urlparse(challenge.split('"')[1])
    conn = HTTPConnection(metadata_url.netloc, timeout=10)
    conn.request("GET", f"{metadata_url.path}?{metadata_url.query}")
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["authorization_servers"] == [issuer]
    conn.close()
    # Malformed, tampered, expired, foreign issuer: 401; another app client's token: 401
    # naming the claim (AgentCore's runtime authorizer, see the emulator's item 12)
    claims = claims_of(good_token)
    head, payload, signature = good_token.split(".")
    elevated = base64.urlsafe_b64encode(json.dumps({**claims, "username": "root"}).encode()).rstrip(b"=").decode()
    for bad in (
        "not-a-jwt",
        f"{head}.{elevated}.{signature}",
        forge(claims, exp=int(time.time()) - 60),
        forge(claims, iss=f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Other"),
    ):
        status, headers, body = invoke(base, arn, Authorization=bearer(bad))
        assert status == 401 and "www-authenticate" in headers, (bad, status, body)
    status, _, body = invoke(base, arn, Authorization=bearer(other_token))
    assert status == 401 and json.loads(body)["message"] == "Claim 'client_id' value mismatch with configuration.", body
    # SigV4 on a JWT runtime: AgentCore's mismatch error, through the SDK
    e = expect_error(sigv4, "AccessDeniedException", 403, arn=arn)
    assert e.response["Error"]["Message"].startswith("Authorization method mismatch."), e.response

    # A good token: concurrent first requests start one process
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(invoke(base, arn, Authorization=bearer(good_token)))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [200] * 3, results
    assert len({json.loads(r[2])["pid"] for r in results}) == 1, results
    status, headers, body = invoke(
        base, arn, Authorization=bearer(good_token), **{custom.replace("-", "_") + "Kept": "yes", custom.replace("-", "_") + "Dropped": "no"}
    )
    assert status == 200, (status, body)
    echo = json.loads(body)
    v1_pid = echo["pid"]
    seen = {k.lower(): v for k, v in echo["headers"].items()}
    session = seen["x-amzn-bedrock-agentcore-runtime-session-id"]
    assert (echo["method"], echo["path"]) == ("POST", "/mcp"), echo
    assert json.loads(echo["body"])["method"] == "tools/list", echo
    assert "authorization" not in seen, seen  # not in the allowlist
    assert seen[custom.lower() + "kept"] == "yes" and custom.lower() + "dropped" not in seen, seen
    assert len(session) == 36 and seen["mcp-session-id"] == session, seen
    assert headers["mcp-session-id"] == session and headers["x-amzn-bedrock-agentcore-runtime-session-id"] == session, headers
    env = echo["env"]
    assert (env["GREETING"], env["IMAGE_NAME"], env["HOST"]) == ("hello-v1", "oci-amd64", "127.0.0.1"), env
    assert (env["AWS_ENDPOINT_URL"], env["AWS_REGION"]) == (base, REGION), env
    role_key = env["AWS_ACCESS_KEY_ID"]  # the process's own (item 18)
    assert re.fullmatch(r"ASIA[0-9A-Z]{16}", role_key), env
    assert echo["argv"][1:] == ["--from-cmd"], echo["argv"]
    assert echo["cwd"] == ["fresh.txt", "server.py"], echo["cwd"]  # WorkingDir, whiteout applied
    # The client's session ids are passed on; DELETE reaches the container too
    status, _, body = invoke(base, arn, method="DELETE", Authorization=bearer(good_token), Mcp_Session_Id="mcp-1", X_Amzn_Bedrock_AgentCore_Runtime_Session_Id="s" * 40)
    seen = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    assert status == 200 and (seen["mcp-session-id"], seen["x-amzn-bedrock-agentcore-runtime-session-id"]) == ("mcp-1", "s" * 40), seen

    # Server-sent events reach the client one by one
    conn = HTTPConnection(urllib.parse.urlparse(base).netloc, timeout=10)
    conn.request("POST", f"/runtimes/{urllib.parse.quote(arn, safe='')}/invocations", body=b'{"stream": true}', headers={"Authorization": bearer(good_token), "Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream", r.getheaders()
    assert r.getheader("Mcp-Session-Id") == "from-the-server", r.getheaders()
    received = b""
    while b"\n\n" not in received:
        received += r.read1(1024)
    first_at = time.time()
    # ... and the open stream blocks no other request
    assert invoke(base, arn, Authorization=bearer(good_token))[0] == 200
    other_at = time.time()
    received += r.read()
    conn.close()
    events = [e for e in received.decode().split("\n\n") if e]
    assert events[0] == "data: first" and len(events) == 2, events
    assert first_at < other_at < float(events[1].removeprefix("data: ")), (first_at, other_at, events)

    # An update: DEFAULT keeps serving v1 until it moves (item 9), then v2 replaces v1's process
    ac.update_agent_runtime(
        agentRuntimeId=rid,
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": f"{ecr_image}@{images['docker_digest']}"}},
        roleArn=ROLE_ARN,
        networkConfiguration=NETWORK,
        protocolConfiguration={"serverProtocol": "MCP"},
        authorizerConfiguration={"customJWTAuthorizer": {**jwt_authorizer["customJWTAuthorizer"], "allowedScopes": ["aws.cognito.signin.user.admin"]}},
        environmentVariables={"GREETING": "hello-v2"},
        requestHeaderConfiguration={"requestHeaderAllowlist": ["Authorization"]},
    )
    status, _, body = invoke(base, arn, Authorization=bearer(good_token))
    assert status == 200 and json.loads(body)["pid"] == v1_pid, body
    while ac.get_agent_runtime_endpoint(agentRuntimeId=rid, endpointName="DEFAULT")["status"] != "READY":
        pass
    status, _, body = invoke(base, arn, Authorization=bearer(good_token))
    echo = json.loads(body)
    assert status == 200 and echo["pid"] != v1_pid, body
    assert (echo["env"]["GREETING"], echo["env"]["IMAGE_NAME"]) == ("hello-v2", "docker-amd64"), echo["env"]
    assert echo["cwd"] == ["server.py", "stale.txt"], echo["cwd"]  # the Docker image's one layer
    assert echo["headers"].get("Authorization") == bearer(good_token), echo["headers"]  # allowlisted now
    assert wait_gone(v1_pid), "v1's process outlived the update"
    v2_pid = echo["pid"]
    status, _, body = invoke(base, arn, Authorization=bearer(forge(claims, scope="openid")))
    assert status == 401 and "'scope'" in json.loads(body)["message"], body
    status, _, body = invoke(base, arn, qualifier="v9", Authorization=bearer(good_token))
    assert status == 404, body

    # An IAM runtime from an index (linux/arm64 is picked), HTTP protocol, through the SDK
    m = create("multi_sigv4", f"{registry.removeprefix('http://')}/fake-mcp:multi", protocolConfiguration={"serverProtocol": "HTTP"})
    r = sigv4(m["agentRuntimeArn"], runtimeSessionId="r" * 33)
    echo = json.loads(r["response"].read())
    assert (echo["path"], echo["env"]["IMAGE_NAME"]) == ("/invocations", "index-arm64"), echo
    assert r["runtimeSessionId"] == "r" * 33 and r["statusCode"] == 200, r
    multi_pid = echo["pid"]
    status, headers, body = invoke(base, m["agentRuntimeArn"], Authorization=bearer(good_token))
    assert (status, headers["x-amzn-errortype"]) == (403, "AccessDeniedException") and b"mismatch" in body, body
    assert "www-authenticate" not in headers, headers
    assert invoke(base, m["agentRuntimeArn"])[0] == 403
    expect_error(sigv4, "ResourceNotFoundException", 404, arn=f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/nope-0123456789")

    # A container that exits before /ping answers: 424, its output in the emulator's log
    crash = create("crash_probe", f"{ecr_image}:v1", environmentVariables={"CRASH": "1"})
    e = expect_error(sigv4, "RuntimeClientError", 424, arn=crash["agentRuntimeArn"])
    assert "exited with status 3" in e.response["Error"]["Message"], e.response
    # MMDSv2 off (item 8): AgentCore refuses invocations
    assert http(base, "POST", settings, {"mmdsv2_on_create": False})[0] == 200
    legacy = create("legacy_probe", f"{ecr_image}:v1")["agentRuntimeArn"]
    assert http(base, "POST", settings, {"mmdsv2_on_create": True})[0] == 200
    e = expect_error(sigv4, "ValidationException", 400, arn=legacy)
    assert e.response["Error"]["Message"] == "This runtime is not MMDSv2-enabled", e.response

    check_runtime_logs(base, rid, crash["agentRuntimeId"], role_key)

    # The data plane is not recorded
    assert http(base, "POST", "/moto-api/recorder/reset-recording")[0] == 200
    assert http(base, "POST", "/moto-api/recorder/start-recording")[0] == 200
    sigv4(m["agentRuntimeArn"])["response"].read()
    assert http(base, "POST", "/moto-api/recorder/stop-recording")[0] == 200
    assert "invocations" not in http(base, "GET", "/moto-api/recorder/download-recording")[1].decode()

    # moto's reset stops every process
    assert http(base, "POST", "/moto-api/reset")[0] == 200
    assert wait_gone(v2_pid) and wait_gone(multi_pid), "a process outlived the reset"
    probe = create("exit_probe", f"{ecr_image}:v1")
    pid = json.loads(sigv4(probe["agentRuntimeArn"])["response"].read())["pid"]
    return {"pid": pid, "crash_line": f"[runtime {crash['agentRuntimeId']} v1] boom"}


def check_runtime_logs(base: str, rid: str, crash_rid: str, role_key: str) -> None:
    """Items 18 and 19: the processes' output in their runtime's log group, the execution
    role's secret read refused by the setting, FilterLogEvents interleaving streams."""
    logs = client(base, "logs")

    def messages(group: str) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]

    group = f"/aws/bedrock-agentcore/runtimes/{rid}-DEFAULT"
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in described] == [group], described
    assert "retentionInDays" not in described[0], described  # never expires, as AgentCore's
    assert logs.list_tags_for_resource(resourceArn=described[0]["arn"].removesuffix(":*")).get("tags", {}) == {}
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert len(streams) == 2, streams  # v1's process and v2's
    for stream in streams:
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[runtime-logs\][0-9a-f-]{36}", stream), stream
    assert sum(m.startswith("fake-mcp listening on ") for m in messages(group)) == 2, messages(group)
    assert "boom" in messages(f"/aws/bedrock-agentcore/runtimes/{crash_rid}-DEFAULT")

    # The execution role's GetSecretValue, refused only with deny_secret_read
    secrets = client(base, "secretsmanager")
    arn = secrets.create_secret(Name="role-probe", SecretString="sk-probe")["ARN"]
    as_role = boto3.client(
        "secretsmanager", endpoint_url=base, region_name=REGION,
        aws_access_key_id=role_key, aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, proxies={}),
    )
    assert as_role.get_secret_value(SecretId=arn)["SecretString"] == "sk-probe"
    assert http(base, "POST", "/_emulator/settings", {"deny_secret_read": True})[0] == 200
    try:
        e = expect_error(as_role.get_secret_value, "AccessDeniedException", 400, SecretId=arn)
        message = e.response["Error"]["Message"]
        assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/agentcore-runtime/"), message
        assert f"secretsmanager:GetSecretValue on resource: {arn}" in message, message
        assert secrets.get_secret_value(SecretId=arn)["SecretString"] == "sk-probe"  # others may
    finally:
        assert http(base, "POST", "/_emulator/settings", {"deny_secret_read": False})[0] == 200
    assert as_role.get_secret_value(SecretId=arn)["SecretString"] == "sk-probe"

    # Two streams written out of order: FilterLogEvents interleaves them by time (item 19)
    logs.create_log_group(logGroupName="interleaved")
    now = int(time.time() * 1000)
    for stream, times in (("a", (1, 3)), ("b", (2, 4))):
        logs.create_log_stream(logGroupName="interleaved", logStreamName=stream)
        logs.put_log_events(
            logGroupName="interleaved", logStreamName=stream,
            logEvents=[{"timestamp": now + t, "message": f"{stream}{t}"} for t in times],
        )
    assert messages("interleaved") == ["a1", "b2", "a3", "b4"], messages("interleaved")


def main() -> int:
    workdir = tempfile.TemporaryDirectory(prefix="test-emulator-")
    registry_proc, registry = start_registry(Path(workdir.name))
    try:
        images = push_images(registry)
        return run(registry, images)
    finally:
        registry_proc.terminate()
        registry_proc.wait()
        workdir.cleanup()


def run(registry: str, images: dict[str, str]) -> int:
    port = free_port()
    proc = start(port)
    base = f"http://127.0.0.1:{port}"
    ok = False
    probe: dict = {}
    try:
        check(base)
        check_versions(base)
        check_create_delay(base)
        probe = check_dataplane(base, registry, images)
        ok = True
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            print("emulator did not exit on SIGTERM", file=sys.stderr)
            ok = False
        out, err = proc.communicate()
        if rc != 0:
            print(f"emulator exited with {rc}", file=sys.stderr)
            ok = False
        lines = [l for l in err.decode().splitlines() if l.strip()]
        # The data plane's own lines, and its processes' output, are expected.
        noisy = [l for l in lines if not l.startswith(("[runtime ", "emulator: data plane: "))]
        if len(noisy) > 1 or out.strip():
            print("emulator output was noisy:\n" + out.decode() + err.decode(), file=sys.stderr)
            ok = False
        elif not ok:
            print(err.decode(), file=sys.stderr)
        elif probe["crash_line"] not in lines:
            print("the crashed runtime's output is not in the emulator's log:\n" + err.decode(), file=sys.stderr)
            ok = False
        if probe and not wait_gone(probe["pid"]):
            print("a runtime process outlived the emulator (SIGTERM)", file=sys.stderr)
            ok = False
    try:
        check_auth_errors()
    except AssertionError as e:
        print(f"item 14: {e!r}", file=sys.stderr)
        ok = False
    # SIGINT also exits cleanly
    proc = start(free_port())
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    proc.communicate()
    if rc != 0:
        print(f"emulator exited with {rc} on SIGINT", file=sys.stderr)
        ok = False
    # SIGKILL (how the Rust tests stop it) takes its runtime processes along
    port = free_port()
    proc = start(port, EMULATOR_ECR_REGISTRY=registry)
    try:
        base = f"http://127.0.0.1:{port}"
        arn = client(base, "bedrock-agentcore-control").create_agent_runtime(
            agentRuntimeName="kill_probe",
            agentRuntimeArtifact={"containerConfiguration": {"containerUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fake-mcp:v1"}},
            roleArn=ROLE_ARN,
            networkConfiguration=NETWORK,
        )["agentRuntimeArn"]
        r = client(base, "bedrock-agentcore").invoke_agent_runtime(agentRuntimeArn=arn, payload=b"{}")
        pid = json.loads(r["response"].read())["pid"]
    finally:
        proc.kill()
        proc.communicate()
    if not wait_gone(pid):
        print("a runtime process outlived the emulator (SIGKILL)", file=sys.stderr)
        ok = False
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
