"""From the configuration file to what the engine runs: run specs and schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_connector.engine.ports import RunSpec, ScheduledPipeline
from ml_connector.errors import ConfigurationError
from ml_connector.schedule import parse_rule

if TYPE_CHECKING:
    from ml_connector.config import LoadedConfig

__all__ = ["run_spec", "scheduled_pipelines"]


def run_spec(config: LoadedConfig, pipeline: str, period: str) -> RunSpec:
    """The run of ``pipeline`` for ``period`` (``YYYY-MM``), with its customer's DATEV client."""
    customer_id = config.pipeline(pipeline).customer
    customer = config.model.customers[customer_id]
    return RunSpec(pipeline, customer_id, customer.datev.client_id, period)


def scheduled_pipelines(config: LoadedConfig) -> list[ScheduledPipeline]:
    """Every pipeline with a ``schedule``, its rule parsed; a bad rule names its pipeline."""
    scheduled: list[ScheduledPipeline] = []
    for name, pipeline in sorted(config.model.pipelines.items()):
        if not pipeline.schedule:
            continue
        try:
            rule = parse_rule(pipeline.schedule)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"pipelines.{name}.schedule: {exc.message}", hint=exc.hint
            ) from None
        spec = run_spec(config, name, "0000-00")
        scheduled.append(ScheduledPipeline(name, spec.customer, spec.datev_client, rule))
    return scheduled
