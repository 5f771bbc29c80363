//! Golden vectors that pin the encoders, decoders and transcoding tables without any oracle:
//! FNV-1a hashes over every output, a hand-checked list of samples at the decision values, and
//! the properties G.711 states for its transcoding tables.

/// 64-bit FNV-1a: small, and any change to a single output changes it.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn all_samples() -> impl Iterator<Item = i16> {
    i16::MIN..=i16::MAX
}

#[test]
fn hashes_of_all_outputs() {
    // Encoders: one byte per sample, from -32768 up to 32767.
    assert_eq!(
        fnv1a(all_samples().map(g711::encode_ulaw)),
        0x04ec_1f08_3fd7_8c2d
    );
    assert_eq!(
        fnv1a(all_samples().map(g711::encode_alaw)),
        0xf030_666e_b780_cf25
    );
    // Decoders: big-endian i16 per code word, from 0x00 up to 0xFF.
    let ulaw = (0..=255u8).flat_map(|c| g711::decode_ulaw(c).to_be_bytes());
    assert_eq!(fnv1a(ulaw), 0x35db_6cdb_59d9_ed02);
    let alaw = (0..=255u8).flat_map(|c| g711::decode_alaw(c).to_be_bytes());
    assert_eq!(fnv1a(alaw), 0x9467_8010_07b7_bca5);
    // Transcoding tables.
    assert_eq!(
        fnv1a((0..=255u8).map(g711::ulaw_to_alaw)),
        0x6af1_43f5_90f3_15c1
    );
    assert_eq!(
        fnv1a((0..=255u8).map(g711::alaw_to_ulaw)),
        0x3727_785c_912e_af25
    );
}

/// `(sample, µ-law, A-law)` at and around the decision values. µ-law segment `k` starts where
/// `(sample >> 2) + 33` reaches `64 << k`, A-law segment `k` where `sample >> 3` reaches
/// `16 << k`; a negative sample has the magnitude of `!sample`, so its boundaries sit one sample
/// further from zero than the positive ones.
const BOUNDARIES: &[(i16, u8, u8)] = &[
    (0, 0xff, 0xd5),
    (1, 0xff, 0xd5),
    (3, 0xff, 0xd5),
    (4, 0xfe, 0xd5), // first µ-law step
    (7, 0xfe, 0xd5),
    (8, 0xfe, 0xd5),
    (-1, 0x7f, 0x55), // µ-law negative zero
    (-2, 0x7f, 0x55),
    (-4, 0x7f, 0x55),
    (-5, 0x7e, 0x55), // first negative µ-law step
    (-8, 0x7e, 0x55),
    (-9, 0x7e, 0x55),
    (123, 0xf0, 0xd2),
    (124, 0xef, 0xd2), // µ-law segment 1
    (127, 0xef, 0xd2),
    (-124, 0x70, 0x52),
    (-125, 0x6f, 0x52),
    (-128, 0x6f, 0x52),
    (-129, 0x6f, 0x5d),
    (255, 0xe7, 0xda),
    (256, 0xe7, 0xc5), // A-law segment 1
    (-256, 0x67, 0x5a),
    (-257, 0x67, 0x45),
    (-264, 0x67, 0x45),
    (-265, 0x67, 0x45),
    (379, 0xe0, 0xc2),
    (380, 0xdf, 0xc2), // µ-law segment 2
    (-380, 0x60, 0x42),
    (-381, 0x5f, 0x42),
    (511, 0xdb, 0xca),
    (512, 0xdb, 0xf5), // A-law segment 2
    (891, 0xd0, 0xfe),
    (892, 0xcf, 0xfe), // µ-law segment 3
    (1023, 0xcd, 0xfa),
    (1024, 0xcd, 0xe5), // A-law segment 3
    (1915, 0xc0, 0xe8),
    (1916, 0xbf, 0xe8), // µ-law segment 4
    (2047, 0xbe, 0xea),
    (2048, 0xbe, 0x95), // A-law segment 4
    (3963, 0xb0, 0x9b),
    (3964, 0xaf, 0x9b), // µ-law segment 5
    (4095, 0xaf, 0x9a),
    (4096, 0xaf, 0x85), // A-law segment 5
    (8059, 0xa0, 0x8a),
    (8060, 0x9f, 0x8a), // µ-law segment 6
    (8191, 0x9f, 0x8a),
    (8192, 0x9f, 0xb5), // A-law segment 6
    (16251, 0x90, 0xba),
    (16252, 0x8f, 0xba), // µ-law segment 7
    (16383, 0x8f, 0xba),
    (16384, 0x8f, 0xa5), // A-law segment 7
    (31611, 0x81, 0xab),
    (31612, 0x80, 0xab), // µ-law saturates
    (-31612, 0x01, 0x2b),
    (-31613, 0x00, 0x2b),
    (32767, 0x80, 0xaa),
    (-32768, 0x00, 0x2a),
];

#[test]
fn boundary_samples_encode_to_hand_checked_code_words() {
    for &(sample, ulaw, alaw) in BOUNDARIES {
        assert_eq!(g711::encode_ulaw(sample), ulaw, "µ-law of {sample}");
        assert_eq!(g711::encode_alaw(sample), alaw, "A-law of {sample}");
    }
}

/// The 256 decoded values of a law, and the code word of each.
fn levels(decode: fn(u8) -> i16) -> Vec<(i16, u8)> {
    let mut levels: Vec<(i16, u8)> = (0..=255u8).map(|c| (decode(c), c)).collect();
    levels.sort();
    levels
}

fn assert_quantises(law: &str, encode: fn(i16) -> u8, decode: fn(u8) -> i16) {
    let levels = levels(decode);
    let mut prev = decode(encode(i16::MIN));
    for x in all_samples() {
        let level = decode(encode(x));
        // Monotone: a larger sample never decodes smaller.
        assert!(level >= prev, "{law}: {x} decodes to {level}, below {prev}");
        prev = level;
        // Within the step around the sample: no other level lies strictly between the sample and
        // the level it was given, except past the outermost levels.
        let (lo, hi) = if level <= x { (level, x) } else { (x, level) };
        let between = levels.iter().filter(|&&(v, _)| v > lo && v < hi).count();
        assert_eq!(between, 0, "{law}: {x} decodes to {level}, skipping levels");
    }
}

#[test]
fn encoders_quantise_monotonically_to_a_neighbouring_level() {
    assert_quantises("µ-law", g711::encode_ulaw, g711::decode_ulaw);
    assert_quantises("A-law", g711::encode_alaw, g711::decode_alaw);
}

#[test]
fn decoded_values_are_symmetric_and_distinct() {
    for code in 0..=127u8 {
        // Sign is the top bit of the code word: µ-law 0x80.. positive, A-law 0x80.. positive.
        assert_eq!(
            g711::decode_ulaw(code),
            -g711::decode_ulaw(code | 0x80),
            "µ {code:#04x}"
        );
        assert_eq!(
            g711::decode_alaw(code),
            -g711::decode_alaw(code | 0x80),
            "A {code:#04x}"
        );
    }
    let mut a: Vec<i16> = (0..=255u8).map(g711::decode_alaw).collect();
    a.sort();
    a.dedup();
    assert_eq!(a.len(), 256, "A-law has no zero, so all 256 levels differ");
    let mut u: Vec<i16> = (0..=255u8).map(g711::decode_ulaw).collect();
    u.sort();
    u.dedup();
    assert_eq!(u.len(), 255, "µ-law has two zeros");
}

/// G.711 (11/88) Table 3 note 2 and Table 4 note 2: a double conversion changes only bit 8
/// (the least significant bit), for µ-law numbers 0, 2, …, 14 (µ → A → µ) and A-law numbers 26,
/// 28, 30, 32, 45, 47, 63 and 80 (A → µ → A).
#[test]
fn double_conversion_is_transparent_except_where_g711_says() {
    for code in 0..=255u8 {
        let u_number = (code ^ 0xFF) & 0x7F;
        let back = g711::alaw_to_ulaw(g711::ulaw_to_alaw(code));
        if u_number < 16 && u_number % 2 == 0 {
            assert_eq!(back, code ^ 1, "µ {code:#04x} (number {u_number})");
            // The number goes up by one, so the magnitude decoded grows by one step.
            assert!(g711::decode_ulaw(back).abs() > g711::decode_ulaw(code).abs());
        } else {
            assert_eq!(back, code, "µ {code:#04x} (number {u_number})");
        }

        let a_number = ((code ^ 0xD5) & 0x7F) + 1;
        let back = g711::ulaw_to_alaw(g711::alaw_to_ulaw(code));
        if [26, 28, 30, 32, 45, 47, 63, 80].contains(&a_number) {
            assert_eq!(back, code ^ 1, "A {code:#04x} (number {a_number})");
        } else {
            assert_eq!(back, code, "A {code:#04x} (number {a_number})");
        }
    }
}

/// The transcoding tables keep the sign and land on a level next to plain re-quantisation
/// (`encode(decode(code))`), from which they differ for exactly 46 µ-law and 34 A-law code words.
#[test]
fn transcoding_stays_next_to_requantisation() {
    fn check(
        name: &str,
        convert: fn(u8) -> u8,
        decode_from: fn(u8) -> i16,
        encode_to: fn(i16) -> u8,
        decode_to: fn(u8) -> i16,
    ) -> usize {
        let levels = levels(decode_to);
        let rank = |c: u8| levels.iter().position(|&(_, code)| code == c);
        let mut differ = 0;
        for code in 0..=255u8 {
            let table = convert(code);
            let requantised = encode_to(decode_from(code));
            assert_eq!(
                table & 0x80,
                code & 0x80,
                "{name} {code:#04x} keeps the sign bit"
            );
            if table != requantised {
                differ += 1;
                let (a, b) = (rank(table), rank(requantised));
                assert!(
                    a.zip(b).is_some_and(|(a, b)| a.abs_diff(b) == 1),
                    "{name} {code:#04x}"
                );
            }
        }
        differ
    }
    let u = check(
        "µ→A",
        g711::ulaw_to_alaw,
        g711::decode_ulaw,
        g711::encode_alaw,
        g711::decode_alaw,
    );
    let a = check(
        "A→µ",
        g711::alaw_to_ulaw,
        g711::decode_alaw,
        g711::encode_ulaw,
        g711::decode_ulaw,
    );
    assert_eq!((u, a), (46, 34));
    // µ-law negative zero goes to the smallest negative A-law level, not the positive one.
    assert_eq!(g711::ulaw_to_alaw(0x7F), 0x55);
    assert_eq!(g711::ulaw_to_alaw(0xFF), 0xD5);
}

#[test]
fn every_code_word_survives_decode_then_encode() {
    for code in 0..=255u8 {
        assert_eq!(
            g711::encode_alaw(g711::decode_alaw(code)),
            code,
            "A {code:#04x}"
        );
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            g711::encode_ulaw(g711::decode_ulaw(code)),
            expected,
            "µ {code:#04x}"
        );
    }
}
