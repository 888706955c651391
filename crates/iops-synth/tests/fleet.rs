//! The fleet's contract: deterministic for a seed, always valid, the requested incidents,
//! the right number of samples in time order.

use std::collections::BTreeSet;

use iops_core::{Error, Metric};
use iops_synth::{Fleet, FleetParams, IncidentKind};

fn params(hosts: usize, days: f64, seed: u64) -> FleetParams {
    FleetParams {
        hosts,
        days,
        seed,
        incident_rate: 0.5,
        ..FleetParams::default()
    }
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = Fleet::new(params(5, 3.0, 11)).unwrap().generate();
    let b = Fleet::new(params(5, 3.0, 11)).unwrap().generate();
    let c = Fleet::new(params(5, 3.0, 12)).unwrap().generate();
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.incidents, b.incidents);
    assert_ne!(a.samples, c.samples);
}

#[test]
fn a_host_does_not_depend_on_fleet_size() {
    let small = Fleet::new(params(2, 2.0, 5)).unwrap().generate();
    let large = Fleet::new(params(9, 2.0, 5)).unwrap().generate();
    let web1 = |d: &iops_synth::FleetData| {
        d.samples
            .iter()
            .filter(|s| s.hostname == "web-1")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(web1(&small), web1(&large));
}

#[test]
fn sample_count_and_time_order() {
    for (hosts, days, interval) in [(3usize, 2u32, 300u32), (4, 1, 60), (1, 3, 3600)] {
        let fleet = Fleet::new(FleetParams {
            hosts,
            days: f64::from(days),
            interval_secs: interval,
            ..FleetParams::default()
        })
        .unwrap();
        let expected = hosts as u64 * u64::from(days) * 86_400 / u64::from(interval);
        assert_eq!(fleet.len(), expected);
        assert_eq!(fleet.points().size_hint().0 as u64, expected);
        let samples = fleet.generate().samples;
        assert_eq!(samples.len() as u64, expected);
        assert!(samples.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        let names: BTreeSet<&str> = samples.iter().map(|s| s.hostname.as_str()).collect();
        assert_eq!(names.len(), hosts);
    }
}

#[test]
fn every_sample_is_valid_even_during_incidents() {
    let fleet = Fleet::new(FleetParams {
        hosts: 12,
        days: 20.0,
        incident_rate: 2.0,
        seed: 3,
        ..FleetParams::default()
    })
    .unwrap();
    let mut in_incident = 0;
    for (sample, incident) in fleet.samples() {
        sample.validate().unwrap();
        if let Some(i) = incident {
            assert_eq!(i.hostname, sample.hostname);
            let t = sample.timestamp.epoch_seconds() as i64;
            assert!(i.contains(t));
            in_incident += 1;
        }
    }
    assert!(in_incident > 0);
}

#[test]
fn incidents_have_requested_kinds_and_change_their_metric() {
    let kinds = vec![IncidentKind::CpuSpike, IncidentKind::NetworkOutage];
    let p = FleetParams {
        hosts: 6,
        days: 14.0,
        calm_days: 7.0,
        incident_rate: 0.5,
        kinds: kinds.clone(),
        seed: 9,
        ..FleetParams::default()
    };
    let fleet = Fleet::new(p.clone()).unwrap();
    let calm = Fleet::new(FleetParams {
        incident_rate: 0.0,
        ..p
    })
    .unwrap();
    assert!(calm.incidents().is_empty());
    let seen: BTreeSet<IncidentKind> = fleet.incidents().iter().map(|i| i.kind).collect();
    assert_eq!(seen, kinds.into_iter().collect());
    let first_allowed = fleet.start_secs() + 7 * 86_400;
    for i in fleet.incidents() {
        assert!(i.start_secs >= first_allowed && i.end_secs <= fleet.end_secs());
        assert!(i.start < i.end);
    }
    // The incident samples differ from the same fleet without incidents, on the metric the
    // incident is about, in the expected direction.
    let with: Vec<_> = fleet.points().collect();
    let without: Vec<_> = calm.points().collect();
    for inc in fleet.incidents() {
        let m = inc.metrics()[0].index();
        let (mut a, mut b, mut n) = (0.0, 0.0, 0);
        for (p, q) in with.iter().zip(&without) {
            if p.incident == Some(inc.id) {
                a += p.values[m];
                b += q.values[m];
                n += 1;
            }
        }
        assert!(n > 0, "{inc:?}");
        match inc.kind {
            IncidentKind::CpuSpike => assert!(a / f64::from(n) > 85.0, "{inc:?}"),
            IncidentKind::NetworkOutage => assert!(a < 0.1 * b, "{inc:?}"),
            _ => unreachable!(),
        }
    }
}

#[test]
fn all_kinds_appear_in_a_default_fleet() {
    let fleet = Fleet::new(FleetParams {
        hosts: 8,
        days: 10.0,
        calm_days: 7.0,
        incident_rate: 0.5,
        ..FleetParams::default()
    })
    .unwrap();
    let seen: BTreeSet<IncidentKind> = fleet.incidents().iter().map(|i| i.kind).collect();
    assert_eq!(seen.len(), IncidentKind::ALL.len(), "{seen:?}");
    let ids: Vec<usize> = fleet.incidents().iter().map(|i| i.id).collect();
    assert_eq!(ids, (0..ids.len()).collect::<Vec<_>>());
}

#[test]
fn a_memory_leak_ramps_up() {
    let fleet = Fleet::new(FleetParams {
        hosts: 4,
        days: 6.0,
        incident_rate: 1.0,
        kinds: vec![IncidentKind::MemoryLeak],
        ..FleetParams::default()
    })
    .unwrap();
    let inc = fleet.incidents().first().unwrap().clone();
    let mem: Vec<f64> = fleet
        .points()
        .filter(|p| p.incident == Some(inc.id))
        .map(|p| p.values[Metric::Memory.index()])
        .collect();
    let k = mem.len() / 4;
    let head = mem[..k].iter().sum::<f64>() / k as f64;
    let tail = mem[mem.len() - k..].iter().sum::<f64>() / k as f64;
    assert!(tail > head + 15.0, "{head} -> {tail}");
}

#[test]
fn weekends_are_quieter_on_web_hosts() {
    // 2026-11-02 (the default start) is a Monday: days 5 and 6 are the weekend.
    let fleet = Fleet::new(FleetParams {
        hosts: 1,
        days: 7.0,
        incident_rate: 0.0,
        ..FleetParams::default()
    })
    .unwrap();
    let cpu_on = |day: i64| {
        let (s, n) = fleet
            .points()
            .filter(|p| (p.secs - fleet.start_secs()) / 86_400 == day)
            .fold((0.0, 0), |(s, n), p| (s + p.values[0], n + 1));
        s / f64::from(n)
    };
    assert!(cpu_on(5) < cpu_on(2) - 1.0);
}

#[test]
fn bad_parameters_name_the_parameter() {
    let cases: [(FleetParams, &str); 6] = [
        (
            FleetParams {
                hosts: 0,
                ..FleetParams::default()
            },
            "hosts",
        ),
        (
            FleetParams {
                interval_secs: 0,
                ..FleetParams::default()
            },
            "interval_secs",
        ),
        (
            FleetParams {
                days: f64::NAN,
                ..FleetParams::default()
            },
            "days",
        ),
        (
            FleetParams {
                days: 0.0001,
                ..FleetParams::default()
            },
            "days",
        ),
        (
            FleetParams {
                incident_rate: -1.0,
                ..FleetParams::default()
            },
            "incident_rate",
        ),
        (
            FleetParams {
                kinds: vec![],
                ..FleetParams::default()
            },
            "kinds",
        ),
    ];
    for (p, name) in cases {
        let err = Fleet::new(p).unwrap_err();
        assert!(matches!(err, Error::InvalidParam { .. }), "{err}");
        assert_eq!(err.field(), Some(name));
    }
}

#[test]
fn kinds_parse_from_their_names() {
    for k in IncidentKind::ALL {
        assert_eq!(k.as_str().parse::<IncidentKind>().unwrap(), k);
    }
    assert!("disk_fire".parse::<IncidentKind>().is_err());
}
