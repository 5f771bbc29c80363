#!/usr/bin/env bash
# Regenerates the seed corpus in fuzz/corpus/<target>/ from real traffic and the docs:
#
# - SIP, SDP and RTP: one call placed by SIPp (`uac_pcap`, which plays g711a.pcap) to
#   `earshot serve`, captured with tcpdump on loopback; every SIP message, every SDP body and
#   a sample of the RTP packets both ways become seeds, plus RTP from SIPp's own pcaps;
# - tap_input: those RTP packets wrapped in the tap target's input format;
# - SWML: the JSON and YAML examples of docs/*.md, and the expressions in docs/swml.md;
# - WebSocket server frames: what Python's websockets library sends as a server (text,
#   binary, ping, pong, close), serialized by that library.
#
# Needs: a built earshot (cargo build -p earshot), sipp, tcpdump (root), /usr/bin/python3
# with python3-websockets. Uses UDP ports 45060-45199 on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=fuzz/corpus
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

earshot=${EARSHOT:-target/debug/earshot}
[ -x "$earshot" ] || cargo build -p earshot

# One SIPp call against earshot serve, captured.
tcpdump -i lo -U -s 0 -w "$work/call.pcap" 'udp and portrange 45060-45199' 2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q listening "$work/tcpdump.err" && break; sleep 0.1; done
"$earshot" serve --sip 127.0.0.1:45060 --sip-tcp off --rtp-ports 45100-45199 >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 50); do grep -q 45060 "$work/serve.log" && break; sleep 0.1; done
ln -s /usr/share/sip-tester "$work/pcap"  # uac_pcap plays pcap/g711a.pcap
(cd "$work" && sipp -sn uac_pcap 127.0.0.1:45060 -i 127.0.0.1 -mi 127.0.0.1 -ci 127.0.0.1 \
  -p 45070 -mp 45080 -m 1 -timeout 30 -nostdin >/dev/null 2>&1 || true)
# The test suites' caller scenarios: OPTIONS, CANCEL, hold and resume, rejections, PCMA 30 ms.
for scenario in crates/sip/tests/scenarios/options.xml crates/sip/tests/scenarios/uac_*.xml \
  crates/server/tests/scenarios/uac_*.xml; do
  (cd "$work" && sipp -sf "$OLDPWD/$scenario" 127.0.0.1:45060 -i 127.0.0.1 -mi 127.0.0.1 \
    -ci 127.0.0.1 -p 45070 -mp 45080 -m 1 -timeout 15 -nostdin >/dev/null 2>&1 || true)
done
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
sleep 0.5; kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true

cp "$work/call.pcap" /tmp/hard-call.pcap 2>/dev/null || true
/usr/bin/python3 fuzz/seed_corpus.py "$work/call.pcap" "$corpus"
