"""The demo's printed summary reads once what several runs have in common."""

from __future__ import annotations

from ml_connector_sandbox.demo.summary import DemoRun, DemoSummary


def _summary(*runs: DemoRun) -> DemoSummary:
    return DemoSummary(
        workdir="w",
        data_dir="w/data",
        config_path="w/ml-connector.toml",
        customer="meridian",
        pipeline="gl-monthly",
        datev_client="29098-55003",
        runs=runs,
        files=(),
        rejections=(),
        bookings_posted=0,
        datev_ledger_bookings=0,
        datev_duplicate_transfers=0,
        audit_verified=True,
    )


def _run(period: str, *warnings: str) -> DemoRun:
    return DemoRun(period, f"run:gl-monthly:{period}", "succeeded", 1, 1, 0, warnings=warnings)


def test_a_warning_repeated_by_later_runs_is_printed_once_and_referred_to() -> None:
    same = "Looker has rows in 11 earlier period(s) that no run has taken on"
    text = _summary(
        _run("2025-10", same), _run("2025-11", same, "another"), _run("2025-12", same)
    ).render()

    assert text.count(same) == 1
    assert text.count("warning: the same as for run:gl-monthly:2025-10") == 2
    assert "warning: another" in text


def test_different_warnings_are_each_printed() -> None:
    text = _summary(_run("2025-10", "in 11 earlier"), _run("2025-11", "in 20 earlier")).render()

    assert "warning: in 11 earlier" in text
    assert "warning: in 20 earlier" in text
    assert "the same as" not in text
