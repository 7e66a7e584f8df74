"""The article's Cognito setup: a new pool, client and user on every run, then a sign-in.

A benchmark fixture, reconstructed from the article's description (see README.md).
"""

import json
import os

import boto3

region = os.environ.get("AWS_REGION", "us-west-2")
cognito = boto3.client("cognito-idp", region_name=region)
password = os.environ["COGNITO_PASSWORD"]

pool = cognito.create_user_pool(
    PoolName="MCPServerPool",
    Policies={"PasswordPolicy": {"MinimumLength": 8}},
)
pool_id = pool["UserPool"]["Id"]

client = cognito.create_user_pool_client(
    UserPoolId=pool_id,
    ClientName="MCPServerPoolClient",
    GenerateSecret=False,
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)
client_id = client["UserPoolClient"]["ClientId"]

cognito.admin_create_user(
    UserPoolId=pool_id,
    Username="testuser",
    TemporaryPassword="Temp123!Temp",
    MessageAction="SUPPRESS",
)
cognito.admin_set_user_password(
    UserPoolId=pool_id, Username="testuser", Password=password, Permanent=True
)
auth = cognito.initiate_auth(
    ClientId=client_id,
    AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": "testuser", "PASSWORD": password},
)
assert auth["AuthenticationResult"]["AccessToken"]

discovery_url = (
    f"https://cognito-idp.{region}.amazonaws.com/{pool_id}/.well-known/openid-configuration"
)
with open("article.json", "w") as f:
    json.dump({"pool_id": pool_id, "client_id": client_id, "discovery_url": discovery_url}, f)
print(f"pool {pool_id}, client {client_id}")
