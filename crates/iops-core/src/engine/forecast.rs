//! Capacity forecasts: when a bounded metric (CPU or memory, in percent) reaches its
//! ceiling at the pace of its recent trend.
//!
//! The trend is Theil–Sen's (the median of the pairwise slopes of the last two hours'
//! bucket means) with Sen's confidence interval, so one odd bucket neither makes nor breaks
//! it; where the newer half of the span is steeper and clear on its own (a leak that began
//! within the span), its pace is the newer half's. A forecast needs the whole interval to
//! rise, the ceiling within three spans at that pace, the interval's ends within a factor
//! of 1.5, and a rise the daily cycle does not explain: compared with the same time a day
//! ago the series must be rising too (and only that rise is carried forward), or be higher
//! than it was by more than the trend's own rise over its span (a trend older than a day).
//! Without a day of history there is no forecast: a morning ramp and a leak look alike.
//!
//! The analysis runs once per bucket (when the next one starts), and only after a cheap
//! least-squares slope says the ceiling may be near, so a host whose metrics are flat or
//! far from their ceiling pays for the bucket sums alone.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::window::floor_index;
use crate::stats::{median, middle, ranked};

const HOUR: f64 = 3600.0;
/// Span of the trend: a leak that fills memory in four hours is forecast half way there.
const TREND_SECONDS: f64 = 2.0 * HOUR;
/// Buckets are this wide, or the cadence where it is slower.
const BUCKET_SECONDS: f64 = 300.0;
/// Most buckets a span holds: the trend's span in the narrowest buckets.
const MAX_SPAN: usize = 24;
/// The residuals against a day ago are looked at closely (Theil–Sen) only when their
/// least-squares slope has at least this t statistic, or they stand above yesterday: next to
/// the z of Sen's 99 % interval (2.58), which is the test; it spares the day's ramps the cost.
const GATE_T: f64 = 2.5;
/// The trend's span holds at least this many buckets (an hourly series: 12 hours).
const MIN_BUCKETS: usize = 12;
/// A trend is carried forward at most this many of its spans: further out, a ramp of the
/// day's cycle or of a batch job looks like a leak.
const HORIZON_SPANS: f64 = 3.0;
/// The slope interval's ends are at most this far apart (a ratio): the ETA's 99 % interval
/// is then within about ± 20 % of its middle, the precision a forecast is asked for (25 %).
const SPREAD_RATIO: f64 = 1.5;
/// The standard normal quantile of Sen's interval (99 %, two-sided): a trend judged every
/// bucket must be clear, or chance alone makes a forecast every few days.
const SEN_Z: f64 = 2.576;
/// A told forecast is told again when its crossing time moves by more than this share of
/// the time left (or by [`RETELL_MIN_SECONDS`], the larger).
const RETELL_SHARE: f64 = 0.25;
const RETELL_MIN_SECONDS: f64 = 0.5 * HOUR;
/// The lanes forecast: CPU and memory, the bounded ones.
pub(crate) const LANES: usize = 2;

/// When a metric reaches its ceiling at the pace of its trend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Forecast {
    /// Seconds until the ceiling, at the trend's pace.
    pub(crate) eta: f64,
    /// Sen's interval of the ETA (from the interval of the slope).
    pub(crate) eta_low: f64,
    pub(crate) eta_high: f64,
    /// The trend's value now.
    pub(crate) level: f64,
    /// Percentage points per hour.
    pub(crate) rate_per_hour: f64,
}

/// What a sample did to a lane's forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Told {
    /// A trend towards the ceiling began: news.
    New(Forecast),
    /// The trend goes on, and its crossing time moved: the same news, revised.
    Revised(Forecast),
}

/// Means of one bucket's samples: the values, and their residuals against a day ago.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bucket {
    index: i64,
    n: f64,
    sum: [f64; LANES],
    n_day_ago: f64,
    sum_day_ago: [f64; LANES],
    /// The largest value of each lane.
    max: [f64; LANES],
}

/// A lane's forecast since it was first told.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Episode {
    /// Time of the ceiling crossing last told.
    crossing: f64,
    /// Last time a forecast held or the series still clearly rose: the episode (and the
    /// host's incident with it) lasts until it stopped rising for the quiet time, so a leak
    /// whose pace is unclear for a while is not told twice, and its revisions have an
    /// incident to go to.
    rose: f64,
}

/// The forecaster of one host's CPU and memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub(crate) struct Forecaster {
    /// Seconds per bucket (0 until the first sample).
    width: f64,
    /// Buckets in the trend's span (set with `width`).
    span: usize,
    buckets: VecDeque<Bucket>,
    episodes: [Option<Episode>; LANES],
    /// Least-squares sums of the closed buckets held (the gate's).
    sums: SpanSums,
}

/// Least-squares sums of the closed buckets held, per lane: their means and their
/// residuals against a day ago, at bucket positions from `base`. Kept as buckets close,
/// leave and take late samples, so the gate costs the same whatever the span; rebuilt
/// every few spans, against rounding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
struct SpanSums {
    base: i64,
    changes: u32,
    values: Moments,
    residuals: Moments,
}

impl SpanSums {
    /// Adds (`sign` 1) or takes away (-1) a closed bucket.
    fn count(&mut self, b: &Bucket, sign: f64) {
        if b.n == 0.0 {
            return;
        }
        let k = (b.index - self.base) as f64 + 0.5;
        let per_sample = 1.0 / b.n;
        self.values.add(k, b.sum.map(|sum| sum * per_sample), sign);
        if b.n_day_ago > 0.0 {
            let per_sample = 1.0 / b.n_day_ago;
            let residuals = b.sum_day_ago.map(|sum| sum * per_sample);
            self.residuals.add(k, residuals, sign);
        }
    }

    /// Recomputed from the closed buckets, at positions from `base`.
    fn rebuild<'a>(base: i64, closed: impl Iterator<Item = &'a Bucket>) -> SpanSums {
        let mut sums = SpanSums {
            base,
            ..SpanSums::default()
        };
        for b in closed {
            sums.count(b, 1.0);
        }
        sums
    }
}

/// What a forecast is judged against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The series' cadence (seconds).
    pub(crate) cadence: f64,
    /// The ceiling (percent).
    pub(crate) ceiling: f64,
    /// A told forecast's episode ends once its metric stopped clearly rising for this long
    /// (seconds).
    pub(crate) quiet_seconds: f64,
}

impl Forecaster {
    /// Takes one sample of the two lanes at `t` (with its residuals against exactly a day
    /// ago, where known); when it starts a bucket, judges the closed ones. `yesterday(t)`
    /// is the lanes' value a day before `t`, where known (the day's shape a rise is carried
    /// forward on).
    #[inline]
    pub(crate) fn observe(
        &mut self,
        t: f64,
        x: [f64; LANES],
        day_ago: Option<[f64; LANES]>,
        limits: Limits,
        yesterday: impl Fn(f64) -> Option<[f64; LANES]>,
    ) -> [Option<Told>; LANES] {
        if self.width == 0.0 {
            self.width = BUCKET_SECONDS.max(limits.cadence);
            self.span =
                ((TREND_SECONDS / self.width).round() as usize).clamp(MIN_BUCKETS, MAX_SPAN);
        }
        let index = floor_index(t / self.width);
        let mut told = [None; LANES];
        let newest = self.buckets.back().map(|b| b.index);
        match newest {
            Some(i) if i == index => {}
            Some(i) if i > index => {
                // a late sample: its bucket has been judged already
                if let Some(b) = self.buckets.iter_mut().rev().find(|b| b.index == index) {
                    self.sums.count(b, -1.0);
                    b.add(x, day_ago);
                    self.sums.count(b, 1.0);
                }
                return told;
            }
            _ => {
                let span = self.span as i64;
                if let Some(closing) = self.buckets.back() {
                    self.sums.count(closing, 1.0);
                }
                while let Some(old) = self.buckets.front().filter(|b| b.index < index - span) {
                    self.sums.count(old, -1.0);
                    self.buckets.pop_front();
                }
                self.sums.changes += 1;
                if self.sums.changes as i64 > 4 * span {
                    self.sums = SpanSums::rebuild(index, self.buckets.iter());
                }
                if newest.is_some() {
                    told = self.judge(t, index, limits, yesterday);
                }
                self.buckets.push_back(Bucket::EMPTY.at(index));
            }
        }
        if let Some(b) = self.buckets.back_mut() {
            b.add(x, day_ago);
        }
        told
    }

    /// Which lanes are worth a close look (Theil–Sen), from the held least-squares sums: a
    /// slope that reaches the ceiling within twice the horizon, and residuals against a day
    /// ago that rise ([`GATE_T`]; Sen's interval is the test) or stand above yesterday by
    /// half the span's rise. The rest, nearly every bucket of every host,
    /// stop here.
    fn gate(&self, now: i64, span: usize, ceiling: f64) -> [bool; LANES] {
        let hours_per_bucket = self.width / HOUR;
        let span_hours = span as f64 * hours_per_bucket;
        let horizon_hours = HORIZON_SPANS * span_hours;
        let sums = &self.sums;
        let (values, residuals) = (&sums.values, &sums.residuals);
        let mut worth = [false; LANES];
        if values.n * 4.0 < span as f64 * 3.0 {
            return worth;
        }
        for (lane, worth) in worth.iter_mut().enumerate() {
            // most buckets stop here: a falling or flat slope, without a division
            if !values.rises(lane) {
                continue;
            }
            let (per_bucket, level) = values.line(lane);
            let slope = per_bucket / hours_per_bucket;
            let gap = ceiling - (level + per_bucket * (now - sums.base) as f64);
            if !(slope > 0.0 && gap > 0.0 && gap <= 2.0 * horizon_hours * slope) {
                continue;
            }
            let residual_mean = residuals.x[lane] / residuals.n.max(1.0);
            *worth =
                residual_mean >= 0.5 * slope * span_hours || residuals.t_statistic(lane) > GATE_T;
        }
        worth
    }

    /// True while a told forecast's episode lasts (its metric still clearly rose within the
    /// quiet time): the host's incident stays open meanwhile.
    pub(crate) fn is_open(&self) -> bool {
        self.episodes.iter().any(Option::is_some)
    }

    /// Forecasts from the closed buckets, and what is news about them.
    fn judge(
        &mut self,
        t: f64,
        index: i64,
        limits: Limits,
        yesterday: impl Fn(f64) -> Option<[f64; LANES]>,
    ) -> [Option<Told>; LANES] {
        let span = self.span;
        let worth_a_look = self.gate(index, span, limits.ceiling);
        let mut told = [None; LANES];
        // nearly every bucket of every host: nothing to look at, no episode going on
        if worth_a_look == [false; LANES] && !self.is_open() {
            return told;
        }
        for (lane, told) in told.iter_mut().enumerate() {
            let at = |t: f64| yesterday(t).and_then(|v| v.get(lane).copied());
            let forecast = if worth_a_look[lane] {
                forecast(
                    &self.buckets,
                    index,
                    lane,
                    self.width,
                    span,
                    limits.ceiling,
                    at,
                )
            } else {
                None
            };
            let episode = &mut self.episodes[lane];
            match (forecast, episode.as_mut()) {
                (Some(f), None) => {
                    *episode = Some(Episode {
                        crossing: t + f.eta,
                        rose: t,
                    });
                    *told = Some(Told::New(f));
                }
                (Some(f), Some(e)) => {
                    e.rose = t;
                    let crossing = t + f.eta;
                    let moved = (crossing - e.crossing).abs();
                    if moved > (RETELL_SHARE * f.eta).max(RETELL_MIN_SECONDS) {
                        e.crossing = crossing;
                        *told = Some(Told::Revised(f));
                    }
                }
                (None, Some(e)) => {
                    if still_rising(&self.buckets, index, lane, self.width, span) {
                        e.rose = t;
                    }
                    if t - e.rose > limits.quiet_seconds {
                        *episode = None;
                    }
                }
                (None, None) => {}
            }
        }
        told
    }
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        index: 0,
        n: 0.0,
        sum: [0.0; LANES],
        n_day_ago: 0.0,
        sum_day_ago: [0.0; LANES],
        max: [f64::NEG_INFINITY; LANES],
    };

    fn at(self, index: i64) -> Bucket {
        Bucket { index, ..self }
    }

    fn add(&mut self, x: [f64; LANES], day_ago: Option<[f64; LANES]>) {
        self.n += 1.0;
        for ((s, m), v) in self.sum.iter_mut().zip(&mut self.max).zip(x) {
            *s += v;
            *m = m.max(v);
        }
        if let Some(d) = day_ago {
            self.n_day_ago += 1.0;
            for (s, v) in self.sum_day_ago.iter_mut().zip(d) {
                *s += v;
            }
        }
    }
}

/// A lane's forecast from the buckets of the span before bucket `now` (which has just
/// begun), if its trend clearly heads for the ceiling within the horizon and the daily
/// cycle does not explain it.
#[cold]
fn forecast(
    buckets: &VecDeque<Bucket>,
    now: i64,
    lane: usize,
    width: f64,
    span: usize,
    ceiling: f64,
    yesterday: impl Fn(f64) -> Option<f64>,
) -> Option<Forecast> {
    let closed = span_points(buckets, now, lane, width, span);
    let (mut points, mut residuals) = (Points::default(), Points::default());
    for (b, p) in closed {
        // the ceiling reached within the span is a saturation, not a trend towards it (and
        // a spike that reached it would bend the trend)
        if b.max[lane] >= ceiling {
            return None;
        }
        points.push(p);
        if b.n_day_ago > 0.0 {
            residuals.push((p.0, b.sum_day_ago[lane] / b.n_day_ago));
        }
    }
    let (points, residuals) = (points.as_slice(), residuals.as_slice());
    if points.len() * 4 < span * 3 || residuals.len() * 4 < points.len() * 3 {
        return None;
    }
    let horizon = HORIZON_SPANS * span as f64 * width;
    let residual_mean = residuals.iter().map(|p| p.1).sum::<f64>() / residuals.len() as f64;
    let rise = |slope: f64| slope * span as f64 * width / HOUR;
    let whole = theil_sen(points)?;
    if !(whole.low > 0.0 && ceiling > whole.level) {
        return None;
    }
    // the daily cycle: against a day ago the series must rise too (then only that rise is
    // carried forward: the cycle's part stops where it stopped yesterday), or be above
    // yesterday by more than the trend's rise over its span (a trend older than a day)
    let against_yesterday = theil_sen(residuals).filter(|r| r.low > 0.0);
    // (the newer half only steepens the trend: a residual mean below the span's rise is
    // below the newer half's too)
    if against_yesterday.is_none() && residual_mean < rise(whole.slope) {
        return None;
    }
    let trend = newer_if_steeper(points, whole);
    let gap = ceiling - trend.level;
    if gap <= 0.0 {
        return None;
    }
    // (the pace, and the residual against a day ago now when only that rise goes on)
    let (pace, offset) = match against_yesterday {
        Some(r) => {
            let r = newer_if_steeper(residuals, r);
            let pace = Trend {
                slope: r.slope.min(trend.slope),
                low: r.low.min(trend.low),
                high: r.high.min(trend.high),
                level: trend.level,
            };
            (pace, Some(r.level))
        }
        None if residual_mean >= rise(trend.slope) => (trend, None),
        None => return None,
    };
    if pace.high > SPREAD_RATIO * pace.low {
        return None;
    }
    // the rise carried forward on the day's shape, where yesterday's values over the
    // horizon are known; else on a straight line
    let start = now as f64 * width;
    let steps = (2.0 * horizon / width).ceil() as usize;
    let shape = offset.and_then(|d| {
        (0..=steps)
            .map(|k| yesterday(start + k as f64 * width).map(|y| y + d))
            .collect::<Option<Vec<f64>>>()
    });
    let hours_to_ceiling = |slope: f64| -> Option<f64> {
        let Some(shape) = &shape else {
            return Some(gap / slope);
        };
        shape.iter().enumerate().find_map(|(k, y)| {
            let hours = k as f64 * width / HOUR;
            (y + slope * hours >= ceiling).then_some(hours)
        })
    };
    let eta_hours = hours_to_ceiling(pace.slope)?;
    // near enough to be news
    if eta_hours * HOUR > horizon {
        return None;
    }
    let soonest = hours_to_ceiling(pace.high).unwrap_or(eta_hours);
    let latest = hours_to_ceiling(pace.low).unwrap_or(gap / pace.low);
    Some(Forecast {
        eta: eta_hours * HOUR,
        eta_low: soonest * HOUR,
        eta_high: latest.max(eta_hours) * HOUR,
        level: trend.level,
        rate_per_hour: pace.slope,
    })
}

/// A trend that began within the span (a leak starting) is steeper in its newer half: the
/// newer half's trend when it is steeper than the span's and clear on its own (its whole
/// interval above zero), else the span's.
fn newer_if_steeper(points: &[(f64, f64)], whole: Trend) -> Trend {
    match theil_sen(&points[points.len() / 2..]) {
        Some(newer) if newer.slope > whole.slope && newer.low > 0.0 => newer,
        _ => whole,
    }
}

/// The span's points of a lane: (hours before bucket `now` began, the bucket's mean).
fn span_points(
    buckets: &VecDeque<Bucket>,
    now: i64,
    lane: usize,
    width: f64,
    span: usize,
) -> impl Iterator<Item = (&Bucket, (f64, f64))> + Clone {
    buckets
        .iter()
        .filter(move |b| b.n > 0.0 && b.index < now && b.index >= now - span as i64)
        .map(move |b| {
            let mid = (b.index - now) as f64 + 0.5;
            (b, (mid * width / HOUR, b.sum[lane] / b.n))
        })
}

/// Least-squares sums of the lanes' points, which share their times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Moments {
    n: f64,
    t: f64,
    tt: f64,
    x: [f64; LANES],
    tx: [f64; LANES],
    xx: [f64; LANES],
}

impl Moments {
    /// Adds the lanes' points at time `t` (`sign` 1) or takes them away (-1).
    fn add(&mut self, t: f64, x: [f64; LANES], sign: f64) {
        self.n += sign;
        self.t += sign * t;
        self.tt += sign * t * t;
        for (lane, x) in x.into_iter().enumerate() {
            self.x[lane] += sign * x;
            self.tx[lane] += sign * t * x;
            self.xx[lane] += sign * x * x;
        }
    }

    /// The spread of the times (times n), when a slope is defined: three points or more.
    fn stt(&self) -> Option<f64> {
        let stt = self.tt - self.t * self.t / self.n;
        (self.n >= 3.0 && stt > 0.0).then_some(stt)
    }

    /// True when the lane's slope is defined and above zero (the sign of its covariance,
    /// without a division).
    fn rises(&self, lane: usize) -> bool {
        self.n >= 3.0 && self.n * self.tx[lane] > self.t * self.x[lane]
    }

    /// The lane's slope and the line's value at time 0 (a flat line through the mean when
    /// fewer than three points or no spread in time).
    fn line(&self, lane: usize) -> (f64, f64) {
        let Some(stt) = self.stt() else {
            return (0.0, self.x[lane] / self.n.max(1.0));
        };
        let slope = (self.tx[lane] - self.t * self.x[lane] / self.n) / stt;
        (slope, (self.x[lane] - slope * self.t) / self.n)
    }

    /// The lane's slope's t statistic (0 when undefined, infinite for points exactly on a
    /// rising line).
    fn t_statistic(&self, lane: usize) -> f64 {
        let Some(stt) = self.stt() else {
            return 0.0;
        };
        let (slope, _) = self.line(lane);
        let sxx = self.xx[lane] - self.x[lane] * self.x[lane] / self.n;
        let sse = (sxx - slope * slope * stt).max(0.0);
        let se = (sse / (self.n - 2.0) / stt).sqrt();
        if se > 0.0 {
            slope / se
        } else if slope > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    }
}

/// Up to a span of points (a span holds at most [`MAX_SPAN`] buckets), kept on the stack:
/// the gates run every bucket and allocate nothing.
struct Points {
    at: [(f64, f64); MAX_SPAN],
    len: usize,
}

impl Default for Points {
    fn default() -> Self {
        Points {
            at: [(0.0, 0.0); MAX_SPAN],
            len: 0,
        }
    }
}

impl Points {
    fn push(&mut self, p: (f64, f64)) {
        if let Some(slot) = self.at.get_mut(self.len) {
            *slot = p;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[(f64, f64)] {
        &self.at[..self.len]
    }
}

/// True when the span's trend still clearly rises (its whole interval above zero).
fn still_rising(
    buckets: &VecDeque<Bucket>,
    now: i64,
    lane: usize,
    width: f64,
    span: usize,
) -> bool {
    let mut points = Points::default();
    for (_, p) in span_points(buckets, now, lane, width, span) {
        points.push(p);
    }
    let points = points.as_slice();
    points.len() * 4 >= span * 3 && theil_sen(points).is_some_and(|t| t.low > 0.0)
}

/// A Theil–Sen trend: the median pairwise slope, Sen's interval of it, and the line's
/// value at time 0 (the median of `x - slope * t`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Trend {
    slope: f64,
    low: f64,
    high: f64,
    level: f64,
}

fn theil_sen(points: &[(f64, f64)]) -> Option<Trend> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            let dt = b.0 - a.0;
            if dt != 0.0 {
                slopes.push((b.1 - a.1) / dt);
            }
        }
    }
    let m = slopes.len();
    if m == 0 {
        return None;
    }
    let nf = n as f64;
    // Sen (1968): the interval's ends are the slopes ranked (M ∓ C) / 2
    let c = SEN_Z * (nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0).sqrt();
    let low_rank = ((m as f64 - c) / 2.0).floor().max(0.0) as usize;
    let high_rank = (((m as f64 + c) / 2.0).ceil() as usize).min(m - 1);
    // each selection within what the one before left unordered (low ≤ median ≤ high)
    let low = ranked(&mut slopes, low_rank);
    let high = match high_rank.checked_sub(low_rank + 1) {
        Some(k) => ranked(&mut slopes[low_rank + 1..], k),
        None => low,
    };
    let slope = median_between(&mut slopes, low_rank, high_rank);
    let mut rest: Vec<f64> = points.iter().map(|p| p.1 - slope * p.0).collect();
    Some(Trend {
        slope,
        low,
        high,
        level: median(&mut rest),
    })
}

/// Median of `values` whose ranks `lo ≤ len / 2 ≤ hi` are in place already (the values
/// before each no larger, those after no smaller), selecting only among the values
/// between; reordered.
fn median_between(values: &mut [f64], lo: usize, hi: usize) -> f64 {
    let upper = match values.len() / 2 {
        k if k == lo || k == hi => values[k],
        k => ranked(&mut values[lo + 1..hi], k - lo - 1),
    };
    middle(values, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_finds_a_line_through_an_outlier() {
        let mut points: Vec<(f64, f64)> = (0..20)
            .map(|i| (f64::from(i), 2.0 * f64::from(i) + 5.0))
            .collect();
        points[7].1 = 500.0;
        let t = theil_sen(&points).unwrap();
        assert!((t.slope - 2.0).abs() < 1e-9, "{t:?}");
        assert!((t.level - 5.0).abs() < 1e-9, "{t:?}");
        assert!(t.low <= 2.0 && t.high >= 2.0, "{t:?}");
    }

    /// The ranks Theil–Sen selects one within another equal those of a full sort, ties
    /// and odd or even counts of slopes included.
    #[test]
    fn theil_sen_ranks_match_a_sorted_reference() {
        let mut state = 0x2545_f491_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 40) % 7
        };
        for n in 3..=MAX_SPAN {
            let points: Vec<(f64, f64)> = (0..n)
                .map(|i| (i as f64 + (next() % 2) as f64 * 0.5, next() as f64))
                .collect();
            let mut slopes: Vec<f64> = Vec::new();
            for (i, a) in points.iter().enumerate() {
                for b in &points[i + 1..] {
                    if b.0 != a.0 {
                        slopes.push((b.1 - a.1) / (b.0 - a.0));
                    }
                }
            }
            slopes.sort_by(f64::total_cmp);
            let m = slopes.len();
            let nf = n as f64;
            let c = SEN_Z * (nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0).sqrt();
            let low = slopes[((m as f64 - c) / 2.0).floor().max(0.0) as usize];
            let high = slopes[(((m as f64 + c) / 2.0).ceil() as usize).min(m - 1)];
            let median = if m % 2 == 1 {
                slopes[m / 2]
            } else {
                0.5 * (slopes[m / 2 - 1] + slopes[m / 2])
            };
            let t = theil_sen(&points).unwrap();
            assert_eq!((t.low, t.slope, t.high), (low, median, high), "n = {n}");
        }
    }

    #[test]
    fn sen_interval_straddles_zero_for_noise() {
        // deterministic noise with no trend
        let points: Vec<(f64, f64)> = (0..24)
            .map(|i| (f64::from(i), (f64::from(i) * 2.3).sin()))
            .collect();
        let t = theil_sen(&points).unwrap();
        assert!(t.low < 0.0 && t.high > 0.0, "{t:?}");
    }

    /// Five-minute samples of memory: 60 % with a daily wave for two days, then `leak`
    /// points per hour from `from` (hours into day 3).
    fn run(leak: f64, from: f64, hours: f64) -> Vec<(f64, Told)> {
        let mut f = Forecaster::default();
        let mut told = Vec::new();
        let day = 86_400.0;
        let mut ring = std::collections::HashMap::new();
        let mut t = 0.0;
        while t < 2.0 * day + hours * HOUR {
            let wave = 10.0 * (2.0 * std::f64::consts::PI * t / day).sin();
            let noise = ((t / 300.0) as i64 % 7) as f64 * 0.2;
            let since = (t - 2.0 * day - from * HOUR).max(0.0) / HOUR;
            let mem = 60.0 + wave + noise + leak * since;
            let key = ((t % day) / 300.0).round() as i64;
            let d = ring.get(&key).map(|v: &f64| [0.0, mem - v]);
            ring.insert(key, mem);
            let limits = Limits {
                cadence: 300.0,
                ceiling: 95.0,
                quiet_seconds: 3.0 * HOUR,
            };
            if let Some(x) = f.observe(t, [30.0, mem], d, limits, |_| None)[1] {
                told.push((t, x));
            }
            t += 300.0;
        }
        told
    }

    #[test]
    fn a_daily_wave_is_not_a_trend() {
        assert_eq!(run(0.0, 0.0, 24.0), vec![]);
    }

    #[test]
    fn a_leak_is_told_once_with_its_eta_and_revised_as_it_moves() {
        // 4 points an hour from 60 % at 06:00 of day 3 (the wave near its top): 95 % in
        // under 9 hours
        let told = run(4.0, 6.0, 12.0);
        let Some((at, Told::New(f))) = told.first().copied() else {
            panic!("no forecast: {told:?}");
        };
        let leak_start = 2.0 * 86_400.0 + 6.0 * HOUR;
        assert!(
            at - leak_start <= 2.5 * HOUR,
            "told {}h in",
            (at - leak_start) / HOUR
        );
        assert!(f.eta_low <= f.eta && f.eta <= f.eta_high, "{f:?}");
        assert!(
            told[1..].iter().all(|(_, x)| matches!(x, Told::Revised(_))),
            "{told:?}"
        );
    }
}
