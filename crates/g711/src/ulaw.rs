//! µ-law (G.711 §2): 14-bit linear magnitude, bias 33, eight segments.
//!
//! A negative sample's magnitude is its one's complement (`!v`, that is `-v - 1`), as in the
//! ITU-T G.191 reference `ulaw_compress`. The Sun `g711.c` formulation negates instead (`-v`),
//! which puts every negative decision value one 14-bit step further from zero: samples -1..=-4
//! then encode as -8 instead of as "negative zero" (`0x7F`).

/// Largest 14-bit magnitude before the bias is added; larger inputs saturate.
const CLIP: i32 = 8159;
/// The bias of the 14-bit formulation (0x84 >> 2).
const BIAS: i32 = 0x21;
/// The 16-bit bias used when decoding.
const DECODE_BIAS: i32 = 0x84;

const fn encode14(v: i32) -> u8 {
    // `v` is the sample already shifted right by 2 (arithmetic, so it floors).
    let (mut mag, mask) = if v < 0 { (!v, 0x7F) } else { (v, 0xFF) };
    if mag > CLIP {
        mag = CLIP;
    }
    mag += BIAS;
    let mut seg = 0;
    while seg < 8 && mag > ((0x40 << seg) - 1) {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let uval = (seg << 4) | ((mag >> (seg + 1)) & 0xF);
    (uval as u8) ^ mask
}

const fn decode(code: u8) -> i16 {
    let u = !code as i32;
    let mut t = ((u & 0x0F) << 3) + DECODE_BIAS;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 {
        DECODE_BIAS - t
    } else {
        t - DECODE_BIAS
    }) as i16
}

/// Encoder table indexed by `(sample >> 2) + 8192`.
static ENCODE: [u8; 16384] = {
    let mut table = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        table[i] = encode14(i as i32 - 8192);
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

static TO_ALAW: [u8; 256] = crate::convert::ulaw_to_alaw_table();

/// Encodes a 16-bit linear sample as µ-law.
#[inline]
pub fn encode_ulaw(sample: i16) -> u8 {
    ENCODE[((sample >> 2) as i32 + 8192) as usize]
}

/// Decodes a µ-law code word to 16-bit linear PCM.
#[inline]
pub fn decode_ulaw(code: u8) -> i16 {
    DECODE[code as usize]
}

/// Converts a µ-law code word to A-law by G.711 Table 3.
///
/// This is not `encode_alaw(decode_ulaw(code))`: the standard's table differs from that
/// re-quantisation for 46 code words, and makes µ-law → A-law → µ-law change at most the least
/// significant bit.
#[inline]
pub fn ulaw_to_alaw(code: u8) -> u8 {
    TO_ALAW[code as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_word_round_trips_except_negative_zero() {
        for code in 0..=255u8 {
            let back = encode_ulaw(decode_ulaw(code));
            if code == 0x7F {
                assert_eq!(back, 0xFF, "negative zero encodes as positive zero");
            } else {
                assert_eq!(back, code, "code {code:#04x}");
            }
        }
    }

    #[test]
    fn extremes_saturate() {
        assert_eq!(encode_ulaw(i16::MAX), 0x80);
        assert_eq!(encode_ulaw(i16::MIN), 0x00);
        assert_eq!(decode_ulaw(0x80), 32124);
        assert_eq!(decode_ulaw(0x00), -32124);
    }
}
