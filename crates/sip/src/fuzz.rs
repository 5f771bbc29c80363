//! Bodies for fuzz targets, so that a target outside the workspace is one line and the checks
//! live beside the code they check.
//!
//! Both bodies drive the screening that every UDP datagram passes before the SIP stack sees it
//! (the stack's parser under `catch_unwind`, then the raw 400/501 builder) and check what it
//! promises. A malformed input is an ordinary, silent outcome; a panic here is a bug.

use rsipstack::sip::SipMessage;

use crate::screening::{Verdict, screen as screen_datagram};

/// Screens `data` as one datagram and checks the verdict.
///
/// - `Verdict::Pass` only for whitespace (keepalives) or text the stack's parser accepts.
/// - A reply is one well-formed response: `SIP/2.0 400` (counted malformed) or `SIP/2.0 501`
///   (not counted), every line ending in CRLF with no bare CR or LF, one empty line at the
///   very end, and the stack's own parser reads it back as a response that carries Via,
///   Call-ID and CSeq.
///
/// # Panics
///
/// Only when one of those promises does not hold, which is a bug in the screening.
pub fn screen(data: &[u8]) {
    match screen_datagram(data) {
        Verdict::Pass => {
            let parses =
                std::panic::catch_unwind(|| SipMessage::try_from(data).is_ok()).unwrap_or(false);
            assert!(
                data.iter().all(u8::is_ascii_whitespace) || parses,
                "passed a datagram the stack does not parse"
            );
        }
        Verdict::Drop => {}
        Verdict::Reply {
            response,
            malformed,
        } => check_reply(&response, malformed),
    }
}

fn check_reply(response: &[u8], malformed: bool) {
    let text = std::str::from_utf8(response).expect("a reply is built from UTF-8 text");
    if text.starts_with("SIP/2.0 400 Bad Request\r\n") {
        assert!(malformed, "a 400 not counted as malformed");
    } else if text.starts_with("SIP/2.0 501 Not Implemented\r\n") {
        assert!(!malformed, "a 501 counted as malformed");
    } else {
        panic!("a reply that is neither 400 nor 501: {text:?}");
    }
    let head = text
        .strip_suffix("\r\n\r\n")
        .expect("a reply ends with an empty line");
    for line in head.split("\r\n") {
        assert!(
            !line.is_empty() && !line.contains(['\r', '\n']),
            "a reply line with a bare CR or LF, or an empty line inside the head: {line:?}"
        );
    }
    let parsed = std::panic::catch_unwind(|| SipMessage::try_from(response))
        .expect("the stack's parser panicked on our own reply");
    match parsed {
        Ok(SipMessage::Response(resp)) => {
            use rsipstack::sip::prelude::HeadersExt;
            assert!(resp.via_header().is_ok(), "a reply without Via");
            assert!(resp.call_id_header().is_ok(), "a reply without Call-ID");
            assert!(resp.cseq_header().is_ok(), "a reply without CSeq");
        }
        // The header values are the peer's, copied as written; the stack may find them
        // malformed, and the peer is then answered in its own terms.
        Ok(SipMessage::Request(_)) => panic!("a reply that parses as a request: {text:?}"),
        Err(_) => {}
    }
}

/// A real INVITE with an SDP offer, as SIPp's `uac` scenario sends it.
pub const INVITE: &str = "INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001\r\n\
To: service <sip:service@127.0.0.1:5060>\r\n\
Call-ID: 1-4711@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 129\r\n\
\r\n\
v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// Edits [`INVITE`] by the instructions in `data` and screens the result (see [`screen`]).
///
/// `data` is a list of edits, each `[op, line, len, bytes…]`: op 0 replaces the line's text
/// after its first `:` (or the whole line if it has none) with the `len` bytes, op 1 inserts
/// them as a new line before it, op 2 removes the line, op 3 replaces the start line's method,
/// and any other op appends the bytes to the body. `Content-Length` is kept true unless an edit
/// rewrites it. Structure keeps the message close to a real INVITE, so the fuzzer spends its
/// time on header values instead of rediscovering the start line.
///
/// # Panics
///
/// As [`screen`].
pub fn invite(data: &[u8]) {
    screen(&edited_invite(data));
}

fn edited_invite(data: &[u8]) -> Vec<u8> {
    let (head, body) = INVITE
        .split_once("\r\n\r\n")
        .expect("the INVITE has a body");
    let mut lines: Vec<Vec<u8>> = head.split("\r\n").map(|l| l.as_bytes().to_vec()).collect();
    let mut body = body.as_bytes().to_vec();
    let mut length_edited = false;
    let mut rest = data;
    while let [op, line, len, more @ ..] = rest {
        let take = usize::from(*len).min(more.len());
        let (bytes, after) = more.split_at(take);
        rest = after;
        let at = usize::from(*line) % lines.len().max(1);
        match op % 5 {
            0 if !lines.is_empty() => {
                let target = &mut lines[at];
                length_edited |= target.to_ascii_lowercase().starts_with(b"content-length");
                match target.iter().position(|&b| b == b':') {
                    Some(colon) => {
                        target.truncate(colon + 1);
                        target.push(b' ');
                        target.extend_from_slice(bytes);
                    }
                    None => *target = bytes.to_vec(),
                }
            }
            1 => lines.insert(at.min(lines.len()), bytes.to_vec()),
            2 if !lines.is_empty() => {
                lines.remove(at);
            }
            3 if !lines.is_empty() => {
                let start = &mut lines[0];
                let tail = start
                    .iter()
                    .position(|&b| b == b' ')
                    .map_or_else(Vec::new, |space| start[space..].to_vec());
                *start = bytes.to_vec();
                start.extend_from_slice(&tail);
            }
            _ => body.extend_from_slice(bytes),
        }
    }
    if !length_edited {
        let length = format!("Content-Length: {}", body.len()).into_bytes();
        for line in &mut lines {
            if line.to_ascii_lowercase().starts_with(b"content-length:") {
                line.clone_from(&length);
            }
        }
    }
    let mut message = lines.join(&b"\r\n"[..]);
    message.extend_from_slice(b"\r\n\r\n");
    message.extend_from_slice(&body);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invite_passes_screening() {
        assert_eq!(screen_datagram(INVITE.as_bytes()), Verdict::Pass);
        screen(INVITE.as_bytes());
        invite(&[]);
    }

    #[test]
    fn edits_reach_the_screening() {
        let reply_status = |data: &[u8]| match screen_datagram(&edited_invite(data)) {
            Verdict::Reply { response, .. } => response[..11].to_vec(),
            other => panic!("expected a reply, got {other:?}"),
        };
        // The From line without its tag: a 400 built from the raw text.
        let mut untagged = vec![0, 2, 25];
        untagged.extend_from_slice(b"sipp <sip:sipp@127.0.0.1>");
        assert_eq!(reply_status(&untagged), b"SIP/2.0 400");
        invite(&untagged);
        // An unknown method: 501.
        assert_eq!(reply_status(b"\x03\x00\x05FROBS"), b"SIP/2.0 501");
        // Without Call-ID nothing can be answered.
        assert_eq!(screen_datagram(&edited_invite(&[2, 4, 0])), Verdict::Drop);
        // Bytes added to the body keep Content-Length true: still a good INVITE.
        let longer = edited_invite(b"\x04\x00\x03a=x");
        assert!(String::from_utf8_lossy(&longer).contains("Content-Length: 132\r\n"));
        assert_eq!(screen_datagram(&longer), Verdict::Pass);
    }
}
