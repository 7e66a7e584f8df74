wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
wrk.headers["Mcp-Session-Id"] = "bench-session"
wrk.headers["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"] = "bench-session"

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"tools"', 1, true) then
    wrk.thread:stop()
    io.stderr:write("unexpected response: " .. status .. " " .. body .. "\n")
  end
end
