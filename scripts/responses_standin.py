"""A stand-in of OpenAI's Responses API for local runs (scripts/try-local): every
``POST /v1/responses`` gets a completed answer with one URL citation, shaped like what o3 with
the web_search tool returns. Nothing is searched; it proves the path from an MCP client through
AgentCore's JWT check and the deployed server to the model API and back.

Usage: python responses_standin.py PORT
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = (
    "(Local stand-in of the Responses API) Rust 1.0 was released on May 15, 2015. "
    "With a real OPENAI_API_KEY and no OPENAI_BASE_URL, the server asks OpenAI instead."
)
CITATION = "https://blog.rust-lang.org/2015/05/15/Rust-1.0.html"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/responses"):
            self.send_error(404)
            return
        body = json.dumps(
            {
                "id": "resp_local",
                "object": "response",
                "status": "completed",
                "model": "o3",
                "error": None,
                "output": [
                    {"id": "ws_1", "type": "web_search_call", "status": "completed",
                     "action": {"type": "search", "query": "local"}},
                    {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                     "content": [{"type": "output_text", "text": ANSWER, "annotations": [
                         {"type": "url_citation", "start_index": 0, "end_index": len(ANSWER),
                          "url": CITATION, "title": "Announcing Rust 1.0 | Rust Blog"}]}]},
                ],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
