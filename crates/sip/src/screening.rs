//! Screening of each datagram before the SIP stack sees it.
//!
//! A datagram is passed on only if the stack's own parser accepts it (run here under
//! `catch_unwind`, so a parser panic on hostile input cannot take a socket task down) and it
//! carries the headers every transaction needs (RFC 3261 §8.1.1: Via, From, To, Call-ID, CSeq).
//! Otherwise:
//!
//! - a request whose start line and mandatory headers can still be read gets `400 Bad Request`
//!   (RFC 3261 §21.4.1), or `501 Not Implemented` when the only problem is a method the stack
//!   does not know (§21.5.2);
//! - anything else (garbage, responses, ACKs, which are never answered, and requests whose
//!   Via, From, To, Call-ID or CSeq hold control characters, which the reply would copy) is
//!   dropped.
//!
//! Keepalives (CRLF, RFC 5626 §3.5.1) pass through: the stack answers them.

use rsipstack::sip::SipMessage;
use rsipstack::sip::prelude::HeadersExt;

/// What to do with one datagram.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Hand it to the stack.
    Pass,
    /// Drop it silently; it was malformed.
    Drop,
    /// Answer with these bytes instead of passing it on.
    Reply {
        /// The response to send back to the source.
        response: Vec<u8>,
        /// Whether the message counts as malformed (false for a well-formed unknown method).
        malformed: bool,
    },
}

/// Decides the fate of one datagram.
pub(crate) fn screen(datagram: &[u8]) -> Verdict {
    if datagram.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Pass;
    }
    let parsed = std::panic::catch_unwind(|| SipMessage::try_from(datagram));
    match parsed {
        Ok(Ok(message)) if has_mandatory_headers(&message) => Verdict::Pass,
        _ => answer_raw(datagram),
    }
}

fn has_mandatory_headers(message: &SipMessage) -> bool {
    match message {
        SipMessage::Request(req) => {
            req.via_header().is_ok()
                && req.call_id_header().is_ok()
                && req.cseq_header().is_ok_and(|c| c.seq().is_ok())
                && req.to_header().is_ok()
                && req
                    .from_header()
                    .is_ok_and(|f| f.tag().is_ok_and(|t| t.is_some()))
        }
        SipMessage::Response(resp) => {
            resp.via_header().is_ok() && resp.call_id_header().is_ok() && resp.cseq_header().is_ok()
        }
    }
}

/// Methods the stack parses; a well-formed request with any other gets 501.
const KNOWN_METHODS: &[&str] = &[
    "ACK",
    "BYE",
    "CANCEL",
    "INFO",
    "INVITE",
    "MESSAGE",
    "NOTIFY",
    "OPTIONS",
    "PRACK",
    "PUBLISH",
    "REFER",
    "REGISTER",
    "SUBSCRIBE",
    "UPDATE",
];

/// Builds 400/501 from the raw text when enough of it is readable.
fn answer_raw(datagram: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(datagram) else {
        return Verdict::Drop;
    };
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.lines();
    let Some(start) = lines.next() else {
        return Verdict::Drop;
    };
    let mut parts = start.split(' ');
    let (Some(method), Some(uri), Some("SIP/2.0"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Verdict::Drop;
    };
    if !is_token(method) || uri.is_empty() || method.eq_ignore_ascii_case("ACK") {
        return Verdict::Drop;
    }

    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => vias.push(value),
            "from" | "f" => from = Some(value),
            "to" | "t" => to = Some(value),
            "call-id" | "i" => call_id = Some(value),
            "cseq" => cseq = Some(value),
            _ => {}
        }
    }
    let (Some(from), Some(to), Some(call_id), Some(cseq)) = (from, to, call_id, cseq) else {
        return Verdict::Drop;
    };
    if vias.is_empty() {
        return Verdict::Drop;
    }
    // The values are copied into the reply: a control character (a bare CR, say) would put
    // the peer's bytes outside the header they came in.
    let has_control = |v: &&str| v.chars().any(|c| c.is_control() && c != '\t');
    if vias
        .iter()
        .chain(&[from, to, call_id, cseq])
        .any(has_control)
    {
        return Verdict::Drop;
    }

    let known = KNOWN_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method));
    let (status, malformed) = if known {
        ("400 Bad Request", true)
    } else {
        ("501 Not Implemented", false)
    };
    let mut response = format!("SIP/2.0 {status}\r\n");
    for via in vias {
        response.push_str(&format!("Via: {via}\r\n"));
    }
    response.push_str(&format!("From: {from}\r\n"));
    if to.contains(";tag=") {
        response.push_str(&format!("To: {to}\r\n"));
    } else {
        response.push_str(&format!(
            "To: {to};tag={}\r\n",
            rsipstack::transaction::make_tag()
        ));
    }
    response.push_str(&format!(
        "Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
    ));
    Verdict::Reply {
        response: response.into_bytes(),
        malformed,
    }
}

/// RFC 3261 §25.1 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:earshot@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n\
        From: <sip:peer@127.0.0.1>;tag=abc\r\n\
        To: <sip:earshot@127.0.0.1>\r\n\
        Call-ID: screen-1\r\n\
        CSeq: 1 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";

    fn reply_text(verdict: Verdict) -> (String, bool) {
        match verdict {
            Verdict::Reply {
                response,
                malformed,
            } => (String::from_utf8(response).expect("ascii reply"), malformed),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn well_formed_request_passes() {
        assert_eq!(screen(OPTIONS.as_bytes()), Verdict::Pass);
    }

    #[test]
    fn keepalive_passes() {
        assert_eq!(screen(b"\r\n\r\n"), Verdict::Pass);
    }

    #[test]
    fn garbage_is_dropped() {
        assert_eq!(screen(b"\x00\x01\x02garbage"), Verdict::Drop);
        assert_eq!(screen(b"hello world"), Verdict::Drop);
        assert_eq!(screen(&[0xff; 300]), Verdict::Drop);
    }

    #[test]
    fn missing_call_id_gets_no_answer_without_it() {
        let msg = OPTIONS.replace("Call-ID: screen-1\r\n", "");
        assert_eq!(screen(msg.as_bytes()), Verdict::Drop);
    }

    #[test]
    fn missing_from_tag_gets_400() {
        let msg = OPTIONS.replace(";tag=abc", "");
        let (text, malformed) = reply_text(screen(msg.as_bytes()));
        assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("Call-ID: screen-1\r\n"));
        assert!(text.contains("To: <sip:earshot@127.0.0.1>;tag="));
        assert!(malformed);
    }

    #[test]
    fn bad_cseq_gets_400() {
        let msg = OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
        let (text, _) = reply_text(screen(msg.as_bytes()));
        assert!(text.starts_with("SIP/2.0 400"), "{text}");
        assert!(text.contains("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n"));
    }

    #[test]
    fn unknown_method_gets_501() {
        let msg = OPTIONS.replace("OPTIONS", "FROBNICATE");
        let (text, malformed) = reply_text(screen(msg.as_bytes()));
        assert!(
            text.starts_with("SIP/2.0 501 Not Implemented\r\n"),
            "{text}"
        );
        assert!(!malformed);
    }

    #[test]
    fn broken_ack_is_never_answered() {
        let msg = OPTIONS.replace("OPTIONS", "ACK").replace(";tag=abc", "");
        assert_eq!(screen(msg.as_bytes()), Verdict::Drop);
    }

    #[test]
    fn control_characters_in_copied_headers_are_never_echoed() {
        // A bare CR inside Via would have become a header line of its own in the 400.
        let msg = OPTIONS.replace(";tag=abc", "").replace(
            "branch=z9hG4bK-1\r\n",
            "branch=z9hG4bK-1\rX-Injected: 1\r\n",
        );
        assert_eq!(screen(msg.as_bytes()), Verdict::Drop);
        let msg = OPTIONS
            .replace(";tag=abc", "")
            .replace("Call-ID: screen-1", "Call-ID: screen\u{0}-1");
        assert_eq!(screen(msg.as_bytes()), Verdict::Drop);
        // A tab is whitespace, not a control character here.
        let msg = OPTIONS
            .replace(";tag=abc", "")
            .replace("CSeq: 1 OPTIONS", "CSeq: 1\tOPTIONS");
        let (text, _) = reply_text(screen(msg.as_bytes()));
        assert!(text.contains("CSeq: 1\tOPTIONS\r\n"), "{text}");
    }

    #[test]
    fn truncations_never_panic() {
        let bytes = OPTIONS.as_bytes();
        for len in 0..bytes.len() {
            let _ = screen(&bytes[..len]);
        }
    }

    #[test]
    fn byte_flips_never_panic() {
        let bytes = OPTIONS.as_bytes();
        for i in 0..bytes.len() {
            for flip in [0x00u8, 0xff, b':', b'\r', b'\n', b' ', b';', b'<'] {
                let mut copy = bytes.to_vec();
                copy[i] = flip;
                let _ = screen(&copy);
            }
        }
    }
}
