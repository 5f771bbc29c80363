//! WAV files (RIFF, `fmt ` + `data` chunks) as G.711 audio to play.
//!
//! Accepted: 8 kHz mono, as 16-bit linear PCM (format 1), A-law (6) or µ-law (7). Anything
//! else is an error that says what the file holds: earshot does not resample.

use g711::Law;
use media::Playback;

/// Why a WAV file cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// Not a RIFF/WAVE file, or a chunk runs past the end.
    #[error("not a WAV file: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// A format earshot does not play.
    #[error(
        "unsupported WAV format {format}, {channels} channel(s), {rate_hz} Hz, {bits} bits: \
         expected 8000 Hz mono PCM 16-bit, A-law or µ-law"
    )]
    Unsupported {
        /// The format tag.
        format: u16,
        /// Channels.
        channels: u16,
        /// Sample rate.
        rate_hz: u32,
        /// Bits per sample.
        bits: u16,
    },
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes `file` into samples of `law`.
pub fn decode(file: &[u8], law: Law) -> Result<Playback, WavError> {
    let malformed = |what| WavError::Malformed { what };
    if file.get(0..4) != Some(b"RIFF") || file.get(8..12) != Some(b"WAVE") {
        return Err(malformed("no RIFF/WAVE header"));
    }
    let mut at = 12;
    let mut fmt = None;
    while let (Some(id), Some(len)) = (file.get(at..at + 4), u32_at(file, at + 4)) {
        let body = at + 8;
        let end = body
            .checked_add(len as usize)
            .ok_or(malformed("chunk too long"))?;
        match id {
            b"fmt " => {
                let chunk = file
                    .get(body..end)
                    .ok_or(malformed("fmt chunk runs past the end"))?;
                fmt = Some((
                    u16_at(chunk, 0).ok_or(malformed("short fmt chunk"))?,
                    u16_at(chunk, 2).ok_or(malformed("short fmt chunk"))?,
                    u32_at(chunk, 4).ok_or(malformed("short fmt chunk"))?,
                    u16_at(chunk, 14).ok_or(malformed("short fmt chunk"))?,
                ));
            }
            b"data" => {
                let (format, channels, rate_hz, bits) = fmt.ok_or(malformed("data before fmt"))?;
                // A data chunk may claim more than was written (streamed files): take what is there.
                let data = &file[body.min(file.len())..end.min(file.len())];
                let unsupported = WavError::Unsupported {
                    format,
                    channels,
                    rate_hz,
                    bits,
                };
                if channels != 1 || rate_hz != 8000 {
                    return Err(unsupported);
                }
                let samples: Vec<u8> = match (format, bits) {
                    (1, 16) => data
                        .chunks_exact(2)
                        .map(|s| law.encode(i16::from_le_bytes([s[0], s[1]])))
                        .collect(),
                    (6, 8) => data
                        .iter()
                        .map(|&c| law.transcode_from(Law::Alaw, c))
                        .collect(),
                    (7, 8) => data
                        .iter()
                        .map(|&c| law.transcode_from(Law::Ulaw, c))
                        .collect(),
                    _ => return Err(unsupported),
                };
                return Ok(Playback::new(law, samples));
            }
            _ => {}
        }
        at = end + (len as usize & 1);
    }
    Err(malformed("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(format: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut w = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&format.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&rate.to_le_bytes());
        w.extend_from_slice(&(rate * u32::from(bits) / 8).to_le_bytes());
        w.extend_from_slice(&(bits / 8).to_le_bytes());
        w.extend_from_slice(&bits.to_le_bytes());
        w.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        w.extend_from_slice(b"data");
        w.extend_from_slice(&(data.len() as u32).to_le_bytes());
        w.extend_from_slice(data);
        w
    }

    #[test]
    fn pcm_and_g711_files_decode() {
        let pcm: Vec<u8> = [0i16, 1000, -1000]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let p = decode(&wav(1, 8000, 16, &pcm), Law::Ulaw).expect("PCM plays");
        assert_eq!(
            p.samples(),
            &[0xFF, Law::Ulaw.encode(1000), Law::Ulaw.encode(-1000)]
        );
        let p = decode(&wav(6, 8000, 8, &[0xD5, 0x2A]), Law::Alaw).expect("A-law plays");
        assert_eq!(p.samples(), &[0xD5, 0x2A]);
        let p = decode(&wav(7, 8000, 8, &[0xFF]), Law::Alaw).expect("µ-law plays");
        assert_eq!(p.samples(), &[Law::Alaw.transcode_from(Law::Ulaw, 0xFF)]);
    }

    #[test]
    fn what_cannot_be_played_says_why() {
        assert!(matches!(
            decode(&wav(1, 16000, 16, &[0; 4]), Law::Ulaw),
            Err(WavError::Unsupported { rate_hz: 16000, .. })
        ));
        assert!(matches!(
            decode(b"RIFF", Law::Ulaw),
            Err(WavError::Malformed { .. })
        ));
        let mut cut = wav(1, 8000, 16, &[0; 4]);
        cut.truncate(30);
        assert!(decode(&cut, Law::Ulaw).is_err());
    }
}
