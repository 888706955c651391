"""The canary's gates: what a phase of SageMaker traffic must show to go on, judged on the
function's own metrics (iops EMF, namespace `iops`, by ModelSource)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The runbook's phases: 10 % for 2 minutes, 50 % for 3, 100 % for 5.
RUNBOOK_PHASES: tuple[tuple[int, int], ...] = ((10, 120), (50, 180), (100, 300))


@dataclass(frozen=True)
class Gates:
    """When a phase rolls back (the runbook's figures by default)."""

    # the SageMaker path's error rate, in percent
    max_error_rate: float = 5.0
    # ... and how far above the built-in path's it may be, in percentage points
    max_error_rate_over_builtin: float = 1.0
    # the SageMaker path's p99 latency, in milliseconds
    max_p99_ms: float = 3000.0
    # fallbacks to the built-in model, in percent of the SageMaker path's requests
    max_fallback_rate: float = 1.0
    # requests before a rate may roll back before the phase ends (at its end, any count)
    min_requests_early: int = 20


@dataclass(frozen=True)
class PathStats:
    """One model source's requests over a window."""

    requests: float = 0.0
    errors: float = 0.0
    fallbacks: float = 0.0
    # p99 of LatencyMs (None: no latency to judge); `p99_is_max` when the endpoint gave no
    # percentiles and the maximum (never below the p99) stands in for it
    p99_ms: float | None = None
    p99_is_max: bool = False

    @property
    def error_rate(self) -> float:
        return 100.0 * self.errors / self.requests if self.requests > 0 else 0.0

    @property
    def fallback_rate(self) -> float:
        return 100.0 * self.fallbacks / self.requests if self.requests > 0 else 0.0


@dataclass(frozen=True)
class Window:
    """What the function did over a window: each path, and its failed invocations (crashes
    and timeouts write no EMF line)."""

    sagemaker: PathStats = field(default_factory=PathStats)
    builtin: PathStats = field(default_factory=PathStats)
    invocations: float = 0.0
    failed_invocations: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """`breaches` empty: the phase may go on."""

    breaches: tuple[str, ...]
    no_traffic: bool = False

    @property
    def ok(self) -> bool:
        return not self.breaches


def judge(
    window: Window,
    gates: Gates,
    baseline_error_rate: float,
    phase_over: bool,
) -> Verdict:
    """The gates against one window of a phase. `baseline_error_rate` is the built-in path's
    error rate before the switch, the comparison when the phase sends it no traffic. Before
    the phase is over, rates judge only once `min_requests_early` requests are in."""
    sm, bi = window.sagemaker, window.builtin
    breaches: list[str] = []
    if sm.p99_ms is not None and sm.p99_ms > gates.max_p99_ms:
        what = "maximum latency (no percentiles here)" if sm.p99_is_max else "p99 latency"
        breaches.append(f"SageMaker path {what} {sm.p99_ms:.0f} ms > {gates.max_p99_ms:.0f} ms")
    if phase_over or sm.requests >= gates.min_requests_early:
        if sm.requests > 0:
            if sm.error_rate > gates.max_error_rate:
                breaches.append(
                    f"SageMaker path error rate {sm.error_rate:.1f}% > {gates.max_error_rate:g}%"
                )
            builtin_rate = bi.error_rate if bi.requests > 0 else baseline_error_rate
            if sm.error_rate > builtin_rate + gates.max_error_rate_over_builtin:
                breaches.append(
                    f"SageMaker path error rate {sm.error_rate:.1f}% > built-in's "
                    f"{builtin_rate:.1f}% + {gates.max_error_rate_over_builtin:g} point"
                )
            if sm.fallback_rate > gates.max_fallback_rate:
                breaches.append(
                    f"fallbacks to the built-in model {sm.fallback_rate:.1f}% of SageMaker "
                    f"requests > {gates.max_fallback_rate:g}%"
                )
        if window.invocations > 0:
            failed = 100.0 * window.failed_invocations / window.invocations
            if failed > gates.max_error_rate:
                breaches.append(
                    f"failed invocations {failed:.1f}% of all > {gates.max_error_rate:g}%"
                )
    if phase_over and sm.requests <= 0:
        breaches.append("no SageMaker traffic to judge in this phase")
        return Verdict(tuple(breaches), no_traffic=True)
    return Verdict(tuple(breaches))


def parse_phase_seconds(text: str, percentages=tuple(p for p, _ in RUNBOOK_PHASES)):
    """`--phase-seconds 120,180,300`: one positive duration per phase of the runbook."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(percentages):
        raise ValueError(
            f"{len(percentages)} durations expected (one per phase "
            f"{'/'.join(f'{p}%' for p in percentages)}), got {len(parts)}"
        )
    seconds = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number of seconds") from None
        if not value > 0 or value != value or value == float("inf"):
            raise ValueError(f"{part!r} must be a positive number of seconds")
        seconds.append(value)
    return tuple(zip(percentages, seconds, strict=True))
