//! A peer group's baseline for one metric: what its hosts show at each hour of the day, how
//! far a host strays from that, and how rare a given distance is among them.

use serde::{Deserialize, Serialize};

use super::profile::{part_of_day, robust_spread};
use crate::stats::median;
use crate::{Error, Result};

/// Hours of the day (UTC) a baseline has a value for.
pub const HOURS: usize = 24;

/// Tail levels recorded from the training deviations, each kept only when at least
/// [`MIN_TAIL_COUNT`] deviations lie beyond it (a level is an estimate, not a guess).
const TAIL_LEVELS: [f64; 5] = [0.9, 0.99, 0.999, 0.9999, 0.99999];
const MIN_TAIL_COUNT: f64 = 10.0;

/// One point of a baseline's tail: `1 - q` of the training deviations were beyond `z`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailPoint {
    /// The quantile level, in (0, 1).
    pub q: f64,
    /// The absolute standardised deviation at that level.
    pub z: f64,
}

/// A peer group's baseline for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricBaseline {
    /// The members' median value at each hour of the day (UTC).
    pub median: Vec<f64>,
    /// How far a member's value strays from that median at each hour (robust; floored at a
    /// quarter of the typical hour's, so a quiet hour is not infinitely sharp).
    pub spread: Vec<f64>,
    /// The tail of the members' absolute standardised deviations, rising in `q` and `z`.
    pub tail: Vec<TailPoint>,
}

/// Time constant of a host's offset from its group (seconds): the host's level relative
/// to the group follows its unsurprising samples over about an hour, so an abrupt change
/// stands out against it and a host's own level does not.
pub const OFFSET_SECONDS: f64 = 3600.0;

/// Samples a host sends before it is compared with a group: its offset starts as their
/// median residual (and a new host is placed in a group by them).
pub const FIRST_SAMPLES: usize = 3;

/// Time constant of a host's drift from its group (seconds): its level relative to the
/// group over the last few hours, against which a slow departure from its peers is told.
pub const DRIFT_SECONDS: f64 = 3.0 * 3600.0;

/// One step of an exponentially weighted mean (time constant `tau` seconds) towards `r` at
/// `t`, the mean last moved at `at`.
pub(crate) fn follow(mean: f64, at: f64, t: f64, r: f64, tau: f64) -> f64 {
    let w = 1.0 - (-(t - at).max(0.0) / tau).exp();
    mean + w * (r - mean)
}

/// The median at each hour of the day of pooled `(epoch seconds, value)` points (the
/// overall median for an hour without any).
fn medians_by_hour<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> Vec<f64> {
    let mut by_hour: Vec<Vec<f64>> = vec![Vec::new(); HOURS];
    let mut all = Vec::new();
    for &(t, x) in points {
        by_hour[part_of_day(t, HOURS)].push(x);
        all.push(x);
    }
    let overall = median(&mut all);
    by_hour
        .iter_mut()
        .map(|v| if v.is_empty() { overall } else { median(v) })
        .collect()
}

/// Robust spreads per hour of residuals, floored at a quarter of the typical hour's (so a
/// quiet hour is not infinitely sharp) and at a millionth of `scale`.
fn spreads_by_hour(residuals: &mut [Vec<f64>], scale: f64) -> Vec<f64> {
    // (an hour without residuals has a NaN spread, which the floor below replaces)
    let mut spread: Vec<f64> = residuals
        .iter_mut()
        .map(|r| {
            let centre = median(r);
            robust_spread(r, centre)
        })
        .collect();
    let mut known: Vec<f64> = spread.iter().copied().filter(|s| s.is_finite()).collect();
    let typical = median(&mut known);
    let floor = (0.25 * typical).max(1e-6 * (1.0 + scale.abs()));
    // (no residuals at all, and no scale: a unit spread)
    let floor = if floor.is_finite() { floor } else { 1.0 };
    for s in &mut spread {
        // (`max` takes the finite one: the floor where a spread or the typical one is NaN)
        *s = if s.is_finite() {
            s.max(floor)
        } else {
            typical.max(floor)
        };
    }
    spread
}

impl MetricBaseline {
    /// The baseline of a group whose hosts' `(epoch seconds, value)` points are `hosts`.
    ///
    /// A host is compared with the group's hourly median plus its own offset, which follows
    /// its unsurprising samples ([`follow`]): the spread and the tail are those of each
    /// member's residuals run the same way (the offset starting from its first
    /// [`FIRST_SAMPLES`], each residual taken before the offset learns it), so a new host
    /// is judged by how the group's hosts move around their own levels.
    pub(crate) fn fit(hosts: &[Vec<(f64, f64)>]) -> MetricBaseline {
        let median_by_hour = medians_by_hour(hosts.iter().flatten());
        let hour = |t: f64| part_of_day(t, HOURS);
        let mut residuals: Vec<Vec<f64>> = vec![Vec::new(); HOURS];
        let mut runs: Vec<(usize, f64)> = Vec::new();
        for host in hosts {
            let mut points = host.clone();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let Some((first, rest)) = points.split_at_checked(FIRST_SAMPLES) else {
                continue;
            };
            let mut start: Vec<f64> = first
                .iter()
                .map(|&(t, x)| x - median_by_hour[hour(t)])
                .collect();
            let mut offset = median(&mut start);
            let mut at = first.last().map_or(0.0, |p| p.0);
            for &(t, x) in rest {
                let r = x - median_by_hour[hour(t)];
                residuals[hour(t)].push(r - offset);
                runs.push((hour(t), r - offset));
                offset = follow(offset, at, t, r, OFFSET_SECONDS);
                at = t;
            }
        }
        let mut all: Vec<f64> = median_by_hour.clone();
        let scale = median(&mut all);
        let spread = spreads_by_hour(&mut residuals, scale);
        let mut deviations: Vec<f64> = runs.iter().map(|&(h, r)| (r / spread[h]).abs()).collect();
        deviations.sort_unstable_by(f64::total_cmp);
        let n = deviations.len() as f64;
        let mut tail: Vec<TailPoint> = Vec::new();
        for q in TAIL_LEVELS {
            if n * (1.0 - q) < MIN_TAIL_COUNT {
                break;
            }
            let z = crate::forest::quantile_sorted(&deviations, q);
            // strictly rising, so the tail can be interpolated
            if tail.last().is_none_or(|p| z > p.z) {
                tail.push(TailPoint { q, z });
            }
        }
        MetricBaseline {
            median: median_by_hour,
            spread,
            tail,
        }
    }

    /// Checks a baseline read from a file: 24 finite medians, 24 positive finite spreads,
    /// and a tail rising in both `q` (in (0, 1)) and `z` (positive); `field` is its path.
    pub(crate) fn check(&self, field: &str) -> Result<()> {
        let bad = |what: &str, reason: String| Error::InvalidField {
            field: format!("{field}.{what}"),
            reason,
        };
        if self.median.len() != HOURS || self.median.iter().any(|m| !m.is_finite()) {
            return Err(bad("median", format!("must be {HOURS} finite numbers")));
        }
        if self.spread.len() != HOURS || self.spread.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(bad("spread", format!("must be {HOURS} positive numbers")));
        }
        let mut last = TailPoint { q: 0.0, z: 0.0 };
        for p in &self.tail {
            if !(p.q > last.q && p.q < 1.0 && p.z > last.z && p.z.is_finite()) {
                return Err(bad(
                    "tail",
                    "must rise in q (within (0, 1)) and in z (finite, > 0)".into(),
                ));
            }
            last = *p;
        }
        Ok(())
    }

    /// The expectation and spread at time `t` (epoch seconds).
    pub fn expected(&self, t: f64) -> (f64, f64) {
        let h = part_of_day(t, HOURS);
        (
            self.median.get(h).copied().unwrap_or(0.0),
            self.spread.get(h).copied().unwrap_or(1.0),
        )
    }

    /// How surprising a deviation of `z` spreads is among the group's hosts, in nats
    /// (`-ln` of the share of training deviations beyond it): interpolated between the tail
    /// points, extrapolated as an exponential tail beyond the last (the slope of the last
    /// step, or of the whole tail when that step is flat). 0 without a tail.
    pub fn surprise(&self, z: f64) -> f64 {
        let z = z.abs();
        if !z.is_finite() {
            return if z.is_nan() { 0.0 } else { f64::MAX };
        }
        let nats = |p: &TailPoint| -(1.0 - p.q).ln();
        let mut prev = (0.0, 0.0);
        for p in &self.tail {
            let here = (p.z, nats(p));
            if z <= p.z {
                let f = (z - prev.0) / (here.0 - prev.0);
                return prev.1 + f * (here.1 - prev.1);
            }
            prev = here;
        }
        let Some(last) = self.tail.last() else {
            return 0.0;
        };
        let before = self
            .tail
            .len()
            .checked_sub(2)
            .and_then(|i| self.tail.get(i))
            .map_or((0.0, 0.0), |p| (p.z, nats(p)));
        let slope = (nats(last) - before.1) / (last.z - before.0);
        nats(last) + slope * (z - last.z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two hosts, three days of 5-minute samples each: level 10 by night, 30 by day, ± noise.
    fn points() -> Vec<Vec<(f64, f64)>> {
        let mut hosts = Vec::new();
        for host in 0..2 {
            let mut v = Vec::new();
            for i in 0..288 * 3 {
                let t = 300.0 * f64::from(i);
                let day = (6.0..18.0).contains(&(t.rem_euclid(86_400.0) / 3600.0));
                let noise = f64::from((i * 7 + host * 3) % 11) / 5.0 - 1.0;
                v.push((t, if day { 30.0 } else { 10.0 } + noise));
            }
            hosts.push(v);
        }
        hosts
    }

    #[test]
    fn the_baseline_follows_the_hour_and_its_tail_rises() {
        let b = MetricBaseline::fit(&points());
        b.check("b").unwrap();
        let (night, s) = b.expected(3.0 * 3600.0);
        assert!((night - 10.0).abs() < 0.5 && s < 2.0, "{night} {s}");
        assert!((b.expected(12.0 * 3600.0).0 - 30.0).abs() < 0.5);
        assert!(!b.tail.is_empty());
        // monotone: a larger deviation is never less surprising
        let mut last = -1.0;
        for k in 0..200 {
            let s = b.surprise(f64::from(k) * 0.1);
            assert!(s >= last, "{k}: {s} < {last}");
            last = s;
        }
        // far beyond anything seen: extrapolated, large
        assert!(b.surprise(50.0) > 20.0);
        assert_eq!(b.surprise(f64::NAN), 0.0);
        // a host too short to run has nothing to add
        let short = MetricBaseline::fit(&[points()[0][..2].to_vec()]);
        short.check("short").unwrap();
        assert!(short.tail.is_empty());
        assert_eq!(short.surprise(100.0), 0.0);
    }

    #[test]
    fn check_names_what_is_wrong() {
        let mut b = MetricBaseline::fit(&points());
        b.spread[3] = 0.0;
        let e = b.check("groups[0].baseline[1]").unwrap_err();
        assert_eq!(e.field(), Some("groups[0].baseline[1].spread"));
        let mut b = MetricBaseline::fit(&points());
        b.tail.reverse();
        assert_eq!(b.check("g").unwrap_err().field(), Some("g.tail"));
        let mut b = MetricBaseline::fit(&points());
        b.median.pop();
        assert_eq!(b.check("g").unwrap_err().field(), Some("g.median"));
    }
}
