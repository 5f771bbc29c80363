"""The web side of a call flow (Python's http.server): what SWML `request`, `execute` to a URL
and `play` of an http:// WAV talk to.

Usage: flow_server.py WAV_FILE. Serves GET /tone.wav (the file), POST /hook (answers JSON
{"lang": "fr"}), POST /menu (answers an SWML document as application/yaml). Prints JSON lines on
stdout: {"event": "listening", "port": P} first, then one {"event": "request", ...} per
request with its method, path, content type and body. Exits when stdin closes.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

wav = open(sys.argv[1], "rb").read()
MENU = b"""version: 1.0.0
sections:
  main:
    - set:
        menu_seen: "yes"
    - play:
        url: silence:0.5
    - return:
        return_value: from-menu
"""


def out(obj):
    print(json.dumps(obj), flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, kind, body):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def report(self, body):
        out({"event": "request", "method": self.command, "path": self.path,
             "content_type": self.headers.get("Content-Type"), "body": body})

    def do_GET(self):
        self.report("")
        if self.path == "/tone.wav":
            self.answer(200, "audio/wav", wav)
        else:
            self.answer(404, "text/plain", b"no such file")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        self.report(body)
        if self.path == "/hook":
            self.answer(200, "application/json", b'{"lang": "fr"}')
        elif self.path == "/menu":
            self.answer(200, "application/yaml", MENU)
        else:
            self.answer(404, "text/plain", b"no such hook")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
out({"event": "listening", "port": server.server_address[1]})
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
