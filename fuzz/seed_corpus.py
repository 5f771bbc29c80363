#!/usr/bin/python3
"""Writes the fuzz seed corpus (see seed.sh): seed_corpus.py CALL_PCAP CORPUS_DIR.

Seeds are named seed-<SHA-1 of the content>; a run first removes the seed- files it wrote
before, and leaves any other file (crash-… inputs kept as regressions) in place.
"""
import glob
import hashlib
import os
import re
import struct
import sys

RTP_PCAPS = ["/usr/share/sip-tester/g711a.pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap"]
SIP_START = re.compile(rb"^(SIP/2\.0 \d{3}|[A-Z]+ sip:)")


def udp_payloads(path):
    """The UDP payloads of a classic pcap (Ethernet, Linux cooked, raw IPv4 or loopback)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    offset = 24
    while offset + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        frame = data[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        if linktype == 1:
            ip = frame[14:] if frame[12:14] == b"\x08\x00" else b""
        elif linktype == 113:
            ip = frame[16:] if frame[14:16] == b"\x08\x00" else b""
        elif linktype == 0:
            ip = frame[4:]
        else:
            ip = frame
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        yield ip[(ip[0] & 0x0F) * 4 + 8:]


def put(corpus, target, content):
    if isinstance(content, str):
        content = content.encode()
    if not content:
        return
    out = os.path.join(corpus, target)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "seed-" + hashlib.sha1(content).hexdigest()), "wb") as f:
        f.write(content)


def is_rtp(p):
    return len(p) >= 12 and p[0] >> 6 == 2 and not (200 <= p[1] <= 207)


def sip_invite_edits(message):
    """Edits for the sip_invite target: each captured header value put on the INVITE's line."""
    head = message.split(b"\r\n\r\n")[0].split(b"\r\n")
    edits = []
    for index, line in enumerate(head[1:12], start=1):
        value = line.split(b":", 1)[-1].strip()[:255]
        edits.append(bytes([0, index, len(value)]) + value)
    method = head[0].split(b" ")[0][:255]
    edits.append(bytes([3, 0, len(method)]) + method)
    return edits


def ws_frames():
    """Frames as Python's websockets library writes them as a server (unmasked)."""
    from websockets.frames import Close, Frame, Opcode

    def frame(opcode, data, fin=True):
        return Frame(opcode, data, fin).serialize(mask=False, extensions=[])

    close = frame(Opcode.CLOSE, Close(1000, "").serialize())
    seeds = [
        frame(Opcode.TEXT, b'{"event":"ack"}') + close,
        frame(Opcode.BINARY, bytes(range(160))) + close,
        frame(Opcode.PING, b"keepalive") + frame(Opcode.PONG, b"") + close,
        frame(Opcode.TEXT, b"par", fin=False) + frame(Opcode.CONT, b"tial") + close,
        frame(Opcode.BINARY, b"\xff" * 1000) + frame(Opcode.CLOSE, Close(1001, "going away").serialize()),
        frame(Opcode.CLOSE, Close(1011, "internal error").serialize()),
    ]
    # The first byte of each input is the read size of the target.
    return [bytes([n]) + s for n, s in zip([0, 7, 255, 3, 64, 1], seeds)]


def code_blocks(path, languages):
    text = open(path, encoding="utf-8").read()
    return re.findall(r"```(?:%s)\n(.*?)```" % "|".join(languages), text, re.S)


def main():
    pcap, corpus = sys.argv[1], sys.argv[2]
    for old in glob.glob(os.path.join(corpus, "*", "seed-*")):
        os.remove(old)
    rtp = []
    sip = []
    for payload in udp_payloads(pcap):
        if SIP_START.match(payload):
            sip.append(payload)
        elif is_rtp(payload):
            rtp.append(payload)
    for pcap_path in RTP_PCAPS:
        rtp.extend(p for p in udp_payloads(pcap_path) if is_rtp(p))
    if not sip:
        sys.exit("no SIP message in the capture")

    for message in sip:
        put(corpus, "sip_screen", message)
        for edit in sip_invite_edits(message):
            put(corpus, "sip_invite", edit)
        if b"\r\n\r\nv=0" in message:
            put(corpus, "sdp_answer", message.split(b"\r\n\r\n", 1)[1])
    put(corpus, "sip_invite", b"")

    sample = rtp[::100]
    for packet in sample:
        put(corpus, "rtp_parse", packet)
    # tap_input: [direction, codec, ptime, window], then (op 1|2, len, packet) and
    # (op 0, 20 ms in 10 µs units) steps, one packet per leg every 20 ms.
    for config in ([0, 0, 1, 10], [1, 1, 2, 25], [2, 2, 1, 15]):
        data = bytearray(config)
        for i, packet in enumerate(sample[:40]):
            data += bytes([1 + i % 2, min(len(packet), 255)]) + packet[:255]
            if i % 2:
                data += bytes([0]) + struct.pack("<H", 2000)
        data += bytes([3])
        put(corpus, "tap_input", bytes(data))

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    for doc in sorted(glob.glob(os.path.join(root, "docs", "*.md"))):
        for block in code_blocks(doc, ["yaml"]):
            if "sections" in block:
                put(corpus, "swml_yaml", block)
                put(corpus, "swml_check", block)
        for block in code_blocks(doc, ["json"]):
            if "sections" in block:
                put(corpus, "swml_json", block)
                put(corpus, "swml_check", block)
    # Documents the end-to-end tests run (raw string literals that hold `sections`).
    for test in sorted(glob.glob(os.path.join(root, "crates", "*", "tests", "*.rs"))):
        for block in re.findall(r'r#"(.*?)"#', open(test, encoding="utf-8").read(), re.S):
            if "sections" not in block or "{{" in block:
                continue
            target = "swml_json" if block.lstrip().startswith("{") else "swml_yaml"
            put(corpus, target, block)
    # YAML documents of the tests, written as ordinary string literals.
    sources = glob.glob(os.path.join(root, "crates", "swml", "src", "*.rs"))
    sources += glob.glob(os.path.join(root, "crates", "server", "tests", "*.rs"))
    for source in sorted(sources):
        text = open(source, encoding="utf-8").read()
        for literal in re.findall(r'"(version: 1\.0\.0\n(?:[^"\\]|\\.)*)"', text):
            literal = re.sub(r"\\\n\s*", "", literal)
            literal = literal.replace('\\"', '"').replace("\\n", "\n").replace("{{", "{").replace("}}", "}")
            put(corpus, "swml_yaml", literal)
            put(corpus, "swml_check", literal)
    swml_doc = open(os.path.join(root, "docs", "swml.md"), encoding="utf-8").read()
    expressions = re.findall(r"\$\{([^}]+)\}", swml_doc)
    expressions += [w.strip().strip('"') for w in re.findall(r"when: (.+)", swml_doc)]
    expr_tests = open(os.path.join(root, "crates", "swml", "src", "expr.rs"), encoding="utf-8").read()
    expressions += re.findall(r'\(r#"(.*?)"#,', expr_tests)
    expressions += [bytes(e, "utf-8").decode("unicode_escape") for e in re.findall(r'\("((?:[^"\\]|\\.)*)",', expr_tests)]
    for e in expressions:
        if e != "…":
            put(corpus, "swml_expr", e)
    for seed in ws_frames():
        put(corpus, "ws_server_frames", seed)


if __name__ == "__main__":
    main()
