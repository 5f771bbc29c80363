//! Entry points for fuzz targets: their bodies live here so that `cargo test` builds them.
//!
//! Invariants checked: nothing panics on any input, and an answer we write parses again and
//! negotiates the same media when fed back as the answer to an equivalent offer.

use std::net::{IpAddr, Ipv4Addr};

use crate::{Description, LocalMedia, SdpSession};

/// Parses `data` as an offer and answers it; if that succeeds, re-parses our answer.
///
/// Panics only if our own answer does not parse or contradicts itself, which is a bug.
pub fn parse_and_answer(data: &[u8]) {
    let local = LocalMedia::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 40000);
    let mut session = SdpSession::new(1, local);
    let Ok(answer) = session.answer_offer(data) else {
        return;
    };
    let parsed =
        Description::parse(answer.sdp.as_bytes()).expect("an answer we wrote must parse as SDP");
    let offer = Description::parse(data).expect("an offer we answered parsed once already");
    assert_eq!(
        parsed.media.len(),
        offer.media.len(),
        "an answer must have one m-line per offered m-line"
    );
    let ours = parsed
        .media
        .iter()
        .find(|m| !m.is_rejected())
        .expect("a successful answer accepts one stream");
    assert_eq!(
        ours.g711_payloads().next(),
        Some((answer.media.payload_type, answer.media.codec)),
        "the answer lists the negotiated codec"
    );
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::samples;

    #[test]
    fn samples_survive_the_fuzz_body() {
        for sample in [
            samples::SIPP_PCMU,
            samples::SIPP_PCMA,
            samples::LINPHONE,
            samples::ASTERISK,
            samples::IPV6,
            samples::HOLD_SENDONLY,
            samples::HOLD_ZERO_ADDRESS,
            samples::NO_COMMON_CODEC,
            samples::AUDIO_AND_T38,
        ] {
            parse_and_answer(sample.as_bytes());
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(text in any::<String>()) {
            parse_and_answer(text.as_bytes());
        }

        /// Offers that mostly parse, so that the answer path runs too.
        #[test]
        fn mutated_offers_never_panic(
            port in any::<u16>(),
            formats in proptest::collection::vec(0u8..130, 1..6),
            extra in proptest::collection::vec(
                "a=(rtpmap|fmtp|ptime|maxptime|sendonly|recvonly|inactive)(:[ -~]{0,20})?|c=IN IP[46] [0-9a-f.:]{1,16}|m=(audio|video|image) [0-9]{1,5} (RTP/AVP|udptl) [0-9a-z]{1,3}",
                0..8,
            ),
        ) {
            let formats: Vec<String> = formats.iter().map(u8::to_string).collect();
            let text = format!(
                "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                 m=audio {port} RTP/AVP {}\r\n{}\r\n",
                formats.join(" "),
                extra.join("\r\n"),
            );
            parse_and_answer(text.as_bytes());
        }
    }
}
