"""The demo step runs offline and shows the headers and explanations."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

STEP = Path(__file__).resolve().parents[2] / "demo" / "steps" / "30-verify.py"


def test_demo_step(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(STEP), run_name="__main__")
    out = capsys.readouterr().out
    assert out.count("Authentication-Results: mx.ontvanger.example;") == 7
    assert "Why DMARC failed" in out and "Waarom DMARC faalde" in out
    assert "override=trusted_forwarder" in out
    assert "doet zich voor als rabobank.nl" in out
