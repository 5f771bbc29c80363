//! A-law (G.711 §3): 13-bit linear magnitude, eight segments, even bits inverted (0x55).
//!
//! A negative sample's magnitude is its one's complement (`-v - 1`), as in both the ITU-T G.191
//! reference `alaw_compress` and the Sun `g711.c` formulation.

const fn segment(v: i32) -> u32 {
    let mut seg = 0;
    while seg < 8 && v > ((0x20 << seg) - 1) {
        seg += 1;
    }
    seg
}

/// Encodes a sample already shifted right by 3 (arithmetic, so it floors).
const fn encode13(v: i32) -> u8 {
    let (mag, mask) = if v >= 0 { (v, 0xD5) } else { (-v - 1, 0x55) };
    let seg = segment(mag);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut aval = (seg as i32) << 4;
    if seg < 2 {
        aval |= (mag >> 1) & 0x0F;
    } else {
        aval |= (mag >> seg) & 0x0F;
    }
    (aval as u8) ^ mask
}

const fn decode(code: u8) -> i16 {
    let a = (code ^ 0x55) as i32;
    let mut t = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Encoder table indexed by `(sample >> 3) + 4096`.
static ENCODE: [u8; 8192] = {
    let mut table = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        table[i] = encode13(i as i32 - 4096);
        i += 1;
    }
    table
};

static DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = decode(i as u8);
        i += 1;
    }
    table
};

static TO_ULAW: [u8; 256] = crate::convert::alaw_to_ulaw_table();

/// Encodes a 16-bit linear sample as A-law.
#[inline]
pub fn encode_alaw(sample: i16) -> u8 {
    ENCODE[((sample >> 3) as i32 + 4096) as usize]
}

/// Decodes an A-law code word to 16-bit linear PCM.
#[inline]
pub fn decode_alaw(code: u8) -> i16 {
    DECODE[code as usize]
}

/// Converts an A-law code word to µ-law by G.711 Table 4.
///
/// This is not `encode_ulaw(decode_alaw(code))`: the standard's table differs from that
/// re-quantisation for 34 code words, and makes A-law → µ-law → A-law change at most the least
/// significant bit.
#[inline]
pub fn alaw_to_ulaw(code: u8) -> u8 {
    TO_ULAW[code as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_word_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(encode_alaw(decode_alaw(code)), code, "code {code:#04x}");
        }
    }

    #[test]
    fn extremes_saturate() {
        assert_eq!(encode_alaw(i16::MAX), 0xAA);
        assert_eq!(encode_alaw(i16::MIN), 0x2A);
        assert_eq!(decode_alaw(0xAA), 32256);
        assert_eq!(decode_alaw(0x2A), -32256);
    }
}
