//! [`Level`]: the RMS level of decoded samples, in dBFS.
//!
//! The reference is a full-scale square wave (RMS 32768), so a full-scale sine reads −3 dBFS
//! and a 16-bit sine of amplitude 8000 about −15 dBFS. Digital silence has no level: it reads
//! as `None` once formatted, never as a made-up floor.

/// Sums squares of samples; cheap enough to run on every sample received.
#[derive(Debug, Clone, Copy, Default)]
pub struct Level {
    sum_squares: f64,
    samples: u64,
}

impl Level {
    /// Adds one sample.
    #[inline]
    pub fn add(&mut self, sample: i16) {
        let s = f64::from(sample);
        self.sum_squares += s * s;
        self.samples += 1;
    }

    /// How many samples were added.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The RMS level in dBFS, or `None` without samples or when every sample was zero.
    pub fn dbfs(&self) -> Option<f64> {
        if self.samples == 0 || self.sum_squares == 0.0 {
            return None;
        }
        let rms = (self.sum_squares / self.samples as f64).sqrt();
        Some(20.0 * (rms / 32768.0).log10())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_reads_its_rms_and_silence_reads_nothing() {
        let mut l = Level::default();
        assert_eq!(l.dbfs(), None);
        for i in 0..8000 {
            l.add(
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 8000.0).sin())
                    as i16,
            );
        }
        let db = l.dbfs().expect("a level");
        // 8000/√2 over 32768: 20·log10(0.1726) = −15.26 dBFS.
        assert!((db + 15.26).abs() < 0.05, "{db}");
        let mut s = Level::default();
        s.add(0);
        assert_eq!(s.dbfs(), None);
        assert_eq!(s.samples(), 1);
    }
}
