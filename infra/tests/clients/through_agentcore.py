"""Call the deployed server through the AgentCore data plane with the official Python SDK
(mcp 1.12.2, the client of the original article) and print what happened as JSON.

Usage: MCP_BEARER_TOKEN=... python through_agentcore.py MCP_URL
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str) -> dict:
    headers = {"Authorization": f"Bearer {os.environ['MCP_BEARER_TOKEN']}"}
    async with streamablehttp_client(url, headers=headers, timeout=60) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            found = await session.call_tool("web_search", {"query": "When was Rust 1.0 released?"})
            return {
                "server": init.serverInfo.name,
                "tools": sorted(t.name for t in tools.tools),
                "answer": "".join(getattr(c, "text", "") for c in found.content),
                "is_error": bool(found.isError),
            }


print(json.dumps(asyncio.run(main(sys.argv[1]))))
