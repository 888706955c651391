//! The values of the last period, one per time slot, to compare a value with the same time
//! a period ago.
//!
//! Slots are indexed by time, not by sample count, so a gap in the data or a late sample
//! cannot shift what "a day ago" means: a slot whose stored time is not the one asked for
//! is treated as missing. One value per slot (the newest) bounds the memory at one period
//! of slots whatever the cadence.

use serde::{Deserialize, Serialize};

use super::lanes::Lanes;
use super::window::floor_index;
use crate::Error;

/// A time slot: its index (`round(t / slot)`) and its position in the ring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Slot {
    index: i64,
    at: usize,
}

impl Slot {
    /// No slot (before any push): its successor is never the next one located.
    const NONE: Slot = Slot {
        index: i64::MIN,
        at: 0,
    };
}

impl Default for Slot {
    fn default() -> Self {
        Slot::NONE
    }
}

/// Ring of the last period's values by time slot, for `L` series sampled together.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "SlotState<L>")]
pub(crate) struct SlotRing<const L: usize> {
    /// Seconds per slot.
    slot: f64,
    /// Slot index (`round(t / slot)`) each entry holds, `i64::MIN` when empty.
    index: Vec<i64>,
    values: Vec<Lanes<f64, L>>,
    /// Slots either side of a period ago that are compared too.
    jitter: i64,
    /// Slots per period (the ring holds `jitter` more: the oldest candidates are older
    /// than a period).
    period: i64,
    /// `1 / slot` (derived, rebuilt on decode).
    #[serde(skip)]
    inv_slot: f64,
    /// The slot last pushed (derived: where the next one usually is).
    #[serde(skip)]
    last: Slot,
}

/// Equal when what is stored is (the derived fields only speed things up).
impl<const L: usize> PartialEq for SlotRing<L> {
    fn eq(&self, o: &Self) -> bool {
        self.slot == o.slot
            && self.index == o.index
            && self.values == o.values
            && self.jitter == o.jitter
            && self.period == o.period
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotState<const L: usize> {
    slot: f64,
    index: Vec<i64>,
    values: Vec<Lanes<f64, L>>,
    jitter: i64,
    period: i64,
}

impl<const L: usize> TryFrom<SlotState<L>> for SlotRing<L> {
    type Error = Error;

    fn try_from(s: SlotState<L>) -> Result<Self, Error> {
        let ok = s.slot.is_finite()
            && s.slot > 0.0
            && !s.index.is_empty()
            && s.index.len() == s.values.len()
            && (0..=100).contains(&s.jitter)
            && s.period >= 1
            && s.index.len() as i64 == s.period + s.jitter
            && s.values.iter().all(|v| v.iter().all(|x| x.is_finite()));
        if !ok {
            return Err(Error::Decode {
                what: "engine seasonal state",
                reason: "slot width, lengths, jitter or values out of range".into(),
            });
        }
        Ok(SlotRing {
            last: Slot::NONE,
            inv_slot: 1.0 / s.slot,
            slot: s.slot,
            index: s.index,
            values: s.values,
            jitter: s.jitter,
            period: s.period,
        })
    }
}

impl<const L: usize> SlotRing<L> {
    /// An empty ring for a period of `slots` slots of `slot` seconds, matching within
    /// ± `jitter` slots.
    pub(crate) fn new(slot: f64, slots: u32, jitter: usize) -> Self {
        let jitter = jitter.min(100);
        let n = slots.max(1) as usize + jitter;
        SlotRing {
            slot,
            index: vec![i64::MIN; n],
            values: vec![Lanes::splat(0.0); n],
            jitter: jitter as i64,
            period: i64::from(slots.max(1)),
            inv_slot: 1.0 / slot,
            last: Slot::NONE,
        }
    }

    /// The slot of time `t` (its index, and where the ring keeps it): located once per
    /// sample for both [`SlotRing::residual`] and [`SlotRing::push`].
    #[inline(always)]
    pub(crate) fn locate(&self, t: f64) -> Slot {
        let index = floor_index(t * self.inv_slot + 0.5);
        let n = self.index.len();
        // the usual case, the slot after the last one pushed: no division
        let at = match index.wrapping_sub(self.last.index) {
            0 => self.last.at,
            1 => {
                let at = self.last.at + 1;
                if at == n {
                    0
                } else {
                    at
                }
            }
            _ => index.rem_euclid(n as i64) as usize,
        };
        Slot { index, at }
    }

    /// Each lane's residual `x - v` against the value `v` of a period ago (within the
    /// jitter) closest to `x`, the oldest on ties; `None` when no such slot is held.
    #[inline(always)]
    pub(crate) fn residual(&self, slot: Slot, x: Lanes<f64, L>) -> Option<Lanes<f64, L>> {
        let n = self.index.len();
        // the oldest candidate is a period and the jitter ago: a ring's length back, in
        // `slot`'s own position (which this sample overwrites after)
        let first = slot.index - n as i64;
        let mut at = slot.at;
        let mut best: Option<Lanes<f64, L>> = None;
        for i in first..=first + 2 * self.jitter {
            let here = at;
            at = if at + 1 == n { 0 } else { at + 1 };
            let Some(v) = self.held(i, here) else {
                continue;
            };
            // (x and v are within the pipeline's input limit: r is finite)
            let r = Lanes::from_fn(|l| x[l] - v[l]);
            best = Some(match best {
                None => r,
                // a select per lane: which candidate wins is data-dependent
                Some(b) => Lanes::from_fn(|l| if r[l].abs() < b[l].abs() { r[l] } else { b[l] }),
            });
        }
        best
    }

    /// Each lane's residual `x - v` against the value `v` of exactly a period ago (no
    /// jitter: a routine that starts on the clock is compared with its own start, and a
    /// mean of residuals is not pulled towards zero by picking the closest candidate);
    /// `None` when that slot is not held.
    #[inline(always)]
    pub(crate) fn residual_exact(&self, slot: Slot, x: Lanes<f64, L>) -> Option<Lanes<f64, L>> {
        let n = self.index.len();
        // a period ago is the ring's length back less the jitter, `jitter` places on
        let v = self.held(
            slot.index - self.period,
            (slot.at + self.jitter as usize) % n,
        )?;
        Some(Lanes::from_fn(|l| x[l] - v[l]))
    }

    /// The values at ring position `at`, if they are slot `i`'s.
    #[inline(always)]
    fn held(&self, i: i64, at: usize) -> Option<&Lanes<f64, L>> {
        if self.index.get(at) != Some(&i) {
            return None;
        }
        self.values.get(at)
    }

    /// The values held for the slot a period before time `t` (any time, not only the
    /// next sample's), if that slot is held.
    pub(crate) fn a_period_before(&self, t: f64) -> Option<Lanes<f64, L>> {
        let i = floor_index(t * self.inv_slot + 0.5) - self.period;
        let at = usize::try_from(i.rem_euclid(self.index.len() as i64)).ok()?;
        self.held(i, at).copied()
    }

    /// Stores the values of time `t` in its slot (a late value does not overwrite a newer).
    pub(crate) fn push(&mut self, slot: Slot, x: Lanes<f64, L>) {
        let (i, at) = (slot.index, slot.at);
        if i >= self.last.index {
            self.last = slot;
        }
        if let (Some(held), Some(v)) = (self.index.get_mut(at), self.values.get_mut(at)) {
            if *held <= i {
                *held = i;
                *v = x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_with_the_same_time_a_period_ago() {
        // 5-minute slots, a day of them, ± 2 slots
        let mut r = SlotRing::<1>::new(300.0, 288, 2);
        let day = 86_400.0;
        for i in 0..288 {
            r.push(r.locate(f64::from(i) * 300.0), Lanes([f64::from(i)]));
        }
        // a day later, slot 100: candidates 98..=102, the closest to 100.4 is 100
        let got = r
            .residual(r.locate(day + 30_000.0), Lanes([100.4]))
            .unwrap()[0];
        assert!((got - 0.4).abs() < 1e-9, "{got}");
        // any time's value a period before, as held
        assert_eq!(r.a_period_before(day + 30_000.0), Some(Lanes([100.0])));
        assert_eq!(r.a_period_before(day + 30_140.0), Some(Lanes([100.0])));
        assert_eq!(r.a_period_before(2.0 * day + 30_000.0), None);
        // nothing held two days back
        assert_eq!(
            r.residual(r.locate(2.0 * day + 30_000.0), Lanes([1.0])),
            None
        );
    }

    #[test]
    fn the_exact_residual_ignores_the_jitter() {
        let mut r = SlotRing::<1>::new(300.0, 288, 2);
        for i in 0..288 {
            r.push(r.locate(f64::from(i) * 300.0), Lanes([f64::from(i)]));
        }
        // a day later, slot 100: only slot 100 counts, however close slot 101 is
        let at = r.locate(86_400.0 + 30_000.0);
        assert_eq!(r.residual_exact(at, Lanes([101.0])), Some(Lanes([1.0])));
        assert_eq!(r.residual(at, Lanes([101.0])), Some(Lanes([0.0])));
        // where the candidates wrap around the ring's end (slot 579 sits last in a ring of
        // 290; a day ago, slot 291, sits second)
        for i in 288..576 {
            r.push(r.locate(f64::from(i) * 300.0), Lanes([f64::from(i)]));
        }
        let at = r.locate(579.0 * 300.0);
        assert_eq!(r.residual_exact(at, Lanes([300.0])), Some(Lanes([9.0])));
        // a slot missing a day ago is missing, whatever its neighbours hold
        let mut gap = SlotRing::<1>::new(300.0, 288, 2);
        for i in (0..288).filter(|&i| i != 100) {
            gap.push(gap.locate(f64::from(i) * 300.0), Lanes([f64::from(i)]));
        }
        assert_eq!(
            gap.residual_exact(gap.locate(86_400.0 + 30_000.0), Lanes([1.0])),
            None
        );
    }

    #[test]
    fn a_gap_is_missing_not_shifted() {
        let mut r = SlotRing::<1>::new(300.0, 288, 1);
        // a day with a 2-hour hole around slot 100
        for i in (0..288).filter(|i| !(90..114).contains(i)) {
            r.push(r.locate(f64::from(i) * 300.0), Lanes([f64::from(i)]));
        }
        assert_eq!(
            r.residual(r.locate(86_400.0 + 100.0 * 300.0), Lanes([5.0])),
            None
        );
        let near = r.residual(r.locate(86_400.0 + 115.0 * 300.0), Lanes([115.0]));
        assert_eq!(near, Some(Lanes([0.0])));
        // a late value does not overwrite the newer one in its slot
        r.push(r.locate(86_400.0 + 115.0 * 300.0), Lanes([7.0]));
        r.push(r.locate(115.0 * 300.0), Lanes([-1.0]));
        assert_eq!(
            r.residual(r.locate(2.0 * 86_400.0 + 115.0 * 300.0), Lanes([7.0])),
            Some(Lanes([0.0]))
        );
    }
}
