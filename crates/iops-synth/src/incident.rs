//! Labelled incidents: what kinds there are, when they happen, and what they do to a host's
//! metrics.

use std::fmt;
use std::str::FromStr;

use iops_core::{Error, Metric, Result, Timestamp};

use crate::rng::Rng;

/// A kind of injected incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentKind {
    /// CPU pinned near 90–97% for 20–60 minutes (runaway process).
    CpuSpike,
    /// Memory ramps up towards 92–97% over 4–10 hours, then the process restarts.
    MemoryLeak,
    /// Disk I/O 6–12× its normal rate for 30–90 minutes, with some extra CPU (I/O wait).
    DiskIoStorm,
    /// Network I/O drops to almost nothing for 20–45 minutes; CPU idles with it.
    NetworkOutage,
    /// A bad deploy: CPU +15–25 points and memory +8–12 points, sustained for 4–10 hours
    /// until it is rolled back.
    LevelShift,
}

impl IncidentKind {
    /// All kinds.
    pub const ALL: [IncidentKind; 5] = [
        IncidentKind::CpuSpike,
        IncidentKind::MemoryLeak,
        IncidentKind::DiskIoStorm,
        IncidentKind::NetworkOutage,
        IncidentKind::LevelShift,
    ];

    /// snake_case name (`cpu_spike`, `memory_leak`, `disk_io_storm`, `network_outage`,
    /// `level_shift`).
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::CpuSpike => "cpu_spike",
            IncidentKind::MemoryLeak => "memory_leak",
            IncidentKind::DiskIoStorm => "disk_io_storm",
            IncidentKind::NetworkOutage => "network_outage",
            IncidentKind::LevelShift => "level_shift",
        }
    }

    /// The metrics the incident changes, the one it is about first.
    pub fn metrics(self) -> &'static [Metric] {
        match self {
            IncidentKind::CpuSpike => &[Metric::Cpu],
            IncidentKind::MemoryLeak => &[Metric::Memory],
            IncidentKind::DiskIoStorm => &[Metric::DiskIo, Metric::Cpu],
            IncidentKind::NetworkOutage => &[Metric::NetworkIo, Metric::Cpu],
            IncidentKind::LevelShift => &[Metric::Cpu, Metric::Memory],
        }
    }

    /// Duration range in seconds.
    fn duration(self) -> (f64, f64) {
        match self {
            IncidentKind::CpuSpike => (20.0 * 60.0, 60.0 * 60.0),
            IncidentKind::MemoryLeak => (4.0 * 3600.0, 10.0 * 3600.0),
            IncidentKind::DiskIoStorm => (30.0 * 60.0, 90.0 * 60.0),
            IncidentKind::NetworkOutage => (20.0 * 60.0, 45.0 * 60.0),
            IncidentKind::LevelShift => (4.0 * 3600.0, 10.0 * 3600.0),
        }
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentKind {
    type Err = Error;

    /// Parses a snake_case name such as `memory_leak`.
    fn from_str(s: &str) -> Result<Self> {
        IncidentKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::InvalidField {
                field: "incident kind".into(),
                reason: format!(
                    "must be one of cpu_spike, memory_leak, disk_io_storm, network_outage, \
                     level_shift, got {s:?}"
                ),
            })
    }
}

/// One injected incident: the ground truth a detector is scored against.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Position in [`crate::Fleet::incidents`] (sorted by start).
    pub id: usize,
    /// What happened.
    pub kind: IncidentKind,
    /// Index of the host in the fleet.
    pub host: usize,
    /// The host's name.
    pub hostname: String,
    /// First affected sample time (inclusive).
    pub start: Timestamp,
    /// First unaffected sample time (exclusive).
    pub end: Timestamp,
    /// Epoch seconds of `start`.
    pub start_secs: i64,
    /// Epoch seconds of `end`.
    pub end_secs: i64,
    /// Kind-specific strength: target CPU %, peak memory %, I/O multiplier, remaining
    /// network fraction, or CPU points added.
    pub magnitude: f64,
}

impl Incident {
    /// The metrics it changes (see [`IncidentKind::metrics`]).
    pub fn metrics(&self) -> &'static [Metric] {
        self.kind.metrics()
    }

    /// True when `secs` (epoch seconds) is inside `[start, end)`.
    pub fn contains(&self, secs: i64) -> bool {
        secs >= self.start_secs && secs < self.end_secs
    }

    /// Changes a sample's values in place; `secs` must be inside the incident.
    /// `mem_base` is the host's memory baseline; `noise` a unit-variance draw.
    pub(crate) fn apply(&self, secs: i64, values: &mut [f64; 4], mem_base: f64, noise: f64) {
        let len = (self.end_secs - self.start_secs).max(1) as f64;
        let progress = ((secs - self.start_secs) as f64 / len).clamp(0.0, 1.0);
        let [cpu, mem, disk, net] = values;
        match self.kind {
            IncidentKind::CpuSpike => {
                *cpu = cpu.max(self.magnitude + 1.0 * noise);
            }
            IncidentKind::MemoryLeak => {
                *mem += (self.magnitude - mem_base) * progress;
            }
            IncidentKind::DiskIoStorm => {
                *disk *= self.magnitude;
                *cpu += 10.0;
            }
            IncidentKind::NetworkOutage => {
                *net *= self.magnitude;
                *cpu *= 0.6;
            }
            IncidentKind::LevelShift => {
                *cpu += self.magnitude;
                *mem += self.magnitude * 0.5;
            }
        }
    }
}

/// Draws a magnitude for a kind.
fn magnitude(kind: IncidentKind, rng: &mut Rng) -> f64 {
    match kind {
        IncidentKind::CpuSpike => rng.range(90.0, 96.0),
        IncidentKind::MemoryLeak => rng.range(92.0, 97.0),
        IncidentKind::DiskIoStorm => rng.range(6.0, 12.0),
        IncidentKind::NetworkOutage => rng.range(0.01, 0.05),
        IncidentKind::LevelShift => rng.range(15.0, 25.0),
    }
}

/// Quiet time after an incident before the next one on the same host, so each incident is
/// judged on its own.
const MIN_GAP_SECS: f64 = 12.0 * 3600.0;

/// What the scheduler needs to know about the fleet.
pub(crate) struct Schedule<'a> {
    pub(crate) seed: u64,
    pub(crate) hostnames: &'a [String],
    pub(crate) first_secs: i64,
    pub(crate) end_secs: i64,
    pub(crate) interval: i64,
    pub(crate) rate_per_day: f64,
    pub(crate) kinds: &'a [IncidentKind],
}

/// Rounds up to the next sample time.
fn align(secs: f64, origin: i64, interval: i64) -> i64 {
    let k = ((secs - origin as f64) / interval as f64).ceil().max(0.0) as i64;
    origin + k * interval
}

impl Schedule<'_> {
    /// Every host's incidents, sorted by start (ties by host), with ids set.
    ///
    /// Per host, gaps between incidents are uniform in [0.25, 1.75] / rate days (mean
    /// 1 / rate) after a minimum quiet time; kinds rotate through `kinds` fleet-wide from a
    /// seeded offset, so every requested kind appears once there are enough incidents.
    pub(crate) fn build(&self, origin: i64) -> Vec<Incident> {
        let mut out = Vec::new();
        if self.rate_per_day <= 0.0 || self.kinds.is_empty() {
            return out;
        }
        let mut kind_rng = Rng::new(self.seed, u64::MAX);
        let mut next_kind = kind_rng.below(self.kinds.len() as u64) as usize;
        let mean_gap = 86_400.0 / self.rate_per_day;
        for (host, hostname) in self.hostnames.iter().enumerate() {
            let mut rng = Rng::new(self.seed, (host as u64) << 32 | 1);
            let mut t = self.first_secs as f64 + mean_gap * rng.range(0.1, 1.0);
            loop {
                let kind = self.kinds[next_kind % self.kinds.len()];
                let (lo, hi) = kind.duration();
                let start = align(t, origin, self.interval);
                let end = align(start as f64 + rng.range(lo, hi), origin, self.interval)
                    .max(start + self.interval);
                if end > self.end_secs {
                    break;
                }
                let (Ok(start_ts), Ok(end_ts)) = (
                    Timestamp::from_epoch_seconds(start as f64),
                    Timestamp::from_epoch_seconds(end as f64),
                ) else {
                    break;
                };
                next_kind += 1;
                out.push(Incident {
                    id: 0,
                    kind,
                    host,
                    hostname: hostname.clone(),
                    start: start_ts,
                    end: end_ts,
                    start_secs: start,
                    end_secs: end,
                    magnitude: magnitude(kind, &mut rng),
                });
                t = end as f64 + MIN_GAP_SECS + mean_gap * rng.range(0.25, 1.75);
            }
        }
        out.sort_by_key(|i| (i.start_secs, i.host));
        for (id, incident) in out.iter_mut().enumerate() {
            incident.id = id;
        }
        out
    }
}
