//! Peer groups fitted on a fleet of three roles: their names, members, silhouette and
//! baselines, the placement of a newcomer, what their file reads back as, and what a bad
//! one or too little data gets.

mod support {
    #[path = "noise.rs"]
    pub mod noise;
    #[path = "roles.rs"]
    pub mod roles;
}

use iops_core::peers::{PeerGroups, PeerParams};
use iops_core::MetricSample;
use support::roles::{fleet, host, DAY0};

#[test]
fn a_fleet_of_three_roles_makes_three_named_groups() {
    let groups = PeerGroups::fit(&fleet(4, 2.0), &PeerParams::default()).unwrap();
    let names: Vec<&str> = groups.groups().iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["batch", "db", "web"]);
    assert_eq!(
        groups.describe(),
        "batch (4 hosts), db (4 hosts), web (4 hosts)"
    );
    assert!(groups.silhouette.unwrap() > 0.5, "{:?}", groups.silhouette);
    for g in groups.groups() {
        assert_eq!(g.hosts.len(), 4);
        assert!(g.hosts.iter().all(|h| h.starts_with(&g.name)));
    }
    assert_eq!(groups.group_of("db-3"), Some(1));
    assert_eq!(groups.group_of("db-9"), None);
    // a new web host, 3 samples in the afternoon: the web group's baseline fits it
    let newcomer: Vec<(f64, [f64; 4])> = host(0, 7, (2 * 288 + 170) as f64 * 300.0, 3, 300.0)
        .iter()
        .map(|s| (s.timestamp.epoch_seconds(), s.values()))
        .collect();
    assert_eq!(groups.nearest(&newcomer), Some(2));
    // web's expected CPU follows its day
    let web = &groups.groups()[2].baseline[0];
    let (night, _) = web.expected(DAY0 + 3600.0);
    let (noon, _) = web.expected(DAY0 + 12.0 * 3600.0);
    assert!(noon > night + 15.0, "{night} {noon}");
    // what the artifact stores reads back the same and passes its check
    let json = serde_json::to_string(&groups).unwrap();
    let back: PeerGroups = serde_json::from_str(&json).unwrap();
    back.check().unwrap();
    assert_eq!(back, groups);
}

#[test]
fn alike_hosts_are_one_group_and_too_few_hosts_an_error() {
    // five web hosts, a point of CPU apart: no split is clear enough at 0.99
    let alike: Vec<MetricSample> = (0..5)
        .flat_map(|k| host(0, k, 0.0, 2 * 288, 300.0))
        .collect();
    let one = PeerGroups::fit(
        &alike,
        &PeerParams {
            min_silhouette: 0.99,
            ..PeerParams::default()
        },
    )
    .unwrap();
    assert_eq!(one.groups().len(), 1);
    assert_eq!(one.groups()[0].name, "web");
    assert_eq!(one.silhouette, None);
    assert_eq!(one.groups()[0].hosts.len(), 5);

    let lone = host(1, 0, 0.0, 2 * 288, 300.0);
    let e = PeerGroups::fit(&lone, &PeerParams::default()).unwrap_err();
    assert_eq!(e.field(), Some("samples"));
    // hosts with less than a day are not profiled
    let short: Vec<MetricSample> = (0..4).flat_map(|k| host(0, k, 0.0, 100, 300.0)).collect();
    assert_eq!(
        PeerGroups::fit(&short, &PeerParams::default())
            .unwrap_err()
            .field(),
        Some("samples")
    );
    let e = PeerGroups::fit(
        &fleet(4, 2.0),
        &PeerParams {
            max_groups: 0,
            ..PeerParams::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("max_groups"));
}

#[test]
fn a_bad_file_is_refused_naming_the_field() {
    let groups = PeerGroups::fit(&fleet(4, 2.0), &PeerParams::default()).unwrap();
    let mut g = groups.clone();
    g.groups[1].name = g.groups[0].name.clone();
    assert_eq!(
        g.check().unwrap_err().field(),
        Some("peer_groups.groups[1].name")
    );
    let mut g = groups.clone();
    g.groups[2].baseline.pop();
    assert_eq!(
        g.check().unwrap_err().field(),
        Some("peer_groups.groups[2].baseline")
    );
    let mut g = groups.clone();
    g.groups[1].hosts.reverse();
    assert_eq!(
        g.check().unwrap_err().field(),
        Some("peer_groups.groups[1].hosts")
    );
    let mut g = groups.clone();
    let stolen = g.groups[0].hosts[0].clone();
    g.groups[2].hosts.insert(0, stolen);
    g.groups[2].offsets.insert(0, [0.0; 4]);
    assert_eq!(
        g.check().unwrap_err().field(),
        Some("peer_groups.groups[2].hosts")
    );
    let mut g = groups.clone();
    g.feature_scale[4] = -1.0;
    assert_eq!(
        g.check().unwrap_err().field(),
        Some("peer_groups.feature_scale")
    );
    let mut g = groups;
    g.groups[0].baseline[3].spread[0] = f64::NAN;
    assert_eq!(
        g.check().unwrap_err().field(),
        Some("peer_groups.groups[0].baseline[3].spread")
    );
}
