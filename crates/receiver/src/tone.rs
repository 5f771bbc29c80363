//! Finding tones in decoded audio: the share of a block's energy at one frequency.
//!
//! `tone_share` correlates a block with a complex exponential at `hz` (a Goertzel filter
//! without the recursion) and divides the power found by the block's energy, so a pure sine
//! at `hz` reads 1.0, two equal sines read 0.5 each, and silence or noise read near 0. Blocks
//! of 100 ms hold whole cycles of every multiple of 10 Hz, so there is no leakage at those.

/// The share (0..=1) of `block`'s energy at `hz`, for samples at `rate_hz`; 0 for silence.
pub fn tone_share(block: &[i16], hz: f64, rate_hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / rate_hz;
    let (mut re, mut im, mut energy) = (0.0f64, 0.0f64, 0.0f64);
    for (n, &s) in block.iter().enumerate() {
        let x = f64::from(s);
        let phase = w * n as f64;
        re += x * phase.cos();
        im += x * phase.sin();
        energy += x * x;
    }
    if energy == 0.0 {
        return 0.0;
    }
    (2.0 * (re * re + im * im) / (block.len() as f64 * energy)).min(1.0)
}

/// For each block of `block_len` samples of `samples`, the share of energy at `hz`.
pub fn tone_shares(samples: &[i16], hz: f64, rate_hz: f64, block_len: usize) -> Vec<f64> {
    samples
        .chunks_exact(block_len.max(1))
        .map(|b| tone_share(b, hz, rate_hz))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn a_tone_is_found_at_its_frequency_only() {
        let s = sine(440.0, 800);
        assert!(tone_share(&s, 440.0, 8000.0) > 0.99);
        assert!(tone_share(&s, 660.0, 8000.0) < 0.01);
        let mix: Vec<i16> = sine(440.0, 800)
            .iter()
            .zip(sine(1200.0, 800))
            .map(|(a, b)| a / 2 + b / 2)
            .collect();
        let (a, b) = (
            tone_share(&mix, 440.0, 8000.0),
            tone_share(&mix, 1200.0, 8000.0),
        );
        assert!((a - 0.5).abs() < 0.02 && (b - 0.5).abs() < 0.02, "{a} {b}");
        assert_eq!(tone_share(&[0; 800], 440.0, 8000.0), 0.0);
        assert_eq!(tone_shares(&s, 440.0, 8000.0, 400).len(), 2);
    }
}
