"""What the article's toolkit `launch` does once the image is built: the ECR repository, the
runtime created or updated, then polled until READY.

A benchmark fixture (see README.md). It prints `requested` when the create or update call has
answered, so the benchmark can leave the runtime's own wait out, as it does for infra.
"""

import json
import os
import time

import boto3

NAME = "web_search_mcp"
REPOSITORY = "web-search-mcp"
region = os.environ.get("AWS_REGION", "us-west-2")
ecr = boto3.client("ecr", region_name=region)
agentcore = boto3.client("bedrock-agentcore-control", region_name=region)
with open("article.json") as f:
    state = json.load(f)

try:
    ecr.describe_repositories(repositoryNames=[REPOSITORY])
except ecr.exceptions.RepositoryNotFoundException:
    ecr.create_repository(repositoryName=REPOSITORY)

request = dict(
    agentRuntimeArtifact={"containerConfiguration": {"containerUri": os.environ["IMAGE_URI"]}},
    roleArn=state["role_arn"],
    networkConfiguration={"networkMode": "PUBLIC"},
    protocolConfiguration={"serverProtocol": "MCP"},
    authorizerConfiguration={
        "customJWTAuthorizer": {
            "discoveryUrl": state["discovery_url"],
            "allowedClients": [state["client_id"]],
        }
    },
    environmentVariables={"OPENAI_API_KEY": os.environ["OPENAI_API_KEY"], "OPENAI_MODEL": "o3"},
)
existing = [
    r
    for r in agentcore.list_agent_runtimes()["agentRuntimes"]
    if r["agentRuntimeName"] == NAME
]
if existing:
    runtime_id = existing[0]["agentRuntimeId"]
    agentcore.update_agent_runtime(agentRuntimeId=runtime_id, **request)
else:
    runtime_id = agentcore.create_agent_runtime(agentRuntimeName=NAME, **request)["agentRuntimeId"]
print("requested", flush=True)

while (status := agentcore.get_agent_runtime(agentRuntimeId=runtime_id)["status"]) != "READY":
    if status.endswith("FAILED"):
        raise SystemExit(f"runtime {status}")
    time.sleep(1)
print(f"runtime {runtime_id} READY")
