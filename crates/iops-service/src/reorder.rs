//! Late and out-of-order samples: which ones a host's state learns, and the record that
//! keeps any sample from being learned twice.
//!
//! A host's state learns every sample once. A sample newer than the newest one learned is
//! in order. One at most [`ServiceConfig::reorder_window`](crate::ServiceConfig) of event
//! time (or two of the host's intervals, if longer) older than the newest is learned too,
//! late: the engine's windows are spans of time
//! that a late sample joins at their newest end, so a sample displaced by a few minutes
//! shifts those statistics by that much and no more, and the seasonal model already matches
//! the best of the values a season ± `season_jitter` slots back. A sample older than the window is
//! scored against a copy of the state and not learned, so a backfill of yesterday cannot
//! pollute today's model.
//!
//! Which late samples were learned is kept in a [`Ledger`] saved with the state (one
//! compare-and-swap covers both): the timestamps learned at or after its `floor`. Anything
//! older than the floor counts as too old, learned or not.

use iops_core::engine::HostState;
use iops_core::Timestamp;
use serde::{Deserialize, Serialize};

/// Most timestamps a [`Ledger`] keeps (a host posting every second needs 600 for a
/// 10-minute window); beyond that its floor rises, so a state stays small enough for a
/// DynamoDB item (400 KB).
pub(crate) const MAX_LEDGER: usize = 2048;

/// The timestamps (epoch nanoseconds) a host's state learned at or after `floor`, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    /// Samples before this were learned or not: nobody knows any more.
    floor: i128,
    learned: Vec<i128>,
}

/// Where a sample falls against what the state has learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Newer than anything learned (or the host's first sample): learn it.
    InOrder,
    /// Older than the newest learned, within the reorder window, not learned yet: learn it.
    Late,
    /// Learned already.
    Learned,
    /// Older than the reorder window (or than the ledger's floor): score it, do not learn.
    TooOld,
}

impl Ledger {
    /// The ledger of a state saved before ledgers existed (or reset): it does not know
    /// which samples up to `last` were learned, so it treats them all as too old.
    pub(crate) fn unknown_up_to(last: Timestamp) -> Self {
        Ledger {
            floor: last.epoch_nanos() + 1,
            learned: Vec::new(),
        }
    }

    /// Classifies a sample at `t` against a state whose newest learned sample is `last`.
    pub(crate) fn classify(
        &self,
        t: Timestamp,
        last: Option<Timestamp>,
        window: std::time::Duration,
    ) -> Arrival {
        let Some(last) = last else {
            return Arrival::InOrder;
        };
        if t > last {
            return Arrival::InOrder;
        }
        let t = t.epoch_nanos();
        if self.learned.binary_search(&t).is_ok() {
            return Arrival::Learned;
        }
        if t < self.floor.max(horizon(last, window)) {
            Arrival::TooOld
        } else {
            Arrival::Late
        }
    }

    /// Records that the state learned the sample at `t`, its newest sample now being
    /// `last`, and forgets what fell out of the window.
    pub(crate) fn record(&mut self, t: Timestamp, last: Timestamp, window: std::time::Duration) {
        let t = t.epoch_nanos();
        if let Err(at) = self.learned.binary_search(&t) {
            self.learned.insert(at, t);
        }
        self.floor = self.floor.max(horizon(last, window));
        let excess = self.learned.len().saturating_sub(MAX_LEDGER);
        if excess > 0 {
            self.learned.drain(..excess);
            if let Some(&oldest) = self.learned.first() {
                self.floor = self.floor.max(oldest);
            }
        }
        let floor = self.floor;
        self.learned.retain(|&x| x >= floor);
    }
}

/// The oldest timestamp (nanoseconds) still learned when the newest is `last`.
fn horizon(last: Timestamp, window: std::time::Duration) -> i128 {
    let window = i128::try_from(window.as_nanos()).unwrap_or(i128::MAX);
    last.epoch_nanos().saturating_sub(window)
}

/// First byte of the state encoding with a ledger (after it, the ledger then the state,
/// both postcard). Tag 1 is the state alone.
const LEDGER_TAG: u8 = 2;

/// Encodes a state and its ledger: the ledger first, so a duplicate or a too-old sample is
/// recognised without decoding the (much larger) state.
pub(crate) fn encode(state: &HostState, ledger: &Ledger) -> postcard::Result<Vec<u8>> {
    let out = postcard::to_io(ledger, vec![LEDGER_TAG])?;
    postcard::to_io(state, out)
}

/// The ledger of stored bytes: `None` for an encoding without one (or not a state).
pub(crate) fn decode_ledger(bytes: &[u8]) -> Option<(Ledger, &[u8])> {
    match bytes.split_first() {
        Some((&LEDGER_TAG, rest)) => postcard::take_from_bytes::<Ledger>(rest).ok(),
        _ => None,
    }
}

/// The state after the ledger (see [`decode_ledger`]).
pub(crate) fn decode_state_after_ledger(rest: &[u8]) -> Option<HostState> {
    HostState::from_postcard(rest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ts(secs: u64) -> Timestamp {
        Timestamp::from_epoch_seconds(1.7e9 + secs as f64).unwrap()
    }

    const W: Duration = Duration::from_secs(600);

    #[test]
    fn classifies_against_the_window_and_what_was_learned() {
        let mut l = Ledger::default();
        assert_eq!(l.classify(ts(0), None, W), Arrival::InOrder);
        for s in [0, 300, 900, 1500] {
            l.record(ts(s), ts(s), W);
        }
        let last = Some(ts(1500));
        assert_eq!(l.classify(ts(1800), last, W), Arrival::InOrder);
        assert_eq!(l.classify(ts(1500), last, W), Arrival::Learned);
        assert_eq!(l.classify(ts(1200), last, W), Arrival::Late);
        assert_eq!(l.classify(ts(900), last, W), Arrival::Learned);
        // exactly the window late is still learned; a nanosecond more is not
        l.learned.retain(|&x| x != ts(900).epoch_nanos());
        assert_eq!(l.classify(ts(900), last, W), Arrival::Late);
        assert_eq!(l.classify(ts(600), last, W), Arrival::TooOld);
        // learned long ago and forgotten: too old, never learned again
        assert_eq!(l.classify(ts(0), last, W), Arrival::TooOld);
        assert_eq!(l.learned.len(), 1, "only what is within the window is kept");
    }

    #[test]
    fn a_state_without_a_ledger_learns_nothing_behind_its_newest_sample() {
        let l = Ledger::unknown_up_to(ts(1500));
        let last = Some(ts(1500));
        assert_eq!(l.classify(ts(1500), last, W), Arrival::TooOld);
        assert_eq!(l.classify(ts(1200), last, W), Arrival::TooOld);
        assert_eq!(l.classify(ts(1501), last, W), Arrival::InOrder);
    }

    #[test]
    fn a_full_ledger_raises_its_floor_instead_of_growing() {
        let mut l = Ledger::default();
        let window = Duration::from_secs(1_000_000);
        for s in 0..(MAX_LEDGER as u64 + 10) {
            l.record(ts(s), ts(s), window);
        }
        assert_eq!(l.learned.len(), MAX_LEDGER);
        let last = Some(ts(MAX_LEDGER as u64 + 9));
        assert_eq!(l.classify(ts(5), last, window), Arrival::TooOld);
        assert_eq!(l.classify(ts(10), last, window), Arrival::Learned);
    }

    #[test]
    fn round_trips_and_rejects_truncation() {
        let config = iops_core::engine::EngineConfig::default();
        let state = HostState::new(&config).unwrap();
        let mut l = Ledger::default();
        l.record(ts(0), ts(0), W);
        let bytes = encode(&state, &l).unwrap();
        let (back, rest) = decode_ledger(&bytes).unwrap();
        assert_eq!(back, l);
        assert_eq!(decode_state_after_ledger(rest), Some(state));
        assert_eq!(decode_state_after_ledger(&rest[..rest.len() - 1]), None);
    }
}
