"""The article's execution role: deleted when it exists, then created again.

A benchmark fixture, reconstructed from the article's description (see README.md).
"""

import json
import os

import boto3

ROLE = "agentcore-web-search-mcp-role"
region = os.environ.get("AWS_REGION", "us-west-2")
iam = boto3.client("iam", region_name=region)
account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]

try:
    iam.get_role(RoleName=ROLE)
    for name in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]:
        iam.delete_role_policy(RoleName=ROLE, PolicyName=name)
    iam.delete_role(RoleName=ROLE)
except iam.exceptions.NoSuchEntityException:
    pass

trust = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock-agentcore:{region}:{account}:*"},
            },
        }
    ],
}
policy = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": f"arn:aws:ecr:{region}:{account}:repository/*",
        },
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/bedrock-agentcore/runtimes/*",
        },
        {
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "bedrock-agentcore"}},
        },
    ],
}
role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(
    RoleName=ROLE, PolicyName="AgentCoreRuntimePolicy", PolicyDocument=json.dumps(policy)
)

with open("article.json") as f:
    state = json.load(f)
state["role_arn"] = role["Role"]["Arn"]
with open("article.json", "w") as f:
    json.dump(state, f)
print(f"role {state['role_arn']}")
