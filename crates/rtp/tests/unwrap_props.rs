//! Property tests of [`rtp::SeqUnwrapper`] and [`rtp::TimeUnwrapper`] against a 64-bit
//! reference counter: a random walk forward, with losses and small reorderings, across as many
//! wraps as it takes.

use proptest::prelude::*;
use rtp::{RtpTime, SeqNo, SeqUnwrapper, TimeUnwrapper};

/// A walk of forward steps (losses when larger than one) and, for each packet after the first, a
/// chance to swap it with its successor: the order the network delivers them in.
fn walk(max_step: u64, len: usize) -> impl Strategy<Value = (Vec<u64>, Vec<bool>)> {
    (
        proptest::collection::vec(1..=max_step, len),
        proptest::collection::vec(proptest::bool::weighted(0.1), len),
    )
}

/// The reference counter values of a walk from `start`, in delivery order.
fn delivered(start: u64, steps: &[u64], swaps: &[bool]) -> Vec<u64> {
    let mut values = vec![start];
    for step in steps {
        let last = *values.last().expect("starts non-empty");
        values.push(last + step);
    }
    // The first packet stays first: it sets the unwrapper's origin.
    let mut i = 1;
    while i + 1 < values.len() {
        if swaps[i - 1] {
            values.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    values
}

proptest! {
    #[test]
    fn sequence_numbers_unwrap_to_the_reference_counter(
        start in any::<u16>(),
        (steps, swaps) in walk(200, 3000),
    ) {
        // The unwrapper puts its first value at 2^16 + seq; so does the reference.
        let origin = (1u64 << 16) + u64::from(start);
        let mut u = SeqUnwrapper::new();
        let mut highest = 0;
        for value in delivered(origin, &steps, &swaps) {
            let seq = SeqNo(value as u16);
            let ext = u.unwrap(seq);
            prop_assert_eq!(ext, i64::try_from(value).expect("small"), "seq {}", seq.0);
            highest = highest.max(value);
            prop_assert_eq!(u.highest(), Some(i64::try_from(highest).expect("small")));
        }
        // The walk is long enough to cross 65535 → 0 at least once.
        prop_assert!(highest - origin >= 3000);
    }

    #[test]
    fn sequence_numbers_within_half_the_range_of_the_highest_are_placed_exactly(
        start in any::<u16>(),
        ahead in 0u64..20_000,
        delta in -32_767i64..32_768,
    ) {
        let mut u = SeqUnwrapper::new();
        let first = u.unwrap(SeqNo(start));
        let highest = first + i64::try_from(ahead).expect("small");
        prop_assert_eq!(u.unwrap(SeqNo(highest as u16)), highest);
        let target = highest + delta;
        prop_assert_eq!(u.unwrap(SeqNo(target as u16)), target);
        prop_assert_eq!(u.highest(), Some(highest.max(target)));
    }

    #[test]
    fn timestamps_unwrap_to_the_reference_counter(
        start in any::<u32>(),
        (steps, swaps) in walk(1 << 24, 2000),
    ) {
        let origin = (1u64 << 32) + u64::from(start);
        let mut u = TimeUnwrapper::new();
        for value in delivered(origin, &steps, &swaps) {
            let ts = RtpTime(value as u32);
            prop_assert_eq!(u.unwrap(ts), i64::try_from(value).expect("small"), "ts {}", ts.0);
        }
    }
}

#[test]
fn the_reference_walk_reorders_and_crosses_the_wrap() {
    let values = delivered(65_534, &[1, 1, 1, 1], &[false, true, false, false]);
    assert_eq!(values, [65_534, 65_535, 65_537, 65_536, 65_538]);
    let mut u = SeqUnwrapper::new();
    let ext: Vec<i64> = values.iter().map(|&v| u.unwrap(SeqNo(v as u16))).collect();
    assert_eq!(ext, [131_070, 131_071, 131_073, 131_072, 131_074]);
}
