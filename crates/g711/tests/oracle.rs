//! Every input of every function, compared with `audio-codec-algorithms`, whose encoders are
//! checked upstream against output of the ITU-T G.191 tools for all 65,536 samples and whose
//! transcoding tables are derived from G.711 Tables 3 and 4.

use audio_codec_algorithms as oracle;
use g711::Law;

fn all_samples() -> impl Iterator<Item = i16> {
    i16::MIN..=i16::MAX
}

#[test]
fn ulaw_encoder_matches_for_all_65536_samples() {
    let wrong: Vec<i16> = all_samples()
        .filter(|&x| g711::encode_ulaw(x) != oracle::encode_ulaw(x))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} samples differ, first {:?}",
        wrong.len(),
        &wrong[..8.min(wrong.len())]
    );
}

#[test]
fn alaw_encoder_matches_for_all_65536_samples() {
    let wrong: Vec<i16> = all_samples()
        .filter(|&x| g711::encode_alaw(x) != oracle::encode_alaw(x))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} samples differ, first {:?}",
        wrong.len(),
        &wrong[..8.min(wrong.len())]
    );
}

#[test]
fn decoders_match_for_all_256_code_words() {
    for code in 0..=255u8 {
        assert_eq!(
            g711::decode_ulaw(code),
            oracle::decode_ulaw(code),
            "µ-law {code:#04x}"
        );
        assert_eq!(
            g711::decode_alaw(code),
            oracle::decode_alaw(code),
            "A-law {code:#04x}"
        );
    }
}

#[test]
fn transcoding_matches_g711_tables_3_and_4() {
    for code in 0..=255u8 {
        assert_eq!(
            g711::ulaw_to_alaw(code),
            oracle::convert_ulaw_to_alaw(code),
            "µ {code:#04x}"
        );
        assert_eq!(
            g711::alaw_to_ulaw(code),
            oracle::convert_alaw_to_ulaw(code),
            "A {code:#04x}"
        );
    }
}

#[test]
fn law_dispatches_to_the_same_functions() {
    for x in all_samples() {
        assert_eq!(Law::Ulaw.encode(x), oracle::encode_ulaw(x));
        assert_eq!(Law::Alaw.encode(x), oracle::encode_alaw(x));
    }
    for code in 0..=255u8 {
        assert_eq!(Law::Ulaw.decode(code), oracle::decode_ulaw(code));
        assert_eq!(Law::Alaw.decode(code), oracle::decode_alaw(code));
        assert_eq!(
            Law::Alaw.transcode_from(Law::Ulaw, code),
            oracle::convert_ulaw_to_alaw(code)
        );
        assert_eq!(
            Law::Ulaw.transcode_from(Law::Alaw, code),
            oracle::convert_alaw_to_ulaw(code)
        );
        assert_eq!(Law::Ulaw.transcode_from(Law::Ulaw, code), code);
        assert_eq!(Law::Alaw.transcode_from(Law::Alaw, code), code);
    }
    let mut buf: Vec<u8> = (0..=255u8).collect();
    Law::Alaw.transcode_in_place(Law::Ulaw, &mut buf);
    let expected: Vec<u8> = (0..=255u8).map(oracle::convert_ulaw_to_alaw).collect();
    assert_eq!(buf, expected);
}

/// The Sun `g711.c` µ-law encoder, which this crate followed before: it negates a negative
/// sample (`-v`) where G.191 takes the one's complement (`!v`).
fn sun_encode_ulaw(sample: i16) -> u8 {
    let v = i32::from(sample >> 2);
    let (mag, mask) = if v < 0 { (-v, 0x7F) } else { (v, 0xFF) };
    let mag = mag.min(8159) + 33;
    let seg = (0..8).find(|&s| mag < (0x40 << s)).unwrap_or(8);
    if seg == 8 {
        return 0x7F ^ mask;
    }
    (((seg << 4) | ((mag >> (seg + 1)) & 0xF)) as u8) ^ mask
}

/// Pins how the Sun formulation differs from G.191, so that a regression to it is recognised:
/// exactly the four negative samples at each of the 127 negative decision values, where Sun's
/// code word is one step further from zero: samples -1..=-4 become -8 rather than negative zero.
#[test]
fn sun_ulaw_differs_from_g191_only_one_step_out_on_negative_decision_values() {
    let differ: Vec<i16> = all_samples()
        .filter(|&x| sun_encode_ulaw(x) != oracle::encode_ulaw(x))
        .collect();
    assert_eq!(differ.len(), 4 * 127);
    assert_eq!(differ.last(), Some(&-1));
    assert_eq!(differ.first(), Some(&-31612));
    for &x in &differ {
        assert!(x < 0);
        // µ-law negative code words count down towards 0x00 as the magnitude grows.
        assert_eq!(sun_encode_ulaw(x) + 1, oracle::encode_ulaw(x), "sample {x}");
    }
    // Sun's 14-bit magnitude is ceil(|x|/4), G.191's floor((|x|-1)/4): always one apart, so the
    // code words differ where that step crosses a decision value, for all four samples sharing
    // one `x >> 2`.
    for group in differ.chunks(4) {
        assert!(
            group.iter().all(|&x| x >> 2 == group[0] >> 2),
            "group {group:?}"
        );
    }
    assert_eq!(sun_encode_ulaw(-1), 0x7E);
    assert_eq!(oracle::encode_ulaw(-1), 0x7F);
}
