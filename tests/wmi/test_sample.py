"""The demo runs end to end, in one apartment and across two."""

from __future__ import annotations

import pytest
import wmi_client


def test_demo_runs_in_one_apartment_and_across_apartments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    wmi_client.in_one_apartment()
    wmi_client.across_apartments()
    out = capsys.readouterr().out
    assert out.count("8/8") == 2  # the progress bar reached the end both times
    assert out.count("cancelled: status 0x80041032, 0 objects") == 2
    assert out.count("Name = 'Neptune'") == 2
