//! What normal looks like for each host: its role, baselines, daily and weekly cycles,
//! noise, and the routine jobs that run at a fixed time every day.

use std::f64::consts::TAU;

use crate::rng::{cos, Rng};

/// The kind of machine a host is; it sets the shape of its normal load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Serves user traffic: strong daily cycle, quieter weekends, high network I/O.
    Web,
    /// A database: steady memory, heavy disk I/O, a nightly backup at 02:00 UTC.
    Db,
    /// Batch worker: mostly idle, a nightly job from 01:00 to 03:00 UTC.
    Batch,
}

impl Role {
    /// Host name prefix (`web`, `db`, `batch`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Web => "web",
            Role::Db => "db",
            Role::Batch => "batch",
        }
    }

    /// The role of host `i` in a fleet: half web, a quarter db, a quarter batch.
    pub(crate) fn of_host(i: usize) -> Role {
        match i % 4 {
            0 | 1 => Role::Web,
            2 => Role::Db,
            _ => Role::Batch,
        }
    }
}

/// A daily routine job: `[start, end)` seconds after midnight UTC and what it adds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routine {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) cpu_add: f64,
    pub(crate) mem_add: f64,
    pub(crate) disk_mul: f64,
    pub(crate) net_mul: f64,
}

/// One host's normal behaviour, drawn once from its seed.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    cpu_base: f64,
    cpu_amp: f64,
    mem_base: f64,
    mem_amp: f64,
    disk_base: f64,
    disk_amp: f64,
    net_base: f64,
    net_amp: f64,
    /// Hour of day (UTC) of peak traffic.
    peak_hour: f64,
    /// Multiplier of the daily swing on Saturdays and Sundays.
    weekend: f64,
    /// Noise standard deviations: cpu and memory in points, disk and network relative.
    noise: [f64; 4],
    pub(crate) routine: Option<Routine>,
}

/// The deterministic (noise-free) part of a sample.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Level {
    pub(crate) values: [f64; 4],
}

impl Profile {
    pub(crate) fn draw(role: Role, rng: &mut Rng) -> Profile {
        match role {
            Role::Web => Profile {
                cpu_base: rng.range(15.0, 25.0),
                cpu_amp: rng.range(15.0, 25.0),
                mem_base: rng.range(45.0, 60.0),
                mem_amp: rng.range(2.0, 5.0),
                disk_base: rng.range(30.0, 60.0),
                disk_amp: rng.range(20.0, 40.0),
                net_base: rng.range(40.0, 80.0),
                net_amp: rng.range(120.0, 250.0),
                peak_hour: rng.range(13.0, 16.0),
                weekend: rng.range(0.75, 0.9),
                noise: [2.0, 0.6, 0.08, 0.07],
                routine: None,
            },
            Role::Db => Profile {
                cpu_base: rng.range(25.0, 35.0),
                cpu_amp: rng.range(8.0, 14.0),
                mem_base: rng.range(68.0, 78.0),
                mem_amp: rng.range(0.5, 1.5),
                disk_base: rng.range(150.0, 250.0),
                disk_amp: rng.range(100.0, 200.0),
                net_base: rng.range(60.0, 100.0),
                net_amp: rng.range(60.0, 120.0),
                peak_hour: rng.range(13.0, 16.0),
                weekend: rng.range(0.8, 0.95),
                noise: [1.5, 0.4, 0.07, 0.07],
                routine: Some(Routine {
                    start: 2 * 3600,
                    end: 2 * 3600 + 1800,
                    cpu_add: 15.0,
                    mem_add: 0.0,
                    disk_mul: 3.0,
                    net_mul: 2.5,
                }),
            },
            Role::Batch => Profile {
                cpu_base: rng.range(8.0, 14.0),
                cpu_amp: rng.range(2.0, 5.0),
                mem_base: rng.range(30.0, 45.0),
                mem_amp: rng.range(1.0, 3.0),
                disk_base: rng.range(20.0, 40.0),
                disk_amp: rng.range(5.0, 10.0),
                net_base: rng.range(10.0, 25.0),
                net_amp: rng.range(5.0, 10.0),
                peak_hour: rng.range(10.0, 14.0),
                weekend: 1.0,
                noise: [1.5, 0.5, 0.08, 0.08],
                routine: Some(Routine {
                    start: 3600,
                    end: 3 * 3600,
                    cpu_add: 55.0,
                    mem_add: 15.0,
                    disk_mul: 4.0,
                    net_mul: 1.5,
                }),
            },
        }
    }

    /// Memory baseline (used by incidents that ramp memory towards a ceiling).
    pub(crate) fn mem_base(&self) -> f64 {
        self.mem_base
    }

    /// The expected values at an instant (`secs` since the epoch, UTC), before noise.
    pub(crate) fn level(&self, secs: i64) -> Level {
        let sec_of_day = secs.rem_euclid(86_400);
        let hour = sec_of_day as f64 / 3600.0;
        // 1 at the peak hour, 0 twelve hours away.
        let daily = 0.5 + 0.5 * cos(TAU * (hour - self.peak_hour) / 24.0);
        // 1970-01-01 was a Thursday: weekday 0 = Monday.
        let weekday = (secs.div_euclid(86_400) + 3).rem_euclid(7);
        let week = if weekday >= 5 { self.weekend } else { 1.0 };
        let d = daily * week;
        let mut cpu = self.cpu_base + self.cpu_amp * d;
        let mut mem = self.mem_base + self.mem_amp * d;
        let mut disk = self.disk_base + self.disk_amp * d;
        let mut net = self.net_base + self.net_amp * d;
        if let Some(r) = self.routine {
            let s = sec_of_day as u32;
            if s >= r.start && s < r.end {
                cpu += r.cpu_add;
                mem += r.mem_add;
                disk *= r.disk_mul;
                net *= r.net_mul;
            }
        }
        Level {
            values: [cpu, mem, disk, net],
        }
    }

    /// Applies one step of noise: `eps` are unit-variance AR(1) innovations per metric.
    pub(crate) fn noisy(&self, level: Level, eps: [f64; 4]) -> [f64; 4] {
        let [cpu, mem, disk, net] = level.values;
        [
            cpu + self.noise[0] * eps[0],
            mem + self.noise[1] * eps[1],
            disk * (1.0 + self.noise[2] * eps[2]),
            net * (1.0 + self.noise[3] * eps[3]),
        ]
    }
}
