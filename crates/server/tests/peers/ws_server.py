"""A WebSocket server (the python3-websockets library) that receives a tap and reports it.

Usage: ws_server.py MODE [ARG] [--tls CERT KEY]. Prints JSON lines on stdout:
  {"event": "listening", "port": P}            once, first
  {"event": "connection", ...}                 per connection, when it ends
  {"event": "vanishing", "binary": N}          vanish_after only, just before the exit
MODES
  receive          count binary messages, keep text messages, report the handshake headers
  drop_after N     abort the first connection after N binary messages; receive later ones
  vanish_after N   after N binary messages, the whole process exits at once (its sockets are
                   closed by the kernel, as when a receiver crashes)
  stall            complete the handshake by hand, then never read (a receive buffer of 4 KiB)
--tls CERT KEY serves wss:// with that PEM certificate chain and key (receive modes only).
The process exits when stdin closes (the test ends).
"""

import asyncio
import base64
import hashlib
import json
import os
import socket
import ssl
import sys

import websockets


def out(obj):
    print(json.dumps(obj), flush=True)


async def receive(mode, arg, tls):
    connections = 0

    async def handler(ws, path=None):
        nonlocal connections
        connections += 1
        index = connections
        binary = 0
        sizes = set()
        byte_values = set()
        texts = []
        error = None
        try:
            async for msg in ws:
                if isinstance(msg, bytes):
                    binary += 1
                    sizes.add(len(msg))
                    byte_values.update(set(msg))
                    if mode == "drop_after" and index == 1 and binary >= arg:
                        ws.transport.abort()
                        break
                    if mode == "vanish_after" and binary >= arg:
                        out({"event": "vanishing", "binary": binary})
                        os._exit(0)
                else:
                    texts.append(msg)
        except websockets.ConnectionClosed as e:
            error = str(e)
        headers = {k.lower(): v for k, v in ws.request_headers.raw_items()}
        out({
            "event": "connection",
            "index": index,
            "path": ws.path,
            "headers": headers,
            "binary": binary,
            "sizes": sorted(sizes),
            "byte_values": sorted(byte_values),
            "texts": texts,
            "close_code": ws.close_code,
            "error": error,
        })

    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls[0], tls[1])
    server = await websockets.serve(handler, "127.0.0.1", 0, ping_interval=None, ssl=context)
    port = server.sockets[0].getsockname()[1]
    out({"event": "listening", "port": port})
    await wait_stdin_closed()


async def stall():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    out({"event": "listening", "port": sock.getsockname()[1]})
    held = []

    async def serve():
        while True:
            conn, _ = await loop.sock_accept(sock)
            held.append(conn)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = await loop.sock_recv(conn, 4096)
                if not chunk:
                    break
                request += chunk
            key = ""
            for line in request.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(
                hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
            ).decode()
            response = (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n"
            )
            await loop.sock_sendall(conn, response.encode())
            out({"event": "handshake"})
            # Never read again.

    task = asyncio.ensure_future(serve())
    await wait_stdin_closed()
    task.cancel()


async def wait_stdin_closed():
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


def main():
    args = sys.argv[1:]
    tls = None
    if "--tls" in args:
        at = args.index("--tls")
        tls = args[at + 1:at + 3]
        del args[at:at + 3]
    mode = args[0]
    arg = int(args[1]) if len(args) > 1 else 0
    if mode == "stall":
        asyncio.run(stall())
    else:
        asyncio.run(receive(mode, arg, tls))


if __name__ == "__main__":
    main()
