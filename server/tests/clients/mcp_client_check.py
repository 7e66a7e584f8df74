"""Drive the MCP server with the official Python SDK and print what happened as JSON.

Usage: python mcp_client_check.py URL [--mode legacy|auto]

Works with mcp 1.12.2 (the seed's client, httpx + httpx-sse 0.4.1) and with
mcp 2.x (httpx2, `Client`). Every request carries AgentCore Runtime's session
headers. The HTTP read timeout is 2 s, so a 3.5 s search only succeeds if the
server keeps the SSE stream alive (keep-alive comments or progress).
"""

import asyncio
import importlib.metadata
import json
import sys
import uuid

URL = sys.argv[1]
MODE = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--mode" else "auto"
VERSION = importlib.metadata.version("mcp")
SESSION = str(uuid.uuid4())
HEADERS = {
    "Mcp-Session-Id": SESSION,
    "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": SESSION,
}
READ_TIMEOUT = 2.0


def attr(obj, camel, snake):
    """mcp 1.x exposes camelCase attributes, mcp 2.x snake_case."""
    return getattr(obj, camel) if hasattr(obj, camel) else getattr(obj, snake)


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


def is_error(result):
    return bool(attr(result, "isError", "is_error"))


def structured(result):
    return attr(result, "structuredContent", "structured_content")


async def scenario(list_tools, call_tool):
    out = {"mcp_version": VERSION}
    tools = await list_tools()
    out["tools"] = sorted(t.name for t in tools.tools)
    search = next(t for t in tools.tools if t.name == "web_search")
    out["web_search_read_only"] = attr(search.annotations, "readOnlyHint", "read_only_hint")
    out["web_search_open_world"] = attr(search.annotations, "openWorldHint", "open_world_hint")
    out["web_search_output_schema"] = attr(search, "outputSchema", "output_schema") is not None

    greet = await call_tool("greet_user", {"name": "Ada"}, None)
    out["greet"] = text_of(greet)

    found = await call_tool("web_search", {"query": "when was Rust 1.0 released?"}, None)
    out["search_is_error"] = is_error(found)
    out["search_text"] = text_of(found)
    out["search_structured"] = structured(found)

    x85 = await call_tool("web_search", {"query": "separators [x85]"}, None)
    out["x85_answer"] = (structured(x85) or {}).get("answer")
    out["x85_text"] = text_of(x85)

    slow = await call_tool("web_search", {"query": "slow [slow=3500]"}, None)
    out["slow_is_error"] = is_error(slow)

    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "message": message})

    slow2 = await call_tool("web_search", {"query": "slow with progress [slow=3500]"}, on_progress)
    out["slow_progress_is_error"] = is_error(slow2)
    out["progress"] = progress

    failed = await call_tool("web_search", {"query": "denied [401]"}, None)
    out["unauthorized_is_error"] = is_error(failed)
    out["unauthorized_text"] = text_of(failed)
    return out


async def run_v1():
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(URL, headers=HEADERS, timeout=30, sse_read_timeout=READ_TIMEOUT) as (
        read,
        write,
        _get_session_id,
    ):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out = await scenario(
                session.list_tools,
                lambda name, args, cb: session.call_tool(name, args, progress_callback=cb),
            )
            out["server_name"] = init.serverInfo.name
            out["protocol_version"] = str(init.protocolVersion)
            return out


async def run_v2():
    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers=HEADERS, timeout=httpx2.Timeout(30, read=READ_TIMEOUT))
    async with http:
        transport = streamable_http_client(URL, http_client=http)
        async with Client(transport, mode=MODE) as client:
            out = await scenario(
                client.list_tools,
                lambda name, args, cb: client.call_tool(name, args, progress_callback=cb),
            )
            out["mode"] = MODE
            return out


async def main():
    run = run_v1 if VERSION.startswith("1.") else run_v2
    out = await asyncio.wait_for(run(), timeout=60)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
