"""The OpenTelemetry Python SDK's OTLP/HTTP exporter (a real client, protobuf, gzip as the
Collector sends it) exporting host metrics named and shaped as the Collector's hostmetrics
receiver reports them, to `iops serve`'s POST /v1/metrics (started here on 127.0.0.1).

The first export gives no sample (a cumulative counter needs two points); each later one
gives one sample per host: CPU busy share, memory used, and the disk and network byte
counters as kB/s over the interval, loopback and unmapped metrics left out."""

import json
import signal
import subprocess
import time
import urllib.request

import pytest

otel_sdk = pytest.importorskip("opentelemetry.sdk.metrics")
from opentelemetry.exporter.otlp.proto.http import Compression  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: E402
from opentelemetry.metrics import CallbackOptions, Observation  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from support import free_port, iops_binary  # noqa: E402


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def serve(tmp_path):
    iops = iops_binary()
    port = free_port()
    proc = subprocess.Popen(
        [str(iops), "serve", "--addr", f"127.0.0.1:{port}", "--db", str(tmp_path / "iops.db")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            get(f"{url}/health")
            break
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


class Host:
    """What the hostmetrics receiver would read on one host, moved by the test."""

    def __init__(self):
        self.cpu = {
            ("cpu0", "user"): 0.3,
            ("cpu0", "system"): 0.1,
            ("cpu0", "idle"): 0.6,
            ("cpu1", "user"): 0.5,
            ("cpu1", "system"): 0.1,
            ("cpu1", "idle"): 0.4,
        }
        self.memory = {"used": 0.62, "free": 0.2, "cached": 0.18}
        self.disk = {("sda", "read"): 1_000_000, ("sda", "write"): 2_000_000}
        self.network = {
            ("eth0", "transmit"): 500_000,
            ("eth0", "receive"): 1_500_000,
            ("lo", "transmit"): 9_000_000_000,
        }

    def cpu_cb(self, _: CallbackOptions):
        return [Observation(v, {"cpu": c, "state": s}) for (c, s), v in self.cpu.items()]

    def memory_cb(self, _: CallbackOptions):
        return [Observation(v, {"state": s}) for s, v in self.memory.items()]

    def disk_cb(self, _: CallbackOptions):
        return [Observation(v, {"device": d, "direction": r}) for (d, r), v in self.disk.items()]

    def network_cb(self, _: CallbackOptions):
        return [Observation(v, {"device": d, "direction": r}) for (d, r), v in self.network.items()]

    def filesystem_cb(self, _: CallbackOptions):
        return [Observation(123_456_789, {"device": "/dev/sda1", "state": "used"})]


def provider_for(url: str, hostname: str, host: Host) -> MeterProvider:
    exporter = OTLPMetricExporter(endpoint=f"{url}/v1/metrics", compression=Compression.Gzip)
    # exported only when the test flushes
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"host.name": hostname, "os.type": "linux"}),
        metric_readers=[reader],
    )
    meter = provider.get_meter("otelcol/hostmetricsreceiver")
    meter.create_observable_gauge("system.cpu.utilization", [host.cpu_cb], unit="1")
    meter.create_observable_gauge("system.memory.utilization", [host.memory_cb], unit="1")
    meter.create_observable_counter("system.disk.io", [host.disk_cb], unit="By")
    meter.create_observable_counter("system.network.io", [host.network_cb], unit="By")
    meter.create_observable_up_down_counter(
        "system.filesystem.usage", [host.filesystem_cb], unit="By"
    )
    return provider


def test_the_sdk_exporter_feeds_one_sample_per_host_and_export(serve):
    host = Host()
    provider = provider_for(serve, "otel-1", host)
    try:
        assert provider.force_flush(10_000)
        listed = get(f"{serve}/metrics?hostname=otel-1")["metrics"]
        assert listed == [], "one point of a cumulative counter gives no rate yet"

        first = time.monotonic()
        time.sleep(1.0)
        host.disk[("sda", "read")] += 1_000_000
        host.disk[("sda", "write")] += 2_000_000
        host.network[("eth0", "receive")] += 1_000_000
        host.network[("lo", "transmit")] += 5_000_000_000
        host.cpu[("cpu1", "idle")] = 0.2
        host.cpu[("cpu1", "user")] = 0.7
        assert provider.force_flush(10_000)
        elapsed = time.monotonic() - first

        listed = get(f"{serve}/metrics?hostname=otel-1")["metrics"]
        assert len(listed) == 1, listed
        sample = listed[0]
        # cpu0 busy 0.4, cpu1 busy 0.8: 60 %
        assert sample["cpuUsage"] == pytest.approx(60.0)
        assert sample["memoryUsage"] == pytest.approx(62.0)
        # 3 MB of disk and 1 MB of network over about `elapsed` seconds, in kB/s; lo ignored
        assert sample["diskIO"] == pytest.approx(3000.0 / elapsed, rel=0.3)
        assert sample["networkIO"] == pytest.approx(1000.0 / elapsed, rel=0.3)
        assert sample["diskIO"] / sample["networkIO"] == pytest.approx(3.0, rel=0.01)

        # a third export: a second sample, the counters unchanged (0 kB/s)
        time.sleep(0.2)
        assert provider.force_flush(10_000)
        listed = get(f"{serve}/metrics?hostname=otel-1")["metrics"]
        assert len(listed) == 2, listed
        assert listed[1]["diskIO"] == 0.0 and listed[1]["networkIO"] == 0.0
        assert listed[1]["timestamp"] > listed[0]["timestamp"]
    finally:
        provider.shutdown()
