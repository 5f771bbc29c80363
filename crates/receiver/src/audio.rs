//! [`Audio`]: where a stream's payloads go once checked: levels, counters and the WAV file.

use std::path::Path;

use g711::Law;

use crate::{Level, WavWriter};

/// The audio side of a stream.
#[derive(Debug)]
pub(crate) struct Audio {
    pub(crate) law: Law,
    pub(crate) channels: u16,
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    levels: Vec<Level>,
    window: Vec<Level>,
    window_frames: u64,
    wav: Option<WavWriter>,
    pub(crate) notes: Vec<String>,
}

impl Audio {
    /// Audio of `law`, written to `wav` when given (a file that cannot be created is a note,
    /// and the stream is still checked).
    pub(crate) fn new(law: Law, wav: Option<&Path>) -> Audio {
        let mut notes = Vec::new();
        let wav = wav.and_then(|p| match WavWriter::create(p) {
            Ok(w) => Some(w),
            Err(e) => {
                notes.push(e.to_string());
                None
            }
        });
        Audio {
            law,
            channels: 1,
            frames: 0,
            bytes: 0,
            levels: vec![Level::default()],
            window: vec![Level::default()],
            window_frames: 0,
            wav,
            notes,
        }
    }

    /// Sets the channel count (levels are kept per channel from here on).
    pub(crate) fn set_channels(&mut self, channels: u16) {
        let channels = channels.max(1);
        if channels != self.channels {
            self.channels = channels;
            self.levels.resize(usize::from(channels), Level::default());
            self.window.resize(usize::from(channels), Level::default());
            if let Some(w) = &mut self.wav {
                w.set_channels(channels);
            }
        }
    }

    /// Counts a frame of `len` payload bytes that is not written (a duplicate, or too early).
    pub(crate) fn count(&mut self, len: usize) {
        self.frames += 1;
        self.window_frames += 1;
        self.bytes += len as u64;
    }

    /// Takes `codes` as the audio at sample position `at` (counting every channel).
    pub(crate) fn write(&mut self, at: u64, codes: &[u8]) {
        let n = usize::from(self.channels);
        for (i, &c) in codes.iter().enumerate() {
            let s = self.law.decode(c);
            self.levels[i % n].add(s);
            self.window[i % n].add(s);
        }
        if let Some(w) = &mut self.wav {
            let written = w.write_at(at, codes, self.law);
            if w.is_full() && !self.notes.iter().any(|n| n.contains("4 GiB")) {
                self.notes
                    .push("the WAV file reached 4 GiB; later audio was not written".into());
            }
            if let Err(e) = written {
                self.notes.push(e.to_string());
                self.wav = None;
            }
        }
    }

    /// The whole stream's levels per channel.
    pub(crate) fn levels(&self) -> Vec<Option<f64>> {
        self.levels.iter().map(Level::dbfs).collect()
    }

    /// This window's frames and levels; starts the next window.
    pub(crate) fn take_window(&mut self) -> (u64, Vec<Option<f64>>) {
        let levels = self.window.iter().map(Level::dbfs).collect();
        self.window.iter_mut().for_each(|l| *l = Level::default());
        (std::mem::take(&mut self.window_frames), levels)
    }

    /// The WAV file, if one is written.
    pub(crate) fn wav_path(&self) -> Option<std::path::PathBuf> {
        self.wav.as_ref().map(|w| w.path().to_path_buf())
    }

    /// Writes the WAV header's sizes out (every second, and at the end).
    pub(crate) fn flush(&mut self) {
        if let Some(w) = &mut self.wav
            && let Err(e) = w.flush()
        {
            self.notes.push(e.to_string());
            self.wav = None;
        }
    }
}
