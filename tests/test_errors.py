"""The exception tree: one recovery policy per class, hints and locations in messages."""

from __future__ import annotations

from ml_connector import errors


def test_every_error_has_exactly_one_policy() -> None:
    policies = (
        errors.ConfigurationError,
        errors.DataError,
        errors.RetriableError,
        errors.NeedsUserError,
        errors.RemoteRejectedError,
    )
    for cls in (
        errors.ConfigurationError,
        errors.DataError,
        errors.RetriableError,
        errors.RateLimitedError,
        errors.UnreachableError,
        errors.NeedsUserError,
        errors.ReconsentRequiredError,
        errors.RemoteRejectedError,
    ):
        assert sum(issubclass(cls, p) for p in policies) == 1, cls
        assert issubclass(cls, errors.MlConnectorError)


def test_message_carries_location_and_fix() -> None:
    err = errors.DataError(
        "Konto has 6 digits", location="line 3, column 'Konto'", hint="use 4 digits"
    )
    assert str(err) == "line 3, column 'Konto': Konto has 6 digits (fix: use 4 digits)"
