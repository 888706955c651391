//! # iops-synth
//!
//! A seeded synthetic fleet for iops: hosts with roles (web, db, batch) and their own
//! baselines, daily and weekly cycles, autocorrelated noise, routine nightly jobs, and
//! labelled incidents (CPU spike, memory leak, disk I/O storm, network outage, level shift).
//! No file or network I/O: the metrics CSV format ([`csv_file`]) reads and writes through
//! `Read` and `Write`. The same [`FleetParams`] give the same data on every platform.
//!
//! ```
//! use iops_synth::{Fleet, FleetParams, IncidentKind};
//!
//! let fleet = Fleet::new(FleetParams {
//!     hosts: 8,
//!     days: 10.0,
//!     calm_days: 7.0, // a week of normal first, so a detector can learn it
//!     incident_rate: 0.5,
//!     seed: 7,
//!     ..FleetParams::default()
//! })?;
//! assert_eq!(fleet.len(), 8 * 10 * 288);
//! for incident in fleet.incidents() {
//!     println!("{} on {} from {} to {}", incident.kind, incident.hostname, incident.start, incident.end);
//! }
//! let cpu_spikes = fleet.incidents().iter().filter(|i| i.kind == IncidentKind::CpuSpike).count();
//! # let _ = cpu_spikes;
//! # Ok::<(), iops_core::Error>(())
//! ```
#![warn(missing_docs)]

pub mod csv_file;
mod fleet;
mod incident;
mod profile;
mod rng;

pub use fleet::{Fleet, FleetData, FleetParams, Host, Point, Points, MAX_HOSTS};
pub use incident::{Incident, IncidentKind};
pub use profile::Role;
