//! The engine in time (issue 13): an incident does not poison the baseline, a lasting change
//! becomes the new normal, and cadence, gaps and irregular sampling change none of that.
//! Each series is scored through the public `SeriesScorer` with the default configuration.

use iops_core::engine::{EngineConfig, EngineParams, Observation, SeriesScorer};

#[path = "support/noise.rs"]
mod noise;
use noise::Noise;

const START: f64 = 1_764_000_000.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;

/// Scores `value(t)` at times `times`, returning (t, observation) per sample.
fn score(times: &[f64], value: impl Fn(f64) -> f64) -> Vec<(f64, Observation)> {
    let mut scorer = SeriesScorer::new(&EngineConfig::default()).expect("default config");
    times
        .iter()
        .map(|&t| (t, scorer.observe(t, value(t)).expect("finite value")))
        .collect()
}

/// Every `cadence` seconds for `days` days.
fn regular(cadence: f64, days: f64) -> Vec<f64> {
    let n = (days * DAY / cadence) as usize;
    (0..n).map(|i| START + cadence * i as f64).collect()
}

/// Web-4's CPU in `iops demo`: 32% ± 2, with a little daily swing.
fn calm_cpu(seed: u64) -> impl Fn(f64) -> f64 {
    let noise = std::cell::RefCell::new(Noise(seed));
    move |t| {
        let phase = (t - START) / DAY * std::f64::consts::TAU;
        32.0 + 1.0 * phase.sin() + 2.0 * noise.borrow_mut().next()
    }
}

/// Mean spread (the band's half-width, over 3) of the observations in [from, to).
fn mean_spread(obs: &[(f64, Observation)], from: f64, to: f64) -> f64 {
    let inside: Vec<f64> = obs
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, o)| o.spread)
        .collect();
    assert!(!inside.is_empty(), "no sample in [{from}, {to})");
    inside.iter().sum::<f64>() / inside.len() as f64
}

fn info_score() -> f64 {
    EngineParams::default().info_score
}

/// Issue 13: after an isolated one-hour spike the expected band is back within 1.5x of its
/// pre-spike width within one hour after the spike ends.
fn spike_band_recovers(cadence: f64) {
    let spike_from = START + 5.0 * DAY + 10.0 * HOUR;
    let spike_to = spike_from + HOUR;
    let calm = calm_cpu(7);
    let times = regular(cadence, 7.0);
    let obs = score(&times, |t| {
        let x = calm(t);
        if (spike_from..spike_to).contains(&t) {
            x + 60.0 // 92% against 32 ± 2
        } else {
            x
        }
    });
    let peak = obs
        .iter()
        .filter(|(t, _)| (spike_from..spike_to).contains(t))
        .map(|(_, o)| o.score)
        .fold(0.0, f64::max);
    assert!(
        peak > 0.5,
        "the spike itself is an incident (score {peak:.3})"
    );
    let before = mean_spread(&obs, spike_from - HOUR, spike_from);
    // the band at each sample of the hour after the first hour after the spike ends
    let worst_after = obs
        .iter()
        .filter(|(t, _)| *t >= spike_to + HOUR && *t < spike_to + 2.0 * HOUR)
        .map(|(_, o)| o.spread)
        .fold(0.0, f64::max);
    assert!(
        worst_after <= 1.5 * before,
        "cadence {cadence}s: band half-width {:.2} an hour after the spike vs {:.2} before",
        3.0 * worst_after,
        3.0 * before
    );
    // and the next incident on the metric, the day after, is caught again
    let second = obs
        .iter()
        .filter(|(t, _)| *t >= spike_to + HOUR)
        .map(|(_, o)| o.score)
        .fold(0.0, f64::max);
    assert!(
        second < info_score(),
        "calm after the spike: max score {second:.3}"
    );
}

#[test]
fn band_recovers_within_an_hour_of_a_one_hour_spike_at_1_minute_cadence() {
    spike_band_recovers(60.0);
}

#[test]
fn band_recovers_within_an_hour_of_a_one_hour_spike_at_5_minute_cadence() {
    spike_band_recovers(300.0);
}

/// A second spike a day after the first raises an insight again (at a lower score: the
/// calibration remembers that such values were seen the day before).
#[test]
fn a_second_incident_a_day_later_raises_an_insight_again() {
    let first = START + 5.0 * DAY + 10.0 * HOUR;
    let second = first + DAY;
    let calm = calm_cpu(11);
    let obs = score(&regular(300.0, 8.0), |t| {
        let x = calm(t);
        if (first..first + HOUR).contains(&t) || (second..second + HOUR).contains(&t) {
            x + 60.0
        } else {
            x
        }
    });
    let peak = |from: f64| {
        obs.iter()
            .filter(|(t, _)| (from..from + HOUR).contains(t))
            .map(|(_, o)| o.score)
            .fold(0.0, f64::max)
    };
    let (a, b) = (peak(first), peak(second));
    assert!(a > 0.5 && b >= info_score(), "first {a:.3}, second {b:.3}");
}

/// Issue 13: a level change that persists is adopted as the new normal within one day.
#[test]
fn a_lasting_level_change_is_the_new_normal_within_a_day() {
    for cadence in [60.0, 300.0] {
        let shift_at = START + 5.0 * DAY + 10.0 * HOUR;
        let calm = calm_cpu(3);
        let obs = score(&regular(cadence, 8.0), |t| {
            calm(t) + if t >= shift_at { 20.0 } else { 0.0 }
        });
        let first = obs
            .iter()
            .filter(|(t, _)| *t >= shift_at && *t < shift_at + HOUR)
            .map(|(_, o)| o.score)
            .fold(0.0, f64::max);
        assert!(
            first > info_score(),
            "cadence {cadence}: the shift is news ({first:.3})"
        );
        // a day later the band is the new level's: centred inside its range (52 ± 3: noise
        // ± 2 and a daily swing of ± 1), as narrow as that range on the first day after
        // (the seasonal model, when it takes over, is wider for two more days: its parts of
        // the day remember the day of the change), and nothing is raised
        for (t, o) in obs.iter().filter(|(t, _)| *t >= shift_at + DAY) {
            let first_day = *t < shift_at + 2.0 * DAY;
            assert!(
                (o.expected - 52.0).abs() < 3.0 && (!first_day || 3.0 * o.spread < 6.0),
                "cadence {cadence}, {:.1} h after the shift: expected {:.1} ± {:.1}",
                (t - shift_at) / HOUR,
                o.expected,
                3.0 * o.spread
            );
            assert!(
                o.score < info_score(),
                "cadence {cadence}, {:.1} h after the shift: score {:.3}",
                (t - shift_at) / HOUR,
                o.score
            );
        }
    }
}

/// Irregular sampling (intervals from 40% to 160% of the cadence) and holes of hours do not
/// raise anything on a calm series, and a spike after a hole is still caught.
#[test]
fn gaps_and_irregular_sampling_are_not_anomalies() {
    let mut jitter = Noise(99);
    let mut times = Vec::new();
    let mut t = START;
    while t < START + 8.0 * DAY {
        // holes: 6 hours on day 3, a whole day from day 5.5
        let in_hole = (START + 3.0 * DAY..START + 3.0 * DAY + 6.0 * HOUR).contains(&t)
            || (START + 5.5 * DAY..START + 6.5 * DAY).contains(&t);
        if !in_hole {
            times.push(t);
        }
        t += 300.0 * (1.0 + 0.6 * jitter.next());
    }
    let spike_at = START + 7.5 * DAY;
    let calm = calm_cpu(5);
    let obs = score(&times, |t| {
        let x = calm(t);
        if (spike_at..spike_at + 1800.0).contains(&t) {
            x + 40.0
        } else {
            x
        }
    });
    let warm_from = START + DAY;
    let calm_max = obs
        .iter()
        .filter(|(t, _)| *t >= warm_from && !(spike_at..spike_at + 6.0 * HOUR).contains(t))
        .map(|(t, o)| (o.score, *t))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
    assert!(
        calm_max.0 < info_score(),
        "score {:.3} on calm data {:.1} h in",
        calm_max.0,
        (calm_max.1 - START) / HOUR
    );
    let spike = obs
        .iter()
        .filter(|(t, _)| (spike_at..spike_at + 1800.0).contains(t))
        .map(|(_, o)| o.score)
        .fold(0.0, f64::max);
    assert!(spike > 0.5, "spike after the holes: {spike:.3}");
}

/// The same series sampled every minute and every 5 minutes: the models count time, not
/// samples, so both learn the same day and catch the same anomaly.
#[test]
fn the_same_day_at_two_cadences_behaves_alike() {
    let anomaly_at = START + 6.0 * DAY + 14.0 * HOUR;
    let value = |t: f64| {
        let phase = (t - START) / DAY * std::f64::consts::TAU;
        // a strong daily cycle: a 288-sample "day" at 1-minute cadence would be 4.8 hours
        let x = 50.0 + 30.0 * phase.sin() + ((t / 60.0) as u64 % 7) as f64 * 0.3;
        if (anomaly_at..anomaly_at + 2.0 * HOUR).contains(&t) {
            x - 25.0
        } else {
            x
        }
    };
    for cadence in [60.0, 300.0] {
        let obs = score(&regular(cadence, 8.0), value);
        let (calm, hit) = obs.iter().filter(|(t, _)| *t >= START + 2.0 * DAY).fold(
            (0.0f64, 0.0f64),
            |(c, h), (t, o)| {
                if (anomaly_at..anomaly_at + 2.0 * HOUR).contains(t) {
                    (c, h.max(o.score))
                } else if *t < anomaly_at || *t > anomaly_at + 8.0 * HOUR {
                    (c.max(o.score), h)
                } else {
                    (c, h)
                }
            },
        );
        assert!(
            calm < info_score() && hit > 0.5,
            "cadence {cadence}: calm max {calm:.3}, anomaly {hit:.3}"
        );
    }
}
