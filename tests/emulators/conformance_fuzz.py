"""Bounded spec fuzzing of an emulator with schemathesis: counts cases, collects failures.

Every operation gets ``max_examples`` generated requests in positive and in negative
mode (derandomized, so a run is repeatable). A share of the cases use known ids
(an existing Look, client...) so the fuzzing reaches past 404, and a share go without
credentials. Each response is checked for server errors (5xx), status codes and
bodies against the spec; a failure the allow-list accepts is counted apart.
"""

from __future__ import annotations

import contextlib
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

ALLOWLIST = Path(__file__).with_name("fuzz_allowlist.toml")
CHECKS = {
    "not_a_server_error": not_a_server_error,
    "response_schema_conformance": response_schema_conformance,
    "status_code_conformance": status_code_conformance,
}


@dataclass(frozen=True)
class Failure:
    """One distinct failure: where, which check, what status."""

    spec: str
    operation: str
    check: str
    status: int
    detail: str


@dataclass
class Report:
    """What one fuzzing run did."""

    cases: int = 0
    allowed: int = 0
    failures: dict[tuple[str, str, int], Failure] = field(default_factory=dict)
    seconds: float = 0.0


def _listed(operation: str | list[str]) -> set[str]:
    return {operation} if isinstance(operation, str) else set(operation)


def _allowed(failure: Failure) -> bool:
    entries = tomllib.loads(ALLOWLIST.read_text(encoding="utf-8"))["deviation"]
    return any(
        e["spec"] in {"*", failure.spec}
        and (e["operation"] == "*" or failure.operation in _listed(e["operation"]))
        and e["check"] == failure.check
        and e["status"] == failure.status
        for e in entries
    )


def _check(case: Any, response: Any, name: str) -> str | None:
    try:
        case.validate_response(response, checks=[CHECKS[name]])
    except FailureGroup as exc:
        return str(exc)
    return None


def fuzz(
    spec_name: str,
    raw_spec: dict[str, Any],
    app: Any,
    *,
    headers: Mapping[str, str],
    known: Mapping[str, str],
    operations: Callable[[str | None], bool] = lambda _: True,
    max_examples: int = 20,
    budget_seconds: float = 60.0,
    report: Report | None = None,
) -> Report:
    """Fuzz every operation of ``raw_spec`` (its ``operationId`` passing ``operations``)."""
    report = report or Report()
    schema = schemathesis.openapi.from_dict(raw_spec)
    started = time.monotonic()
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if operations(op.definition.raw.get("operationId"))]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for op in ops:
            late = time.monotonic() - started > budget_seconds
            _fuzz_operation(
                spec_name, op, app, headers, known, mode, 3 if late else max_examples, report
            )
    report.seconds += time.monotonic() - started
    return report


def _fuzz_operation(
    spec_name: str,
    op: Any,
    app: Any,
    headers: Mapping[str, str],
    known: Mapping[str, str],
    mode: GenerationMode,
    examples: int,
    report: Report,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(
        case=op.as_strategy(generation_mode=mode),
        use_known=st.booleans(),
        anonymous=st.integers(0, 9),
    )
    def run(case: Any, use_known: bool, anonymous: int) -> None:
        report.cases += 1
        if use_known and case.path_parameters:
            case.path_parameters = {k: known.get(k, v) for k, v in case.path_parameters.items()}
        if anonymous:  # nine in ten cases carry valid credentials
            case.headers = {**(case.headers or {}), **headers}
        try:
            response = case.call(app=app)
        except Exception as exc:  # the app raised: what a client sees as a 500
            crash = Failure(spec_name, op.label, "not_a_server_error", 500, repr(exc))
            report.failures.setdefault((op.label, crash.check, 500), crash)
            return
        for name in CHECKS:
            detail = _check(case, response, name)
            if detail is None:
                continue
            failure = Failure(spec_name, op.label, name, response.status_code, detail[:2000])
            if _allowed(failure):
                report.allowed += 1
            else:
                report.failures.setdefault((op.label, name, response.status_code), failure)

    with contextlib.suppress(Unsatisfiable):  # no negative case for unconstrained inputs
        run()
