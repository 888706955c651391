//! Scoring workload for instruction counts under callgrind (deterministic, unlike timings):
//! fits the bench's forest (100 trees × 256 on 100k normal rows × 4), then scores (of 50k held-out rows)
//! `ROWS` rows in one batch and `ONE` rows one by one.
//! Instructions per row = difference of two runs' totals / difference of rows, e.g.
//! `RAYON_NUM_THREADS=1 ROWS=0 ONE=0 valgrind --tool=callgrind target/release/examples/forest_profile`
//! against `ROWS=100000` (batch) or `ONE=100000` (one row).

use std::hint::black_box;

use iops_benches::normal_rows;
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::{Axis, Slice};
use iops_core::ParamGuard;

/// CPU time of all this process's threads in ns (Linux schedstat; 0 elsewhere): steadier
/// than wall time on a shared machine.
fn cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn env(name: &str) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let (rows, one) = (env("ROWS"), env("ONE"));
    let x = normal_rows(150_000, 4, 42);
    let train = x.slice_axis(Axis(0), Slice::from(..100_000));
    let forest = IsolationForestParams::new()
        .seed(0)
        .check()
        .unwrap()
        .fit(train)
        .unwrap();
    let test = x.slice_axis(Axis(0), Slice::from(100_000..));
    let mut acc = 0.0;
    if std::env::var_os("TIME").is_some() {
        // Quick steering timings (criterion gives the reported figures).
        let test = test.slice_axis(Axis(0), Slice::from(..50_000));
        for _ in 0..5 {
            let t = cpu_ns();
            acc += forest.score_samples(black_box(test)).unwrap().sum();
            let batch = (cpu_ns() - t) as f64 / 50_000.0;
            let t = cpu_ns();
            for row in test.outer_iter() {
                acc += forest
                    .score_one(black_box(row.as_slice().unwrap()))
                    .unwrap();
            }
            let one = (cpu_ns() - t) as f64 / 50_000.0;
            println!("batch {batch:.0} ns/row (CPU time), one row {one:.0} ns");
        }
    }
    if rows > 0 {
        let s = forest
            .score_samples(black_box(test.slice_axis(Axis(0), Slice::from(..rows))))
            .unwrap();
        acc += s.sum();
    }
    for row in test.outer_iter().take(one) {
        acc += forest
            .score_one(black_box(row.as_slice().unwrap()))
            .unwrap();
    }
    println!("{acc}");
}
