//! What the WebSocket sink does with what the server sends (`tap.md` §4: the receiver sends
//! nothing the node must act on).
//!
//! A tap's server may send anything; the sink reads it with [`read_config`] (messages and
//! frames over [`MAX_READ_MESSAGE`] bytes end the connection, so a server cannot make a tap
//! hold unbounded memory) and [`classify`] decides: a Close or a read error ends the stream,
//! everything else (text, binary, ping, pong) is read and discarded. Pings are answered by
//! tungstenite itself. [`fuzz`] drives tungstenite's reader with this configuration over any
//! bytes, without a socket.

use std::io::{Read, Write};

use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message};

/// The largest message or frame read from the server; larger ones end the connection.
pub const MAX_READ_MESSAGE: usize = 64 * 1024;

/// The tungstenite settings of a sink's connection: no write buffering (audio is due now),
/// and the read limits above.
pub fn read_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .write_buffer_size(0)
        .max_message_size(Some(MAX_READ_MESSAGE))
        .max_frame_size(Some(MAX_READ_MESSAGE))
}

/// What the sink does with one read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Read and discarded; streaming goes on.
    Ignore,
    /// The connection is over, for this reason.
    Lost(String),
}

/// Decides what one read from the server (`None`: the stream ended) means for the tap.
pub fn classify(read: Option<Result<Message, Error>>) -> Inbound {
    match read {
        Some(Ok(Message::Close(_))) => Inbound::Lost("the server closed".into()),
        Some(Ok(_)) => Inbound::Ignore,
        Some(Err(e)) => Inbound::Lost(e.to_string()),
        None => Inbound::Lost("end of stream".into()),
    }
}

/// Bytes from a server, handed out at most `chunk` at a time; what the client writes is kept.
struct Replay<'a> {
    input: &'a [u8],
    chunk: usize,
    written: usize,
}

impl Read for Replay<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.input.len());
        let (now, later) = self.input.split_at(n);
        buf[..n].copy_from_slice(now);
        self.input = later;
        Ok(n)
    }
}

impl Write for Replay<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fuzz body: `data[0]` sets how many bytes each socket read returns (1–256), the rest is what
/// the server sends after the handshake, read by a client-role tungstenite with
/// [`read_config`] until the sink would stop.
///
/// Checks: every message read is within [`MAX_READ_MESSAGE`]; a Close, an error or the end
/// stops the stream and nothing else does; each read consumes input (no spinning); and what
/// the client writes back (pongs, the Close reply) stays within a small multiple of what it
/// read, so a server cannot turn the sink into an amplifier.
///
/// # Panics
///
/// Only when one of those promises does not hold.
pub fn fuzz(data: &[u8]) {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let stream = Replay {
        input,
        chunk: usize::from(chunk) + 1,
        written: 0,
    };
    let mut ws = WebSocket::from_raw_socket(stream, Role::Client, Some(read_config()));
    // Each message takes at least a two-byte frame header, so more reads than input bytes
    // means a read that consumed nothing.
    for _ in 0..=input.len() {
        let read = match ws.read() {
            Ok(message) => {
                assert!(
                    message.len() <= MAX_READ_MESSAGE,
                    "read a message of {} bytes",
                    message.len()
                );
                let close = matches!(message, Message::Close(_));
                let verdict = classify(Some(Ok(message)));
                assert_eq!(
                    matches!(verdict, Inbound::Lost(_)),
                    close,
                    "only a Close ends the stream"
                );
                if close { Some(verdict) } else { None }
            }
            Err(Error::ConnectionClosed | Error::AlreadyClosed) => Some(classify(None)),
            Err(e) => Some(classify(Some(Err(e)))),
        };
        if let Some(verdict) = read {
            assert!(
                matches!(verdict, Inbound::Lost(_)),
                "an end that does not stop the stream"
            );
            let written = ws.get_ref().written;
            assert!(
                written <= 4 * input.len() + 64,
                "wrote {written} bytes after reading {}",
                input.len()
            );
            return;
        }
    }
    panic!(
        "{} reads of {} bytes without an end",
        input.len() + 1,
        input.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_discarded_and_close_ends() {
        assert_eq!(classify(Some(Ok(Message::text("hi")))), Inbound::Ignore);
        assert_eq!(
            classify(Some(Ok(Message::Ping(vec![1].into())))),
            Inbound::Ignore
        );
        assert_eq!(
            classify(Some(Ok(Message::Close(None)))),
            Inbound::Lost("the server closed".into())
        );
        assert_eq!(classify(None), Inbound::Lost("end of stream".into()));
    }

    #[test]
    fn frames_from_a_server_are_read_within_the_limits() {
        // An unmasked text frame "hi", a ping, then a Close 1000: read in 1-byte pieces.
        let mut bytes = vec![0, 0x81, 2, b'h', b'i', 0x89, 0, 0x88, 2, 0x03, 0xE8];
        fuzz(&bytes);
        // A 64 KiB + 1 binary frame is refused by the limit, not read.
        bytes = vec![255, 0x82, 127];
        bytes.extend_from_slice(&((MAX_READ_MESSAGE + 1) as u64).to_be_bytes());
        bytes.resize(bytes.len() + MAX_READ_MESSAGE + 1, 0);
        fuzz(&bytes);
        let mut ws = WebSocket::from_raw_socket(
            Replay {
                input: &bytes[1..],
                chunk: 256,
                written: 0,
            },
            Role::Client,
            Some(read_config()),
        );
        let error = ws.read().expect_err("an oversized frame is an error");
        assert!(error.to_string().contains("too long"), "{error}");
    }
}
