//! A small fleet of three roles for the peer-group tests: web (busy by day), db (heavy
//! disk, steady memory) and batch (idle, a job from 01:00 to 03:00 UTC).

use iops_core::{MetricSample, Timestamp};

use super::noise::Noise;

/// Midnight UTC before 2023-11-14.
pub const DAY0: f64 = 1_699_920_000.0;

/// Role names, in the order `role` indexes them.
pub const ROLES: [&str; 3] = ["web", "db", "batch"];

/// Host `k` of `role`: `n` samples `interval` seconds apart, the first at `from` seconds
/// after [`DAY0`]. Its values are its role's day plus noise; `k` moves its levels a little.
pub fn host(role: usize, k: usize, from: f64, n: usize, interval: f64) -> Vec<MetricSample> {
    let mut noise = Noise(0x9e37_79b9 ^ ((role as u64) << 20) ^ (k as u64 + 1));
    (0..n)
        .map(|i| {
            let t = DAY0 + from + interval * i as f64;
            let hour = t.rem_euclid(86_400.0) / 3600.0;
            let day = 0.5 - 0.5 * (std::f64::consts::TAU * hour / 24.0).cos();
            let kf = k as f64;
            let v = match role {
                0 => [
                    20.0 + kf + 20.0 * day,
                    50.0 + kf,
                    40.0 + 20.0 * day,
                    60.0 + 150.0 * day,
                ],
                1 => [
                    30.0 + kf + 8.0 * day,
                    72.0 + kf / 2.0,
                    200.0 + 100.0 * day,
                    80.0 + 60.0 * day,
                ],
                _ => {
                    let job = if (1.0..3.0).contains(&hour) {
                        50.0
                    } else {
                        0.0
                    };
                    [10.0 + kf + job, 38.0 + kf / 2.0, 30.0 + job, 15.0]
                }
            };
            MetricSample {
                timestamp: Timestamp::from_epoch_seconds(t).unwrap(),
                hostname: format!("{}-{}", ROLES[role], k + 1),
                cpu_usage: (v[0] + 1.5 * noise.next()).clamp(0.0, 100.0),
                memory_usage: (v[1] + 0.5 * noise.next()).clamp(0.0, 100.0),
                disk_io: v[2] * (1.0 + 0.05 * noise.next()),
                network_io: v[3] * (1.0 + 0.05 * noise.next()),
            }
        })
        .collect()
}

/// `per_role` hosts of each role, `days` of 5-minute samples from [`DAY0`], host by host.
pub fn fleet(per_role: usize, days: f64) -> Vec<MetricSample> {
    let n = (days * 288.0) as usize;
    (0..3)
        .flat_map(|role| (0..per_role).flat_map(move |k| host(role, k, 0.0, n, 300.0)))
        .collect()
}
