"""Load and check a configuration file; every problem names the file, the key and the fix.

``load_config(path)`` reads TOML (``tomllib``), validates it against
:mod:`ml_connector.config.models`, reads the lookup CSV files beside it, compiles every
pipeline's mapping and cross-checks references (customers, lookup tables, query
fields).  All problems found are reported together in one :class:`ConfigFileError`.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from ml_connector.config.models import ConfigModel, Customer, Pipeline, known_keys
from ml_connector.errors import ConfigurationError
from ml_connector.mapping.dxso import compile_dxso
from ml_connector.mapping.lookups import (
    LookupKind,
    LookupSet,
    LookupTable,
    inline_entries,
    read_lookup_csv,
)
from ml_connector.mapping.spec import CompiledMapping, MappingSpecError, compile_mapping
from ml_connector.paths import default_data_dir

__all__ = [
    "CONFIG_FILENAME",
    "ENV_CONFIG",
    "ConfigFileError",
    "ConfigProblem",
    "LoadedConfig",
    "find_config",
    "load_config",
    "parse_config",
]

#: environment variable naming the configuration file
ENV_CONFIG = "ML_CONNECTOR_CONFIG"
#: file name looked for in the working directory and the data directory
CONFIG_FILENAME = "ml-connector.toml"
_SECRETISH = re.compile(r"(secret|password|passwd|token|api_?key)", re.IGNORECASE)
_KNOWN_KEYS = known_keys()


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem: where (file and dotted key) and what to do about it."""

    file: str
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}\n    fix: {self.fix}"


class ConfigFileError(ConfigurationError):
    """The configuration file has problems; ``problems`` lists every one found."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration"
        super().__init__(head + ":\n" + "\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A checked configuration: the model, its lookup tables and compiled mappings."""

    path: Path
    model: ConfigModel
    lookups: LookupSet
    mappings: Mapping[str, CompiledMapping] = field(default_factory=dict)

    def pipeline(self, name: str) -> Pipeline:
        """The pipeline called ``name``; a :class:`ConfigurationError` naming the known ones."""
        try:
            return self.model.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.model.pipelines)) or "(none)"
            raise ConfigurationError(
                f"{self.path}: no pipeline {name!r}",
                hint=f"use one of: {known}, or add [pipelines.{name}]",
            ) from None

    def customer_of(self, pipeline: str) -> Customer:
        return self.model.customers[self.pipeline(pipeline).customer]

    def mapping(self, pipeline: str) -> CompiledMapping:
        self.pipeline(pipeline)
        return self.mappings[pipeline]


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$ML_CONNECTOR_CONFIG``, else ``./ml-connector.toml``, else the
    data directory's ``ml-connector.toml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    local = Path.cwd() / CONFIG_FILENAME
    if local.exists():
        return local
    return default_data_dir() / CONFIG_FILENAME


def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read, validate and compile the configuration at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _file_problem(
            file,
            "the configuration file does not exist",
            f"pass --config FILE, set {ENV_CONFIG}, or create {CONFIG_FILENAME} "
            "(see docs/configuration.md)",
        ) from None
    except UnicodeDecodeError as exc:
        raise _file_problem(
            file,
            f"not UTF-8 text (byte {exc.start + 1} is 0x{exc.object[exc.start]:02x})",
            "save the configuration as UTF-8",
        ) from None
    except OSError as exc:
        raise _file_problem(
            file,
            f"cannot read the configuration file: {exc.strerror or type(exc).__name__}",
            "pass a readable file with --config",
        ) from None
    return parse_config(text, path=file)


def _file_problem(file: Path, message: str, fix: str) -> ConfigFileError:
    return ConfigFileError([ConfigProblem(str(file), "(file)", message, fix)])


def parse_config(text: str, *, path: Path) -> LoadedConfig:
    """Validate TOML ``text`` as if read from ``path`` (lookup files are relative to it)."""
    name = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(
            [ConfigProblem(name, "(syntax)", f"not valid TOML: {exc}", "fix the TOML syntax there")]
        ) from None
    except RecursionError:
        raise ConfigFileError(
            [
                ConfigProblem(
                    name,
                    "(syntax)",
                    "tables or arrays are nested too deeply",
                    "write the settings as the tables shown in docs/configuration.md",
                )
            ]
        ) from None
    if non_finite := _non_finite_numbers(name, data):
        raise ConfigFileError(non_finite)
    try:
        model = ConfigModel.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(_problems_from_validation(name, exc, data)) from None
    problems: list[ConfigProblem] = []
    lookups = _load_lookups(name, path.parent, model, problems)
    mappings: dict[str, CompiledMapping] = {}
    kinds = {n: LookupKind(c.kind) for n, c in model.lookups.items()}
    for pipeline_name, pipeline in model.pipelines.items():
        base = f"pipelines.{_key(pipeline_name)}"
        if pipeline.customer not in model.customers:
            problems.append(
                ConfigProblem(
                    name,
                    f"{base}.customer",
                    f"customer {pipeline.customer!r} is not defined",
                    "use one of: " + ", ".join(sorted(model.customers)),
                )
            )
        try:
            compiled = compile_mapping(pipeline.mapping, kinds)
        except MappingSpecError as exc:
            problems.append(ConfigProblem(name, f"{base}.mapping.{exc.key}", exc.message, exc.fix))
            continue
        if pipeline.dxso is not None:
            try:
                compiled = replace(compiled, dxso=compile_dxso(pipeline.dxso, kinds))
            except MappingSpecError as exc:
                problems.append(ConfigProblem(name, f"{base}.dxso.{exc.key}", exc.message, exc.fix))
                continue
        mappings[pipeline_name] = compiled
        problems.extend(_check_columns(name, base, pipeline, compiled))
        problems.extend(_check_documents(name, base, pipeline, path.parent))
    if problems:
        raise ConfigFileError(problems)
    return LoadedConfig(path=path, model=model, lookups=lookups, mappings=mappings)


def _check_columns(
    file: str, base: str, pipeline: Pipeline, compiled: CompiledMapping
) -> list[ConfigProblem]:
    fields = pipeline.source.fields
    if fields is None:
        return []
    known = set(fields)
    problems = []
    wanted = set(compiled.columns)
    if pipeline.source.period_field:
        wanted.add(pipeline.source.period_field)
    for column in sorted(wanted - known):
        close = difflib.get_close_matches(column, fields, n=1)
        problems.append(
            ConfigProblem(
                file,
                f"{base}.mapping",
                f"column {column!r} is used but not in the query's fields",
                f"add {column!r} to {base}.source.query.fields"
                + (f" or did you mean {close[0]!r}?" if close else ""),
            )
        )
    return problems


def _check_documents(
    file: str, base: str, pipeline: Pipeline, base_dir: Path
) -> list[ConfigProblem]:
    """The per-row document column is a source column; its folder exists; a booking
    line has one Beleglink, so a pipeline links either the period's or the rows' own."""
    docs = pipeline.documents
    rows = docs.rows if docs else None
    if rows is None:
        return []
    key = f"{base}.documents.rows"
    problems = []
    if docs is not None and docs.render is not None:
        problems.append(
            ConfigProblem(
                file,
                key,
                "[documents.render] and [documents.rows] together: a booking line links "
                "one document (EXTF Beleglink)",
                "keep one of them",
            )
        )
    fields = pipeline.source.fields
    if fields is not None and rows.column not in fields:
        problems.append(
            ConfigProblem(
                file,
                f"{key}.column",
                f"column {rows.column!r} is not in the query's fields",
                f"add {rows.column!r} to {base}.source.query.fields",
            )
        )
    if rows.folder is not None and not (base_dir / rows.folder).is_dir():
        problems.append(
            ConfigProblem(
                file,
                f"{key}.folder",
                f"folder {rows.folder!r} does not exist (relative to {base_dir})",
                "create it or name the folder the documents are in",
            )
        )
    return problems


def _load_lookups(
    file: str, base_dir: Path, model: ConfigModel, problems: list[ConfigProblem]
) -> LookupSet:
    tables: dict[str, LookupTable] = {}
    for table_name, cfg in model.lookups.items():
        key = f"lookups.{_key(table_name)}"
        if cfg.values is not None:
            entries = inline_entries(cfg.values)
            source = "inline"
        else:
            assert cfg.file is not None
            csv_path = (base_dir / cfg.file).resolve()
            source = str(csv_path)
            if not Path(cfg.file).is_absolute() and not csv_path.is_relative_to(base_dir.resolve()):
                problems.append(
                    ConfigProblem(
                        file,
                        f"{key}.file",
                        f"lookup file {csv_path} is outside the configuration's folder",
                        "put the CSV in the configuration's folder (or below it), or write "
                        "its absolute path if it really lives elsewhere",
                    )
                )
                continue
            if not csv_path.is_file():
                problems.append(
                    ConfigProblem(
                        file,
                        f"{key}.file",
                        f"lookup file {csv_path} does not exist",
                        "put the CSV beside the configuration or correct the path "
                        "(relative to the configuration file)",
                    )
                )
                continue
            entries, csv_problems = read_lookup_csv(csv_path, cfg.key_column, cfg.value_column)
            problems.extend(
                ConfigProblem(
                    f"{csv_path}",
                    key,
                    p,
                    f"fix the CSV (columns {cfg.key_column!r} -> {cfg.value_column!r})",
                )
                for p in csv_problems
            )
        tables[table_name] = LookupTable(
            name=table_name,
            kind=LookupKind(cfg.kind),
            entries=entries,
            casefold=cfg.match == "casefold",
            source=source,
        )
    return LookupSet(tables=tables)


#: TOML integers are 64-bit; larger ones are refused like ``inf`` and ``nan``
_MAX_INT = 2**63 - 1


def _non_finite_numbers(file: str, data: Mapping[str, object]) -> list[ConfigProblem]:
    """A problem for every ``inf``/``nan`` and oversized integer (walked without recursion)."""
    problems = []
    todo: list[tuple[list[object], object]] = [([], data)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, Mapping):
            todo.extend(([*path, k], v) for k, v in value.items())
        elif isinstance(value, list):
            todo.extend(([*path, i], v) for i, v in enumerate(value))
        elif (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, int) and abs(value) > _MAX_INT
        ):
            key = ".".join(_key(p) for p in path if not isinstance(p, int)) or "(top level)"
            problems.append(
                ConfigProblem(file, key, "is not a finite number", "write a finite number there")
            )
    return sorted(problems, key=lambda p: p.key)


def _key(part: object) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else f'"{text}"'


def _problems_from_validation(
    file: str, exc: ValidationError, data: Mapping[str, object]
) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [p for p in error["loc"] if not (isinstance(p, str) and "[" in p)]
        key = ".".join(_key(p) for p in loc) or "(top level)"
        parent = ".".join(_key(p) for p in loc[:-1])
        last = str(loc[-1]) if loc else ""
        kind = error["type"]
        message = str(error["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if kind == "missing":
            fix = f"add {last} = ... under [{parent}]" if parent else f"add [{last}]"
            message = "is required"
        elif kind == "extra_forbidden":
            if _SECRETISH.search(last):
                message = "secrets never belong in the configuration file"
                fix = (
                    "remove it; store the secret in the credential store or an environment "
                    'variable and reference it, e.g. credential = "env:ACME_LOOKER"'
                )
            else:
                message = "is not a known setting"
                close = difflib.get_close_matches(last, _KNOWN_KEYS, n=1)
                fix = f"remove {last} or check its spelling" + (
                    f" (did you mean {close[0]!r}?)" if close else ""
                )
        elif kind == "literal_error":
            fix = message.replace("Input should be", "use")
        elif "credential reference" in message:
            fix = (
                'write "env:PREFIX" (reads PREFIX_CLIENT_ID / PREFIX_CLIENT_SECRET) '
                'or "store:OWNER"'
            )
        elif kind.endswith(("_type", "_parsing")):
            fix = f"give {last} the right type: {message.lower()}"
        elif " (fix: " in message and message.endswith(")"):
            message, fix = message[:-1].split(" (fix: ", 1)
        else:
            fix = "see this key in docs/configuration.md"
        problems.append(ConfigProblem(file, key, message, fix))
    return problems
