"""Checks scripts/emulator.py end to end over HTTP on a free loopback port.

Run: .venv/bin/python scripts/test_emulator.py   (exit code 0 on success)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

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


def start(port: int) -> subprocess.Popen:
    env = dict(os.environ, MOTO_ENABLE_RECORDING="True")
    for k in list(env):
        if k.startswith("AWS_") or k.endswith("_PROXY") or k.endswith("_proxy"):
            env.pop(k)
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
    assert status == 200 and json.loads(body) == {"mmdsv2_on_create": True, "endpoint_lag_polls": 2}, body
    assert http(base, "POST", settings, {"endpoint_lag_polls": -1})[0] == 400
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

    # the armed create above still failed
    runtimes = {s["agentRuntimeName"]: s for s in ac.list_agent_runtimes()["agentRuntimes"]}
    assert runtimes["svc_recorded"]["status"] == "CREATE_FAILED", runtimes

    # delete
    ac.delete_agent_runtime(agentRuntimeId=r["agentRuntimeId"])
    expect_error(ac.get_agent_runtime, "ResourceNotFoundException", 404, agentRuntimeId=r["agentRuntimeId"])


def main() -> int:
    port = free_port()
    proc = start(port)
    base = f"http://127.0.0.1:{port}"
    ok = False
    try:
        check(base)
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
        noisy = [l for l in err.decode().splitlines() if l.strip()]
        if len(noisy) > 1 or out.strip():
            print("emulator output was noisy:\n" + out.decode() + err.decode(), file=sys.stderr)
            ok = False
        elif not ok:
            print(err.decode(), file=sys.stderr)
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
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
