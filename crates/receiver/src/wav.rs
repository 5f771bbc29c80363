//! WAV files of received streams: 8 kHz, 16-bit linear PCM (format 1), mono or stereo.
//!
//! G.711 is decoded on the way in, so any player and any speech engine reads the files; the
//! decoding is the exact G.711 table, so the µ-law or A-law bytes can be recovered from the
//! samples. Audio is placed by packet number, not by arrival: a lost packet leaves 20 ms of
//! zeros in its place (the file stays on the call's timeline), a reordered one is written
//! where it belongs. The header's sizes are rewritten at every [`WavWriter::flush`], so a file
//! is readable while it grows and after the receiver is killed.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use g711::Law;

use crate::ReceiverError;

const HEADER_LEN: u64 = 44;
/// The RIFF sizes are 32-bit: stop short of them.
const MAX_DATA: u64 = u32::MAX as u64 - HEADER_LEN;

/// A WAV file being written.
#[derive(Debug)]
pub struct WavWriter {
    path: PathBuf,
    file: BufWriter<File>,
    channels: u16,
    /// Bytes of PCM data in the file (the furthest extent written).
    data_len: u64,
    /// Where the file's cursor is, as a data offset.
    cursor: u64,
    full: bool,
}

impl WavWriter {
    /// Creates (or truncates) `path` with an empty mono file's header.
    pub fn create(path: &Path) -> Result<WavWriter, ReceiverError> {
        let file = File::create(path).map_err(|source| ReceiverError::WavWrite {
            path: path.to_path_buf(),
            source,
        })?;
        let mut w = WavWriter {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            channels: 1,
            data_len: 0,
            cursor: 0,
            full: false,
        };
        w.write_header()?;
        Ok(w)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the channel count the header declares (samples are interleaved as they come).
    pub fn set_channels(&mut self, channels: u16) {
        self.channels = channels.max(1);
    }

    /// Whether the file reached the 4 GiB limit of WAV and takes no more audio.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// How many samples (of all channels) the file holds.
    pub fn samples(&self) -> u64 {
        self.data_len / 2
    }

    /// Writes `codes` of `law`, decoded, at sample position `at` (counting every channel's
    /// samples); a gap before it is filled with zeros.
    pub fn write_at(&mut self, at: u64, codes: &[u8], law: Law) -> Result<(), ReceiverError> {
        let start = at * 2;
        let end = start + 2 * codes.len() as u64;
        if end > MAX_DATA {
            self.full = true;
            return Ok(());
        }
        let io = |source| ReceiverError::WavWrite {
            path: self.path.clone(),
            source,
        };
        if start > self.data_len {
            if self.cursor != self.data_len {
                self.file
                    .seek(SeekFrom::Start(HEADER_LEN + self.data_len))
                    .map_err(io)?;
            }
            let zeros = vec![0u8; (start - self.data_len) as usize];
            self.file.write_all(&zeros).map_err(io)?;
        } else if self.cursor != start {
            self.file
                .seek(SeekFrom::Start(HEADER_LEN + start))
                .map_err(io)?;
        }
        let pcm: Vec<u8> = codes
            .iter()
            .flat_map(|&c| law.decode(c).to_le_bytes())
            .collect();
        self.file.write_all(&pcm).map_err(io)?;
        self.cursor = end;
        self.data_len = self.data_len.max(end);
        Ok(())
    }

    /// Rewrites the header with the current sizes and flushes to the file.
    pub fn flush(&mut self) -> Result<(), ReceiverError> {
        self.write_header()?;
        self.file.flush().map_err(|source| ReceiverError::WavWrite {
            path: self.path.clone(),
            source,
        })
    }

    fn write_header(&mut self) -> Result<(), ReceiverError> {
        let channels = self.channels;
        let data = self.data_len as u32;
        let mut h = Vec::with_capacity(HEADER_LEN as usize);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&8000u32.to_le_bytes());
        h.extend_from_slice(&(8000 * 2 * u32::from(channels)).to_le_bytes());
        h.extend_from_slice(&(2 * channels).to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data.to_le_bytes());
        let io = |source| ReceiverError::WavWrite {
            path: self.path.clone(),
            source,
        };
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.write_all(&h).map_err(io)?;
        self.file
            .seek(SeekFrom::Start(HEADER_LEN + self.cursor))
            .map_err(io)?;
        Ok(())
    }
}

/// A WAV file read back: its channel count and interleaved samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    /// 1 or 2.
    pub channels: u16,
    /// The samples, interleaved.
    pub samples: Vec<i16>,
}

impl WavAudio {
    /// The samples of channel `index` (0 = left).
    pub fn channel(&self, index: usize) -> Vec<i16> {
        let n = usize::from(self.channels.max(1));
        self.samples
            .iter()
            .skip(index)
            .step_by(n)
            .copied()
            .collect()
    }
}

/// Reads an 8 kHz 16-bit PCM WAV file, as this receiver writes them.
pub fn read(path: &Path) -> Result<WavAudio, ReceiverError> {
    let bad = |what: &str| ReceiverError::WavRead {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    let bytes = std::fs::read(path).map_err(|e| bad(&e.to_string()))?;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..16) != Some(b"WAVEfmt ") {
        return Err(bad("no RIFF/WAVE header"));
    }
    let (format, channels, rate, bits) = (u16_at(20), u16_at(22), u32_at(24), u16_at(34));
    if (format, rate, bits) != (Some(1), Some(8000), Some(16)) || bytes.get(36..40) != Some(b"data")
    {
        return Err(bad("not 8 kHz 16-bit PCM"));
    }
    let channels = channels.ok_or_else(|| bad("short header"))?;
    let len = u32_at(40).ok_or_else(|| bad("short header"))? as usize;
    let data = bytes
        .get(44..44 + len)
        .ok_or_else(|| bad("the data chunk runs past the end"))?;
    Ok(WavAudio {
        channels,
        samples: data
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_lands_by_position_with_gaps_as_zeros_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("earshot-receiver-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let path = dir.join("a.wav");
        let mut w = WavWriter::create(&path).expect("created");
        let loud = Law::Ulaw.encode(1000);
        w.write_at(0, &[loud; 4], Law::Ulaw).expect("written");
        // Packet 2 before packet 1: a reordered arrival.
        w.write_at(8, &[loud; 4], Law::Ulaw).expect("written");
        w.write_at(4, &[Law::Ulaw.encode(-1000); 4], Law::Ulaw)
            .expect("written");
        // Packet 4 after a loss of packet 3.
        w.write_at(16, &[loud; 4], Law::Ulaw).expect("written");
        w.set_channels(2);
        w.flush().expect("flushed");
        let a = read(&path).expect("read back");
        assert_eq!(a.channels, 2);
        let v = Law::Ulaw.decode(loud);
        let n = Law::Ulaw.decode(Law::Ulaw.encode(-1000));
        let mut want = vec![v; 4];
        want.extend([n; 4]);
        want.extend([v; 4]);
        want.extend([0; 4]);
        want.extend([v; 4]);
        assert_eq!(a.samples, want);
        assert_eq!(a.channel(1), vec![v, v, n, n, v, v, 0, 0, v, v]);
        assert_eq!(w.samples(), 20);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn what_is_not_such_a_file_says_so() {
        let dir = std::env::temp_dir().join(format!("earshot-receiver-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let path = dir.join("b.wav");
        std::fs::write(&path, b"RIFF....WAVEfmt nothing").expect("written");
        assert!(matches!(read(&path), Err(ReceiverError::WavRead { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
