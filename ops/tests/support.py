"""Helpers of the tests that start `iops serve` (the runbook's and the OTLP exporter's)."""

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iops_binary() -> Path:
    """The built `iops` (IOPS_BIN, else target/debug or target/release); without one the
    test fails under CI and is skipped elsewhere, saying how to build it."""
    for candidate in (
        os.environ.get("IOPS_BIN"),
        ROOT / "target/debug/iops",
        ROOT / "target/release/iops",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    if os.environ.get("CI"):
        pytest.fail("no iops binary (cargo build -p iops-cli, or IOPS_BIN)")
    pytest.skip("no iops binary: cargo build -p iops-cli first")
