"""Cold start and RSS of the server binary.

Usage: python3 coldstart.py BINARY UPSTREAM_BASE_URL [RUNS]

Cold start: from spawn to the first successful tools/list (HTTP 200 with a
tools result), polled over raw sockets every 0.5 ms. Prints the median and
the best of RUNS starts, and the RSS (VmRSS) of an idle, freshly started
server as JSON.
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


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start():
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(PORT), OPENAI_BASE_URL=UPSTREAM,
               OPENAI_API_KEY="sk-bench")
    cmd = ["taskset", "-c", "0", BINARY]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not tools_list_ok():
        if proc.poll() is not None:
            raise SystemExit("server exited")
        time.sleep(0.0005)
    return proc, (time.perf_counter() - t0) * 1000


times, rss = [], []
for _ in range(RUNS):
    proc, ms = start()
    times.append(ms)
    time.sleep(0.3)
    rss.append(rss_kb(proc.pid))
    proc.terminate()
    proc.wait()
print(json.dumps({
    "cold_start_ms_median": round(statistics.median(times), 1),
    "cold_start_ms_min": round(min(times), 1),
    "rss_idle_kb_median": statistics.median(rss),
}))
