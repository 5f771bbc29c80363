"""An HTTP status receiver (Python's http.server) that answers from a script of codes.

Usage: status_server.py CODE[,CODE...]: the n-th request is answered with the n-th code (the
last one repeats); code 0 never answers (the connection is held open, as by a server that hangs).
Prints JSON lines on stdout: {"event": "listening", "port": P} first, then
one {"event": "request", ...} per request, with its path, headers, body and the code answered.
The process exits when stdin closes.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

codes = [int(c) for c in sys.argv[1].split(",")]
count = 0
lock = threading.Lock()


def out(obj):
    print(json.dumps(obj), flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        with lock:
            code = codes[min(count, len(codes) - 1)]
            count += 1
            out({
                "event": "request",
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "code": code,
            })
        if code == 0:
            while True:
                time.sleep(3600)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
out({"event": "listening", "port": server.server_address[1]})
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
