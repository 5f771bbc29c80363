//! µ-law ↔ A-law transcoding by G.711 (11/88) Tables 3 and 4.
//!
//! The standard defines the conversion on "decoder output value numbers": 0..=127 for a µ-law
//! magnitude, 1..=128 for an A-law magnitude, with the sign carried over unchanged. It is not a
//! re-quantisation of the decoded linear value: the two laws have different overload points, and
//! the tables are built so that a double conversion changes at most the least significant bit.

/// G.711 Table 3: the A-law number (1..=128) of each µ-law number (0..=127).
const U_TO_A: [u8; 128] = [
    1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, //
    9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, //
    25, 27, 29, 31, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, //
    46, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, //
    64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, //
    81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, //
    97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, //
    113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, //
];

/// G.711 Table 4: the µ-law number (0..=127) of each A-law number (1..=128), indexed by the A-law
/// number minus one.
const A_TO_U: [u8; 128] = [
    1, 3, 5, 7, 9, 11, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, //
    24, 25, 26, 27, 28, 29, 30, 31, 32, 32, 33, 33, 34, 34, 35, 35, //
    36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 48, 49, 49, //
    50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 64, //
    65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 79, //
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, //
    96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, //
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, //
];

/// The µ-law code word → A-law code word table.
pub(crate) const fn ulaw_to_alaw_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 256 {
        // µ-law code words are the sign and number, all bits inverted.
        let u = (code as u8) ^ 0xFF;
        let a_number = U_TO_A[(u & 0x7F) as usize];
        // A-law code words are the sign and number minus one, even bits inverted, with the
        // sign bit set for positive values.
        table[code] = ((u & 0x80) | (a_number - 1)) ^ 0xD5;
        code += 1;
    }
    table
}

/// The A-law code word → µ-law code word table.
pub(crate) const fn alaw_to_ulaw_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 256 {
        let a = (code as u8) ^ 0xD5;
        let u_number = A_TO_U[(a & 0x7F) as usize];
        table[code] = ((a & 0x80) | u_number) ^ 0xFF;
        code += 1;
    }
    table
}
