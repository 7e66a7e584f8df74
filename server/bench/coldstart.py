"""Cold start and RSS of the server binary.

Usage: python3 coldstart.py BINARY UPSTREAM_BASE_URL [RUNS]

Cold start: from spawn to the first successful tools/list (HTTP 200 with a
tools result), polled over raw sockets every 0.5 ms. Prints the median and
the best of RUNS starts, and the RSS (VmRSS) of an idle, freshly started
server as JSON.

The server gets OPENAI_API_KEY=sk-bench, unless OPENAI_API_KEY_SECRET_ARN is
set in this script's environment: then the key comes from Secrets Manager
(pass AWS_ENDPOINT_URL, AWS_REGION and credentials along too) and the output
also has the time from spawn to the first successful web_search (its first
read of the secret included), measured right after the first tools/list.
COLDSTART_SEARCH=1 measures that time with OPENAI_API_KEY as well.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time

BINARY, UPSTREAM = sys.argv[1], sys.argv[2]
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
PORT = 18765
BODY = b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
REQUEST = (
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


def tools_list_ok():
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=1) as s:
            s.sendall(REQUEST)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200") and b'"tools"' in data
    except OSError:
        return False


def search_ok():
    body = (b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":'
            b'{"name":"web_search","arguments":{"query":"cold start"}}}')
    request = REQUEST.replace(BODY, body).replace(
        b"Content-Length: " + str(len(BODY)).encode(), b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection(("127.0.0.1", PORT), timeout=30) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    if b'"isError":false' not in data:
        raise SystemExit(f"web_search failed: {data[-600:]!r}")


SECRET = bool(os.environ.get("OPENAI_API_KEY_SECRET_ARN"))
SEARCH = SECRET or os.environ.get("COLDSTART_SEARCH") == "1"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start():
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(PORT), OPENAI_BASE_URL=UPSTREAM)
    if SECRET:
        env.pop("OPENAI_API_KEY", None)
    else:
        env["OPENAI_API_KEY"] = "sk-bench"
    cmd = ["taskset", "-c", "0", BINARY]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not tools_list_ok():
        if proc.poll() is not None:
            raise SystemExit("server exited")
        time.sleep(0.0005)
    ready = (time.perf_counter() - t0) * 1000
    searched = None
    if SEARCH:
        search_ok()
        searched = (time.perf_counter() - t0) * 1000
    return proc, ready, searched


times, searches, rss = [], [], []
for _ in range(RUNS):
    proc, ms, searched = start()
    times.append(ms)
    if searched is not None:
        searches.append(searched)
    time.sleep(0.3)
    rss.append(rss_kb(proc.pid))
    proc.terminate()
    proc.wait()
result = {
    "cold_start_ms_median": round(statistics.median(times), 1),
    "cold_start_ms_min": round(min(times), 1),
    "rss_idle_kb_median": statistics.median(rss),
}
if searches:
    result["first_search_ms_median"] = round(statistics.median(searches), 1)
    result["first_search_ms_min"] = round(min(searches), 1)
print(json.dumps(result))
