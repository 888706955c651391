"""The soak test's verdict (scripts/soak.sh): the server's RSS and each loadgen's windows, and
whether memory stayed flat (RSS growth at most 10 %: the mean of the last fifth of the
readings after the warm-up against the first fifth's) and p99 stable after the warm-up (the
first fifth of the run). RSS and p99 are judged only when the first argument is `judge` (a
run of 5 minutes or more): in a short run the host states are still filling their week of
history, so memory grows by design, and a 10 s window's p99 is one hiccup of a shared machine.
Errors and 5xx answers fail any run."""

import json
import statistics
import sys


def main(judge: str, rss_path: str, *reports: str) -> int:
    rss = [tuple(map(int, line.split())) for line in open(rss_path) if line.strip()]
    if len(rss) < 5:
        print(f"soak: only {len(rss)} RSS readings", file=sys.stderr)
        return 1
    end = rss[-1][0]
    after = [kb for t, kb in rss if t >= end / 5]
    k = max(1, len(after) // 5)
    start, finish = statistics.fmean(after[:k]), statistics.fmean(after[-k:])
    growth = finish / start - 1
    low, high, mean = min(after), max(after), statistics.fmean(after)
    flat = growth <= 0.10 or judge != "judge"
    print(f"RSS after the warm-up: {len(after)} readings, {start / 1024:.1f} MiB at its start, "
          f"{finish / 1024:.1f} MiB at the end: growth {growth:+.1%} "
          f"({'flat' if growth <= 0.10 else 'GROWING: more than 10 %'}"
          f"{'' if judge == 'judge' else ', not judged: a short run'}); min {low / 1024:.1f}, "
          f"max {high / 1024:.1f}, spread {(high - low) / mean:.1%} of the mean")
    ok = flat
    for path in reports:
        r = json.load(open(path))
        windows = r.get("windows", [])
        per_host = r["samples_stored"] / max(r["hosts"], 1)
        print(f"\n{path.rsplit('/', 1)[-1]}: batch {r['batch']}, {r['samples_stored']} samples "
              f"stored ({r['samples_per_s']:.0f}/s), {per_host:.0f} per host (a week of "
              f"history is 2,016 at 5 min), p99 {r['latency_ms']['p99']} ms, "
              f"non-200 {r['non_200']}, errors {r['errors']}")
        print("  window_s  samples/s  p50_ms  p99_ms")
        for w in windows:
            print(f"  {w['start_s']:8.0f}  {w['samples_per_s']:9.0f}  {w['p50_ms']:6.2f}  "
                  f"{w['p99_ms']:6.2f}")
        steady = [w for w in windows[:-1] if w["start_s"] >= end / 5] or windows
        if steady:
            median = statistics.median(w["p99_ms"] for w in steady)
            worst = max(w["p99_ms"] for w in steady)
            stable = worst <= 3 * median
            print(f"  p99 after the warm-up: median {median:.2f} ms, worst {worst:.2f} ms: "
                  f"{'stable' if stable else 'NOT stable (worst > 3x median)'}")
            ok = ok and (stable or judge != "judge")
        if r["errors"] or any(int(s) >= 500 for s in r["non_200"]):
            print("  errors or 5xx answers during the soak")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
