import pytest

from iops_ops.canary import Gates, PathStats, Window, judge, parse_phase_seconds

G = Gates()


def w(
    sm_req=100,
    sm_err=0,
    fallbacks=0,
    p99=200.0,
    p99_is_max=False,
    bi_req=100,
    bi_err=0,
    invocations=200,
    failed=0,
):
    return Window(
        sagemaker=PathStats(sm_req, sm_err, fallbacks, p99, p99_is_max),
        builtin=PathStats(bi_req, bi_err, 0, 50.0),
        invocations=invocations,
        failed_invocations=failed,
    )


@pytest.mark.parametrize(
    "window, baseline, over, breach",
    [
        (w(), 0.0, True, None),
        (w(sm_err=6, bi_err=6), 0.0, True, "error rate 6.0% > 5%"),
        (w(sm_err=3, bi_err=1), 0.0, True, "> built-in's 1.0% + 1 point"),
        (w(sm_err=2, bi_err=2), 0.0, True, None),
        # no built-in traffic (100 %): compared with the built-in path before the switch
        (w(sm_err=3, bi_req=0), 2.5, True, None),
        (w(sm_err=3, bi_req=0), 1.0, True, "> built-in's 1.0% + 1 point"),
        (w(p99=3500.0), 0.0, False, "p99 latency 3500 ms > 3000 ms"),
        (w(p99=3500.0, p99_is_max=True), 0.0, False, "maximum latency (no percentiles here)"),
        (w(fallbacks=2), 0.0, True, "fallbacks to the built-in model 2.0%"),
        (w(failed=11), 0.0, True, "failed invocations 5.5% of all"),
        (w(sm_req=0, bi_req=50), 0.0, True, "no SageMaker traffic to judge"),
        # before the phase ends, rates wait for enough requests; latency does not
        (w(sm_req=10, sm_err=5), 0.0, False, None),
        (w(sm_req=20, sm_err=5), 0.0, False, "error rate 25.0% > 5%"),
        (w(sm_req=0), 0.0, False, None),
    ],
)
def test_each_gate(window, baseline, over, breach):
    verdict = judge(window, G, baseline, phase_over=over)
    if breach is None:
        assert verdict.ok, verdict.breaches
    else:
        assert any(breach in b for b in verdict.breaches), verdict.breaches
    assert verdict.no_traffic == (over and window.sagemaker.requests == 0)


def test_phase_seconds_are_one_positive_number_per_phase():
    assert parse_phase_seconds("120,180,300") == ((10, 120.0), (50, 180.0), (100, 300.0))
    for bad, why in [
        ("1,2", "3 durations expected"),
        ("1,x,3", "'x' is not a number"),
        ("1,0,3", "'0' must be a positive"),
        ("1,nan,3", "'nan' must be a positive"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_phase_seconds(bad)
