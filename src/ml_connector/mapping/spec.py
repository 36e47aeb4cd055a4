"""Compile a pipeline's ``[mapping]`` section into rules that evaluate one row each.

Compilation checks everything that does not need data: expressions parse and use only
allowed constructs, lookup tables exist, target fields are real EXTF columns, the
required fields are there.  Problems are :class:`MappingSpecError` with the key path
relative to the mapping section and a fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ml_connector.formats.extf.models import COLUMN_ATTRS
from ml_connector.mapping.expressions import (
    Expression,
    ExpressionSyntaxError,
    LookupMissError,
    LookupResolver,
    compile_expression,
)
from ml_connector.mapping.lookups import LookupKind
from ml_connector.mapping.text import Template, compile_template

if TYPE_CHECKING:
    from ml_connector.config.models import FieldSpec, MappingConfig, TextRules
    from ml_connector.mapping.dxso import CompiledDxso

__all__ = [
    "DERIVED_FIELDS",
    "HOME_CURRENCY",
    "REQUIRED_FIELDS",
    "VARIABLES",
    "CompiledMapping",
    "FieldRule",
    "MappingSpecError",
    "compile_mapping",
    "compile_rule",
]

#: booking fields every mapping must set (Umsatz and Soll/Haben come from ``amount``)
REQUIRED_FIELDS = ("konto", "gegenkonto", "belegdatum")
#: fields ml-connector sets itself and a mapping may not
DERIVED_FIELDS = frozenset({"umsatz", "soll_haben", "generalumkehr"})
#: the batch currency (EXTF header WKZ); amounts in any other currency are foreign
HOME_CURRENCY = "EUR"
#: names an expression may use that are not Looker columns
VARIABLES = frozenset({"period"})


class MappingSpecError(ValueError):
    """A mapping setting is wrong; ``key`` is relative to the ``mapping`` table."""

    def __init__(self, key: str, message: str, fix: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
        self.fix = fix


@dataclass(frozen=True, slots=True)
class FieldRule:
    """The compiled rule of one booking field."""

    target: str
    kind: str
    expression: Expression | None = None
    template: Template | None = None
    constant: object = None
    lookup: str | None = None
    lookup_kind: LookupKind | None = None
    default: object = None
    has_default: bool = False

    @property
    def columns(self) -> frozenset[str]:
        if self.template is not None:
            return self.template.columns
        return self.expression.columns if self.expression is not None else frozenset()

    @property
    def tables(self) -> frozenset[str]:
        found = set(self.template.tables if self.template else ())
        found |= self.expression.tables if self.expression else frozenset()
        if self.lookup:
            found.add(self.lookup)
        return frozenset(found)

    def value(
        self,
        row: Mapping[str, object],
        lookups: LookupResolver,
        variables: Mapping[str, object],
    ) -> object:
        """The raw value for ``row`` (before type coercion and text rules).

        Raises :class:`~ml_connector.mapping.expressions.ExpressionError` (a
        :class:`LookupMissError` for an absent lookup key).
        """
        if self.kind == "constant":
            return self.constant
        if self.template is not None:
            return self.template.render(row, lookups, variables)
        assert self.expression is not None
        value = self.expression.evaluate(row, lookups, variables)
        if self.lookup is None:
            return value
        try:
            return lookups.resolve(self.lookup, value)
        except KeyError:
            if self.has_default:
                return self.default
            raise LookupMissError(self.lookup, value) from None


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    """A pipeline's mapping, ready to apply to rows."""

    amount: FieldRule
    sign: str
    amount_account: str
    zero_amounts: str
    fields: Mapping[str, FieldRule]
    row_key: tuple[str, ...]
    identity_columns: tuple[str, ...]
    text: TextRules
    text_changes: str = "apply"
    """``apply`` (clean and record) or ``hold`` (hold a row whose text would change)."""
    currency: str = HOME_CURRENCY
    """Currency of the amounts when ``wkz_umsatz`` is not mapped."""
    dxso: CompiledDxso | None = None
    """The DXSO ledger and fields of a ``channel = "dxso"`` pipeline."""

    @property
    def columns(self) -> frozenset[str]:
        """Every Looker column the mapping reads."""
        found = set(self.amount.columns) | set(self.row_key) | set(self.identity_columns)
        for rule in self.fields.values():
            found |= rule.columns
        if self.dxso is not None:
            found |= self.dxso.columns
        return frozenset(found)

    @property
    def tables(self) -> frozenset[str]:
        found = set(self.amount.tables)
        for rule in self.fields.values():
            found |= rule.tables
        if self.dxso is not None:
            found |= self.dxso.tables
        return frozenset(found)


def compile_rule(
    target: str, spec: FieldSpec, key: str, tables: Mapping[str, LookupKind]
) -> FieldRule:
    """Compile the rule of one field; ``key`` names it in errors."""
    kind = spec.kind
    try:
        if kind == "column":
            assert spec.column is not None
            expression = compile_expression(f"col({spec.column!r})")
            return FieldRule(target=target, kind=kind, expression=expression)
        if kind == "constant":
            return FieldRule(target=target, kind=kind, constant=spec.constant)
        if kind == "template":
            assert spec.template is not None
            return FieldRule(
                target=target,
                kind=kind,
                template=compile_template(spec.template, variables=VARIABLES),
            )
        if kind == "expr":
            assert spec.expr is not None
            expression = compile_expression(spec.expr, variables=VARIABLES)
            rule = FieldRule(target=target, kind=kind, expression=expression)
        else:
            assert spec.lookup is not None
            assert spec.key is not None
            if spec.lookup not in tables:
                raise MappingSpecError(
                    f"{key}.lookup",
                    f"lookup table {spec.lookup!r} is not defined",
                    f"add a [lookups.{spec.lookup}] table or use one of: "
                    + (", ".join(sorted(tables)) or "(none defined)"),
                )
            rule = FieldRule(
                target=target,
                kind=kind,
                expression=compile_expression(spec.key, variables=VARIABLES),
                lookup=spec.lookup,
                lookup_kind=tables[spec.lookup],
                default=spec.default,
                has_default="default" in spec.model_fields_set,
            )
    except ExpressionSyntaxError as exc:
        raise MappingSpecError(
            f"{key}.{'key' if kind == 'lookup' else kind}",
            str(exc),
            'write a column such as "view.field", a quoted constant as { constant = "..." }, '
            'or text with placeholders as { template = "... {view.field} ..." }',
        ) from None
    for table in sorted(rule.tables - {rule.lookup}):
        if table not in tables:
            raise MappingSpecError(
                key, f"lookup table {table!r} is not defined", f"add a [lookups.{table}] table"
            )
    return rule


def compile_mapping(config: MappingConfig, tables: Mapping[str, LookupKind]) -> CompiledMapping:
    """Compile ``config``; ``tables`` names the configured lookup tables and their kinds."""
    settable = [a for a in COLUMN_ATTRS if a not in DERIVED_FIELDS]
    fields: dict[str, FieldRule] = {}
    for name, spec in config.fields.items():
        key = f"fields.{name}"
        if name in DERIVED_FIELDS:
            raise MappingSpecError(
                key,
                f"{name!r} is set by ml-connector itself",
                "remove it; Umsatz and Soll/Haben come from `amount` and `sign`, "
                "Generalumkehr from restatements",
            )
        if name not in COLUMN_ATTRS:
            close = [a for a in settable if a.startswith(name[:4])][:6]
            raise MappingSpecError(
                key,
                f"{name!r} is not an EXTF booking column",
                "use a column attribute name such as "
                + ", ".join(close or ["konto", "gegenkonto", "bu_schluessel", "belegfeld_1"]),
            )
        fields[name] = compile_rule(name, spec, key, tables)
    for name in REQUIRED_FIELDS:
        if name not in fields:
            raise MappingSpecError(
                f"fields.{name}",
                "is required",
                f"add {name} = ... under [pipelines.<name>.mapping.fields], "
                f'e.g. {name} = "view.field"',
            )
    if config.currency != HOME_CURRENCY and "kurs" not in fields:
        raise MappingSpecError(
            "currency",
            f"amounts in {config.currency} need an exchange rate (Kurs) for DATEV",
            'map kurs, e.g. kurs = { lookup = "eur_rates", key = "view.currency" }, '
            "or a column holding the rate",
        )
    amount = compile_rule("umsatz", config.amount, "amount", tables)
    return CompiledMapping(
        amount=amount,
        sign=config.sign,
        amount_account=config.amount_account,
        zero_amounts=config.zero_amounts,
        fields=fields,
        row_key=tuple(config.row_key),
        identity_columns=tuple(config.identity_columns),
        text=config.text,
        text_changes=config.text_changes,
        currency=config.currency,
    )
