//! The fleet: parameters, hosts, the incident schedule and the time-ordered sample stream.

use iops_core::{Error, MetricSample, Result, Timestamp};

use crate::incident::{Incident, IncidentKind, Schedule};
use crate::profile::{Profile, Role};
use crate::rng::Rng;

/// Monday 2026-11-02T00:00:00Z, the default start.
const DEFAULT_START_SECS: i64 = 1_793_577_600;

/// Most hosts a fleet may have.
pub const MAX_HOSTS: usize = 100_000;

/// Fleet parameters as a user writes them; [`Fleet::new`] checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetParams {
    /// Number of hosts (1..=100 000). Roles: half web, a quarter db, a quarter batch.
    pub hosts: usize,
    /// Time of the first sample (whole seconds; a fraction is dropped).
    pub start: Timestamp,
    /// Seconds between samples (1..=86 400). Default 300.
    pub interval_secs: u32,
    /// Length of the data, in days (> 0). Default 14.
    pub days: f64,
    /// Seed of everything random. Default 42.
    pub seed: u64,
    /// Expected incidents per host per day (0 for none). Default 0.3.
    pub incident_rate: f64,
    /// Days at the start with no incidents, so a detector can learn normal. Default 0.
    pub calm_days: f64,
    /// Kinds of incident to inject. Default: all of [`IncidentKind::ALL`].
    pub kinds: Vec<IncidentKind>,
}

impl Default for FleetParams {
    fn default() -> Self {
        FleetParams {
            hosts: 8,
            start: Timestamp::from_epoch_seconds(DEFAULT_START_SECS as f64)
                .unwrap_or(Timestamp::MIN),
            interval_secs: 300,
            days: 14.0,
            seed: 42,
            incident_rate: 0.3,
            calm_days: 0.0,
            kinds: IncidentKind::ALL.to_vec(),
        }
    }
}

fn param(name: &'static str, value: impl ToString, reason: &'static str) -> Error {
    Error::InvalidParam {
        name,
        value: value.to_string(),
        reason,
    }
}

/// One host of the fleet.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its name, e.g. `web-3`.
    pub hostname: String,
    /// What kind of machine it is.
    pub role: Role,
    profile: Profile,
}

/// A seeded synthetic fleet. Everything is decided by [`FleetParams`]: the same parameters
/// give the same samples and incidents on every platform.
///
/// ```
/// use iops_synth::{Fleet, FleetParams};
///
/// let fleet = Fleet::new(FleetParams { hosts: 4, days: 2.0, ..FleetParams::default() })?;
/// let mut n = 0;
/// for (sample, incident) in fleet.samples() {
///     sample.validate()?; // always valid: cpu/memory in 0–100, I/O ≥ 0
///     if let Some(i) = incident {
///         assert_eq!(i.hostname, sample.hostname);
///     }
///     n += 1;
/// }
/// assert_eq!(n, 4 * 2 * 288);
/// # Ok::<(), iops_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Fleet {
    params: FleetParams,
    start_secs: i64,
    steps: u64,
    hosts: Vec<Host>,
    incidents: Vec<Incident>,
    /// Per host, its incident ids in time order.
    by_host: Vec<Vec<usize>>,
}

impl Fleet {
    /// Checks the parameters, draws every host's profile and schedules the incidents.
    pub fn new(params: FleetParams) -> Result<Fleet> {
        if params.hosts == 0 || params.hosts > MAX_HOSTS {
            return Err(param("hosts", params.hosts, "must be in 1..=100000"));
        }
        if params.interval_secs == 0 || params.interval_secs > 86_400 {
            return Err(param(
                "interval_secs",
                params.interval_secs,
                "must be in 1..=86400",
            ));
        }
        if !(params.days.is_finite() && params.days > 0.0 && params.days <= 36_500.0) {
            return Err(param("days", params.days, "must be in (0, 36500]"));
        }
        if !(params.incident_rate.is_finite() && (0.0..=24.0).contains(&params.incident_rate)) {
            return Err(param(
                "incident_rate",
                params.incident_rate,
                "must be in [0, 24] incidents per host per day",
            ));
        }
        if !(params.calm_days.is_finite() && params.calm_days >= 0.0) {
            return Err(param(
                "calm_days",
                params.calm_days,
                "must be finite and >= 0",
            ));
        }
        if params.incident_rate > 0.0 && params.kinds.is_empty() {
            return Err(param(
                "kinds",
                "[]",
                "must name at least one kind when incident_rate > 0",
            ));
        }
        let interval = i64::from(params.interval_secs);
        let start_secs = params.start.epoch_nanos().div_euclid(1_000_000_000) as i64;
        let steps = (params.days * 86_400.0 / interval as f64).floor() as u64;
        if steps == 0 {
            return Err(param("days", params.days, "is shorter than one interval"));
        }
        let end_secs = start_secs + steps as i64 * interval;
        if Timestamp::from_epoch_seconds(end_secs as f64).is_err() {
            return Err(param(
                "days",
                params.days,
                "the last sample would be after 9999-12-31",
            ));
        }
        let mut counts = [0usize; 3];
        let hosts: Vec<Host> = (0..params.hosts)
            .map(|i| {
                let role = Role::of_host(i);
                let n = &mut counts[role as usize];
                *n += 1;
                let mut rng = Rng::new(params.seed, (i as u64) << 32 | 2);
                Host {
                    hostname: format!("{}-{n}", role.as_str()),
                    role,
                    profile: Profile::draw(role, &mut rng),
                }
            })
            .collect();
        let hostnames: Vec<String> = hosts.iter().map(|h| h.hostname.clone()).collect();
        let incidents = Schedule {
            seed: params.seed,
            hostnames: &hostnames,
            first_secs: start_secs + (params.calm_days * 86_400.0).round() as i64,
            end_secs,
            interval,
            rate_per_day: params.incident_rate,
            kinds: &params.kinds,
        }
        .build(start_secs);
        let mut by_host = vec![Vec::new(); hosts.len()];
        for incident in &incidents {
            if let Some(v) = by_host.get_mut(incident.host) {
                v.push(incident.id);
            }
        }
        Ok(Fleet {
            params,
            start_secs,
            steps,
            hosts,
            incidents,
            by_host,
        })
    }

    /// The parameters it was built from.
    pub fn params(&self) -> &FleetParams {
        &self.params
    }

    /// The hosts, in fleet order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Every injected incident, sorted by start.
    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    /// Sample times per host.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Total number of samples: hosts × steps.
    pub fn len(&self) -> u64 {
        self.steps * self.hosts.len() as u64
    }

    /// Never true: a checked fleet has at least one host and one step.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Epoch seconds of the first sample.
    pub fn start_secs(&self) -> i64 {
        self.start_secs
    }

    /// Epoch seconds just after the last sample.
    pub fn end_secs(&self) -> i64 {
        self.start_secs + self.steps as i64 * i64::from(self.params.interval_secs)
    }

    /// Every sample as raw numbers, time order (all hosts at one time, then the next time),
    /// without allocating per sample.
    pub fn points(&self) -> Points<'_> {
        Points {
            fleet: self,
            step: 0,
            host: 0,
            state: self
                .hosts
                .iter()
                .enumerate()
                .map(|(i, _)| HostCursor {
                    rng: Rng::new(self.params.seed, (i as u64) << 32 | 3),
                    ar: [0.0; 4],
                    next_incident: 0,
                })
                .collect(),
        }
    }

    /// Every sample as a [`MetricSample`] with the incident it belongs to, time order.
    pub fn samples(&self) -> impl Iterator<Item = (MetricSample, Option<&Incident>)> + '_ {
        self.points().map(move |p| {
            let sample = self.sample(&p);
            (sample, p.incident.and_then(|id| self.incidents.get(id)))
        })
    }

    /// Collects everything into memory.
    pub fn generate(&self) -> FleetData {
        FleetData {
            samples: self.samples().map(|(s, _)| s).collect(),
            incidents: self.incidents.clone(),
        }
    }

    /// The [`MetricSample`] of a point.
    pub fn sample(&self, p: &Point) -> MetricSample {
        let [cpu_usage, memory_usage, disk_io, network_io] = p.values;
        MetricSample {
            // In range: checked in `new`.
            timestamp: Timestamp::from_epoch_seconds(p.secs as f64).unwrap_or(Timestamp::MAX),
            hostname: self
                .hosts
                .get(p.host)
                .map(|h| h.hostname.clone())
                .unwrap_or_default(),
            cpu_usage,
            memory_usage,
            disk_io,
            network_io,
        }
    }
}

/// All samples and incidents of a fleet, in memory.
#[derive(Debug, Clone)]
pub struct FleetData {
    /// Samples in time order.
    pub samples: Vec<MetricSample>,
    /// Incidents sorted by start.
    pub incidents: Vec<Incident>,
}

/// One sample as raw numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Index of the host in [`Fleet::hosts`].
    pub host: usize,
    /// Sample time index, from 0.
    pub step: u64,
    /// Epoch seconds.
    pub secs: i64,
    /// cpuUsage, memoryUsage, diskIO, networkIO.
    pub values: [f64; 4],
    /// The incident (index in [`Fleet::incidents`]) this sample is part of.
    pub incident: Option<usize>,
}

#[derive(Debug, Clone)]
struct HostCursor {
    rng: Rng,
    ar: [f64; 4],
    next_incident: usize,
}

/// Autocorrelation of the noise from one sample to the next.
const AR_PHI: f64 = 0.5;
/// sqrt(1 − AR_PHI²), keeping the noise at unit variance.
const AR_INNOVATION: f64 = 0.866_025_403_784_438_6;

/// Iterator over a fleet's [`Point`]s in time order.
#[derive(Debug, Clone)]
pub struct Points<'a> {
    fleet: &'a Fleet,
    step: u64,
    host: usize,
    state: Vec<HostCursor>,
}

impl Iterator for Points<'_> {
    type Item = Point;

    fn next(&mut self) -> Option<Point> {
        let fleet = self.fleet;
        if self.step >= fleet.steps {
            return None;
        }
        let (host, step) = (self.host, self.step);
        self.host += 1;
        if self.host >= fleet.hosts.len() {
            self.host = 0;
            self.step += 1;
        }
        let h = fleet.hosts.get(host)?;
        let cur = self.state.get_mut(host)?;
        let secs = fleet.start_secs + step as i64 * i64::from(fleet.params.interval_secs);
        for e in cur.ar.iter_mut() {
            *e = AR_PHI * *e + AR_INNOVATION * cur.rng.normal();
        }
        let spike_noise = cur.rng.normal();
        let mut values = h.profile.noisy(h.profile.level(secs), cur.ar);
        let ids = fleet.by_host.get(host).map(Vec::as_slice).unwrap_or(&[]);
        while let Some(inc) = ids
            .get(cur.next_incident)
            .and_then(|&id| fleet.incidents.get(id))
        {
            if inc.end_secs <= secs {
                cur.next_incident += 1;
            } else {
                break;
            }
        }
        let mut incident = None;
        if let Some(inc) = ids
            .get(cur.next_incident)
            .and_then(|&id| fleet.incidents.get(id))
        {
            if inc.contains(secs) {
                inc.apply(secs, &mut values, h.profile.mem_base(), spike_noise);
                incident = Some(inc.id);
            }
        }
        let [cpu, mem, disk, net] = values;
        Some(Point {
            host,
            step,
            secs,
            values: [
                cpu.clamp(0.0, 100.0),
                mem.clamp(0.0, 100.0),
                disk.max(0.0),
                net.max(0.0),
            ],
            incident,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.fleet.hosts.len() as u64;
        let left = (self.fleet.steps - self.step.min(self.fleet.steps)) * n - self.host as u64;
        let left = usize::try_from(left).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}
