//! The tag each source packet carries, so that a tap frame names the packet it came from.
//!
//! The 160-byte payload holds 20 blocks of 8 bytes: `0x55`, block index, stream (two base-127
//! digits), sequence (two base-127 digits), a check byte, `0x55`. Every byte is below
//! `0x7F`, so the µ-law codes decode and re-encode to themselves (`0x7F` is the one code that
//! does not), and mixing with digital silence (`0xFF`) leaves them unchanged. A tap frame
//! starts anywhere in a packet (the tap's grid is its own), but the blocks keep one phase
//! across packets because each packet is exactly 20 blocks long: the last whole block of a
//! frame names the newest source packet in it.

/// Bytes of one block.
const BLOCK: usize = 8;
/// Blocks per 160-byte payload.
pub(crate) const BLOCKS: usize = 20;
const MAGIC: u8 = 0x55;

/// Which source packet: its stream (caller stream `2c`, far stream `2f + 1`) and its
/// sequence number modulo [`SEQ_MOD`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) stream: u16,
    pub(crate) seq: u16,
}

/// The largest stream number a tag holds.
pub(crate) const MAX_STREAM: u16 = 127 * 127 - 1;
/// Tag sequence numbers count modulo this (5 min 22 s at 50 packets/s).
pub(crate) const SEQ_MOD: u64 = 127 * 127;

fn check(b: &[u8]) -> u8 {
    (b[1..6].iter().map(|&x| u32::from(x)).sum::<u32>() % 127) as u8
}

/// Writes the 160-byte payload of `tag` into `out`.
pub(crate) fn write(out: &mut [u8], tag: Tag) {
    for (i, block) in out.chunks_exact_mut(BLOCK).take(BLOCKS).enumerate() {
        block[0] = MAGIC;
        block[1] = i as u8;
        block[2] = (tag.stream / 127 % 127) as u8;
        block[3] = (tag.stream % 127) as u8;
        block[4] = (tag.seq / 127 % 127) as u8;
        block[5] = (tag.seq % 127) as u8;
        block[6] = check(block);
        block[7] = MAGIC;
    }
}

fn parse(b: &[u8]) -> Option<Tag> {
    if b.len() < BLOCK || b[0] != MAGIC || b[7] != MAGIC || usize::from(b[1]) >= BLOCKS {
        return None;
    }
    if b[1..6].iter().any(|&x| x >= 0x7F) || check(b) != b[6] {
        return None;
    }
    Some(Tag {
        stream: u16::from(b[2]) * 127 + u16::from(b[3]),
        seq: u16::from(b[4]) * 127 + u16::from(b[5]),
    })
}

/// The newest source packet in `frame` (one channel of G.711), if any whole block of one is
/// in it.
pub(crate) fn newest(frame: &[u8]) -> Option<Tag> {
    let phase = (0..BLOCK.min(frame.len())).find(|&o| parse(&frame[o..]).is_some())?;
    frame[phase..].chunks_exact(BLOCK).rev().find_map(parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(stream: u16, seq: u16) -> Vec<u8> {
        let mut p = vec![0; 160];
        write(&mut p, Tag { stream, seq });
        p
    }

    #[test]
    fn a_whole_payload_names_its_packet_and_avoids_0x7f() {
        let p = payload(MAX_STREAM, (SEQ_MOD - 1) as u16);
        assert!(p.iter().all(|&b| b < 0x7F));
        assert_eq!(
            newest(&p),
            Some(Tag {
                stream: MAX_STREAM,
                seq: (SEQ_MOD - 1) as u16
            })
        );
    }

    #[test]
    fn a_frame_across_two_packets_names_the_newer_once_a_whole_block_of_it_is_in() {
        let mut two = payload(7, 100);
        two.extend(payload(7, 101));
        for start in 0..=160 {
            let got = newest(&two[start..start + 160]).expect("a tag in every frame");
            // The frame holds `start` bytes of the second packet.
            let want = if start >= 8 { 101 } else { 100 };
            assert_eq!(
                got,
                Tag {
                    stream: 7,
                    seq: want
                },
                "frame starting at byte {start}"
            );
        }
    }

    #[test]
    fn silence_and_noise_name_nothing() {
        assert_eq!(newest(&[0xFF; 160]), None);
        assert_eq!(newest(&[0x55; 160]), None);
        assert_eq!(newest(&[]), None);
    }
}
