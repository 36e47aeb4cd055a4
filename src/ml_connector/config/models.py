"""The configuration schema (pydantic): customers, their Looker and DATEV sides, lookups, pipelines.

Every model forbids unknown keys, so a typo is an error with the key's path rather than
a silently ignored setting.  Secrets never live here: a Looker connection names a
*credential reference* (``env:PREFIX`` or ``store:OWNER``) that is resolved at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ml_connector.errors import ConfigurationError
from ml_connector.formats.extf.automatic import parse_accounts, standard_automatic_accounts

__all__ = [
    "CREDENTIAL_REF",
    "ConfigModel",
    "CredentialRef",
    "Customer",
    "DatevClient",
    "DatevOAuth",
    "Documents",
    "EmailNotification",
    "FieldSpec",
    "LookerConnection",
    "LookupConfig",
    "MappingConfig",
    "NotifySettings",
    "Pipeline",
    "QuerySource",
    "RenderedDocument",
    "RowDocuments",
    "Source",
    "TextRules",
    "TieOut",
    "WebhookNotification",
]

#: ``env:PREFIX`` (variables ``PREFIX_CLIENT_ID`` / ``PREFIX_CLIENT_SECRET``) or ``store:OWNER``
CREDENTIAL_REF = re.compile(r"^(env|store):([A-Za-z0-9_.\-]{1,100})$")
_PERIOD_PLACEHOLDER = "{period}"


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """A parsed credential reference; ``scheme`` is ``env`` or ``store``."""

    scheme: str
    name: str

    @classmethod
    def parse(cls, text: str) -> CredentialRef:
        match = CREDENTIAL_REF.match(text)
        if not match:
            raise ValueError(
                "is not a credential reference (the value is not shown, it may be a secret)"
            )
        return cls(scheme=match.group(1), name=match.group(2))

    def __str__(self) -> str:
        return f"{self.scheme}:{self.name}"


#: the largest amount a setting may hold (EXTF's Umsatz has at most 10 integer digits)
MAX_AMOUNT = Decimal("9999999999.99")
#: pipeline and customer names: they appear in file names, run ids and commands
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError('expected a number such as 0.01 or "0.01"')
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:  # InvalidOperation, or an exponent beyond the context's
        raise ValueError(f"{str(value)[:40]!r} is not a number") from None
    if not number.is_finite() or number.adjusted() > 10 or number.copy_abs() > MAX_AMOUNT:
        raise ValueError(f"must be a finite amount of at most {MAX_AMOUNT}")
    if number != 0 and number.adjusted() < -6:
        raise ValueError("must not be smaller than 0.000001 (other than 0)")
    return number


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(
            f"the name {value[:70]!r} may hold only letters, digits, '-' and '_' (1-64 of them)"
        )
    return value


Money = Annotated[Decimal, BeforeValidator(_decimal)]
#: a customer or pipeline name (a key of [customers.<id>] or [pipelines.<name>])
Name = Annotated[str, AfterValidator(_name)]


class _Model(BaseModel):
    # A mistyped setting may hold a secret: a ValidationError's text never shows values.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class LookerConnection(_Model):
    """``[customers.<id>.looker]``: the customer's own Looker instance."""

    base_url: str = Field(description="instance URL, e.g. https://acme.cloud.looker.com")
    credential: str = Field(description="credential reference: env:PREFIX or store:OWNER")
    verify_tls: bool = True
    timeout_seconds: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be a full URL starting with https://")
        return value.rstrip("/")

    @field_validator("credential")
    @classmethod
    def _credential(cls, value: str) -> str:
        CredentialRef.parse(value)
        return value

    @property
    def credential_ref(self) -> CredentialRef:
        return CredentialRef.parse(self.credential)


def _optional_ref(value: str | None) -> str | None:
    if value is not None:
        CredentialRef.parse(value)
    return value


OptionalCredentialRef = Annotated[str | None, AfterValidator(_optional_ref)]


class DatevOAuth(_Model):
    """``[customers.<id>.datev.oauth]``: the DATEV app registration used for the login."""

    client_id: str = Field(
        min_length=1, description="public app id from the DATEV developer portal"
    )
    client_secret: OptionalCredentialRef = Field(
        default=None, description="credential reference (env:NAME or store:OWNER), never the secret"
    )
    redirect_uri: str = "http://localhost:8765/callback"


class DatevClient(_Model):
    """``[customers.<id>.datev]``: the DATEV client (Mandant) the bookings go to."""

    consultant_number: int = Field(ge=1001, le=9_999_999, description="Beraternummer")
    client_number: int = Field(ge=1, le=99_999, description="Mandantennummer")
    chart_of_accounts: Literal["SKR03", "SKR04"] = Field(description="Sachkontenrahmen")
    account_length: int = Field(default=4, ge=4, le=8, description="Sachkontenlänge")
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12, description="WJ-Beginn month")
    festschreibung: bool = Field(
        default=False, description="lock the batch on import (agree with the tax advisor)"
    )
    environment: Literal["production", "sandbox", "emulator"] = Field(
        default="production",
        description="DATEV's production or sandbox, or an emulator at api_url "
        "(customers with emulator = true only)",
    )
    api_url: str | None = Field(
        default=None, description="the DATEV emulator's base URL (environment = emulator)"
    )
    issuer: str | None = Field(
        default=None,
        description="the emulator's OpenID Connect issuer [default: api_url + /openid]",
    )
    oauth: DatevOAuth | None = None
    automatic_accounts: list[int | str] = Field(
        default_factory=list,
        description="the client's automatic (AM) accounts beyond the chart's standard list "
        '(numbers or ranges such as "8920-8925")',
    )
    not_automatic_accounts: list[int | str] = Field(
        default_factory=list,
        description="standard automatic accounts the client's chart does not treat as automatic",
    )
    automatic_accounts_tax_key: Literal["hold", "strip"] = Field(
        default="hold",
        description="a line with a tax key on an automatic account: hold the row, or "
        "strip the key (recorded as a data change)",
    )

    @field_validator("automatic_accounts", "not_automatic_accounts")
    @classmethod
    def _accounts(cls, value: list[int | str]) -> list[int | str]:
        parse_accounts(value)  # the one parser; raises a one-line ValueError
        return value

    @property
    def automatic_account_set(self) -> frozenset[int]:
        """The chart's standard automatic accounts, plus the extra, minus the removed ones.

        The standard lists have four digits; with a longer Sachkontenlänge an account is
        written with trailing zeros (8400 becomes 840000 at six digits).
        """
        scale = 10 ** (self.account_length - 4)
        standard = {a * scale for a in standard_automatic_accounts(self.chart_of_accounts)}
        extra = parse_accounts(self.automatic_accounts)
        return frozenset((standard | extra) - parse_accounts(self.not_automatic_accounts))

    @field_validator("api_url", "issuer")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be a full URL starting with http:// or https://")
        return value.rstrip("/") if value is not None else None

    @model_validator(mode="after")
    def _emulator_urls(self) -> DatevClient:
        if self.environment == "emulator" and self.api_url is None:
            raise ValueError(
                'environment = "emulator" needs api_url, e.g. api_url = "http://127.0.0.1:8766"'
            )
        if self.environment != "emulator" and (self.api_url or self.issuer):
            raise ValueError(
                'api_url and issuer name an emulator: set environment = "emulator", or drop '
                f"them to use DATEV {self.environment}"
            )
        return self

    @property
    def emulator_issuer(self) -> str | None:
        """The emulator's issuer (``issuer``, else ``api_url`` + ``/openid``), or ``None``."""
        if self.api_url is None:
            return None
        return self.issuer or f"{self.api_url}/openid"

    @property
    def skr(self) -> str:
        """``"03"`` or ``"04"`` as the EXTF header writes it."""
        return self.chart_of_accounts[-2:]

    @property
    def client_id(self) -> str:
        return f"{self.consultant_number}-{self.client_number}"


class WebhookNotification(_Model):
    """``[[customers.<id>.notify.webhooks]]``: a URL that receives a JSON POST per event."""

    url: str = Field(pattern=r"^https?://", description="receiver URL")
    headers: dict[str, str] = Field(default_factory=dict)
    signing_secret: OptionalCredentialRef = Field(
        default=None, description="credential reference of the HMAC-SHA256 signing secret"
    )


class EmailNotification(_Model):
    """``[[customers.<id>.notify.emails]]``: an SMTP server and the recipients."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: OptionalCredentialRef = Field(
        default=None,
        description="credential reference (env:NAME or store:OWNER), never the password",
    )
    sender: str = Field(min_length=3)
    recipients: list[str] = Field(min_length=1)


class NotifySettings(_Model):
    """``[customers.<id>.notify]``: where failures, partial runs and re-consent go."""

    on: list[Literal["failure", "partial", "reconsent"]] = Field(
        default=["failure", "partial", "reconsent"], description="which events are sent"
    )
    webhooks: list[WebhookNotification] = Field(default_factory=list)
    emails: list[EmailNotification] = Field(default_factory=list)


class Customer(_Model):
    """``[customers.<id>]``: one tenant."""

    name: str = Field(min_length=1)
    looker: LookerConnection
    datev: DatevClient
    notify: NotifySettings | None = None
    emulator: bool = Field(
        default=False,
        description="this customer's Looker and DATEV are emulators (demo, tests): URL "
        "overrides and identity providers other than DATEV's apply to it only",
    )

    @model_validator(mode="after")
    def _emulator_only(self) -> Customer:
        if self.datev.environment == "emulator" and not self.emulator:
            raise ValueError(
                'datev.environment = "emulator" is for emulator customers: set emulator = true '
                "in this customer's section, or use a DATEV environment (production, sandbox)"
            )
        return self


class QuerySource(_Model):
    """An inline Looker query (what Looker calls a WriteQuery)."""

    model: str = Field(min_length=1)
    view: str = Field(min_length=1)
    fields: list[str] = Field(min_length=1)
    filters: dict[str, str] = Field(default_factory=dict)
    sorts: list[str] = Field(default_factory=list)
    limit: int = Field(default=5000, ge=1)


def _look_id(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Source(_Model):
    """Where rows come from: a saved Look (``look_id``) or an inline ``query``.

    ``period_field`` names the column holding the period (``YYYY-MM`` text or a date);
    rows of other periods are left out before mapping.  In an inline query a filter
    value of ``"{period}"`` is replaced with the run's period.  ``partition_by`` with
    ``count_measure`` fetches results larger than Looker's row cap in disjoint slices.
    """

    look_id: Annotated[str | None, BeforeValidator(_look_id)] = None
    query: QuerySource | None = None
    period_field: str | None = None
    partition_by: list[str] = Field(
        default_factory=list, description="fields to split extracts above the row cap by"
    )
    count_measure: str | None = Field(
        default=None, description="a count measure of the view, needed with partition_by"
    )

    @model_validator(mode="after")
    def _one_source(self) -> Source:
        if (self.look_id is None) == (self.query is None):
            raise ValueError("give exactly one of look_id or [query]")
        if bool(self.partition_by) != (self.count_measure is not None):
            raise ValueError("partition_by and count_measure go together")
        return self

    def query_for_period(self, period: str) -> QuerySource | None:
        """The inline query with ``{period}`` filter values filled in."""
        if self.query is None:
            return None
        filters = {k: v.replace(_PERIOD_PLACEHOLDER, period) for k, v in self.query.filters.items()}
        return self.query.model_copy(update={"filters": filters})

    @property
    def fields(self) -> list[str] | None:
        return list(self.query.fields) if self.query else None


_FILENAME_PATTERN = re.compile(r"[^/\\:]{1,200}\.pdf", re.IGNORECASE)
_PATTERN_KEYS = {"period", "pipeline", "customer"}


class RenderedDocument(_Model):
    """``[pipelines.<name>.documents.render]``: a Looker dashboard rendered to PDF per period.

    Looker renders dashboards (not Looks) to PDF; ``filters`` are dashboard filter
    names and values, ``{period}`` replaced with the run's period.
    """

    dashboard_id: Annotated[str, BeforeValidator(_look_id)] = Field(min_length=1)
    filters: dict[str, str] = Field(default_factory=dict)
    filename: str = Field(
        default="{pipeline}_{period}.pdf",
        description="file name pattern with {period}, {pipeline}, {customer}; ends .pdf",
    )
    width: int = Field(default=1200, ge=100, le=10_000)
    height: int = Field(default=1600, ge=100, le=10_000)
    paper_size: Literal["letter", "legal", "tabloid", "a0", "a1", "a2", "a3", "a4", "a5"] = "a4"
    landscape: bool = False

    @field_validator("filename")
    @classmethod
    def _pattern(cls, value: str) -> str:
        keys = set(re.findall(r"{([^{}]*)}", value))
        if keys - _PATTERN_KEYS:
            raise ValueError(
                f"unknown placeholder(s) {sorted(keys - _PATTERN_KEYS)}; "
                "use {period}, {pipeline} or {customer}"
            )
        if not _FILENAME_PATTERN.fullmatch(value):
            raise ValueError(
                "a file name (no folder, no / \\ :) ending in .pdf, e.g. PL_{period}.pdf"
            )
        return value


class RowDocuments(_Model):
    """``[pipelines.<name>.documents.rows]``: a column naming each row's own document.

    A value is a file path (relative to ``folder``, never outside it) or an https URL
    on the customer's own Looker host; anything else holds that row's document.
    """

    column: str = Field(min_length=1, description="source column with a path or URL")
    folder: str | None = Field(
        default=None, description="folder the paths are under (relative to this file)"
    )
    required: bool = Field(
        default=True,
        description="hold a row whose column names no document (false: such a row is "
        "sent without one)",
    )


class Documents(_Model):
    """``[pipelines.<name>.documents]``: supporting documents uploaded and linked (Beleglink)."""

    document_type: str = Field(
        min_length=1, max_length=30, description="name of one of the DATEV client's document types"
    )
    render: RenderedDocument | None = None
    rows: RowDocuments | None = None

    @model_validator(mode="after")
    def _some_source(self) -> Documents:
        if self.render is None and self.rows is None:
            raise ValueError("give [documents.render] or [documents.rows]")
        return self


class TieOut(_Model):
    """``[pipelines.<name>.tie_out]``: control totals the mapped bookings must match."""

    balanced: bool = False
    tolerance: Money = Decimal("0.00")
    totals: Source | None = None
    group_by: list[str] = Field(default_factory=list)
    amount: str | None = Field(default=None, description="measure column of the totals")
    count: str | None = Field(default=None, description="row-count measure of the totals")
    detail_amount: str | None = Field(
        default=None, description="column of the detail rows summed against `amount`"
    )

    @field_validator("tolerance")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @model_validator(mode="after")
    def _complete(self) -> TieOut:
        if self.totals is not None and (not self.group_by or self.amount is None):
            raise ValueError("with [totals] give group_by and amount (and optionally count)")
        return self


def _field_spec(value: object) -> object:
    if isinstance(value, str):
        return {"expr": value}
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return {"constant": value}
    return value


class FieldSpec(_Model):
    """How one booking field gets its value; exactly one of the five kinds."""

    column: str | None = None
    constant: str | int | float | bool | None = None
    lookup: str | None = None
    key: str | None = Field(default=None, description="expression for the lookup key")
    default: str | int | None = Field(
        default=None, description="lookup value when the key is absent"
    )
    expr: str | None = None
    template: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FieldSpec:
        kinds = [
            k
            for k in ("column", "constant", "lookup", "expr", "template")
            if k in self.model_fields_set
        ]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of column, constant, lookup, expr or template"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if self.lookup is not None and self.key is None:
            raise ValueError('a lookup needs key = "<column or expression>"')
        if self.lookup is None and (
            "key" in self.model_fields_set or "default" in self.model_fields_set
        ):
            raise ValueError("key and default belong to a lookup")
        return self

    @property
    def kind(self) -> str:
        for k in ("column", "constant", "lookup", "expr", "template"):
            if k in self.model_fields_set:
                return k
        raise AssertionError("validated above")  # pragma: no cover


AnyFieldSpec = Annotated[FieldSpec, BeforeValidator(_field_spec)]


class TextRules(_Model):
    """``[pipelines.<name>.mapping.text]``: what happens to text that does not fit."""

    buchungstext_overflow: Literal["truncate", "reject"] = "truncate"
    belegfeld_charset: Literal["sanitise", "reject"] = "sanitise"
    belegfeld_overflow: Literal["reject", "truncate"] = "reject"


class MappingConfig(_Model):
    """``[pipelines.<name>.mapping]``: from one Looker row to one booking line."""

    amount: AnyFieldSpec
    sign: Literal["debit_positive", "credit_positive"] = "debit_positive"
    amount_account: Literal["konto", "gegenkonto"] = Field(
        default="konto", description="which account the signed amount belongs to"
    )
    zero_amounts: Literal["skip", "reject"] = "skip"
    text_changes: Literal["apply", "hold"] = Field(
        default="apply",
        description="apply text cleaning and record it, or hold a row whose text would change",
    )
    currency: str = Field(
        default="EUR",
        pattern="^[A-Z]{3}$",
        description="ISO currency of the amounts when wkz_umsatz is not mapped",
    )
    row_key: list[str] = Field(default_factory=list, description="key columns of a row")
    identity_columns: list[str] = Field(
        default_factory=list, description="columns digested into the key when row_key is empty"
    )
    fields: dict[str, AnyFieldSpec]
    text: TextRules = TextRules()


class PipelineWebhook(_Model):
    """``[pipelines.<name>.webhook]``: a Looker scheduled-plan webhook that queues a run."""

    secret: str = Field(
        description="credential reference (env:NAME or store:OWNER) of this pipeline's "
        "webhook secret, never the secret; the Looker destination URL carries it"
    )
    period: Literal["previous_month", "current_month"] = Field(
        default="previous_month",
        description="the period a delivery runs: the month before the delivery, or its own",
    )
    tz: str = Field(default="Europe/Berlin", description="time zone the delivery's month is in")

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        CredentialRef.parse(value)
        return value

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Berlin") from None
        return value


class DxsoConfig(_Model):
    """``[pipelines.<name>.dxso]``: booking suggestions for DATEV Unternehmen Online."""

    ledger: Literal["accounts_receivable", "accounts_payable", "cash"] = Field(
        description="the ledger the suggestions go to (one dxso job per ledger and month)"
    )
    partner_account: Literal["konto", "gegenkonto"] = Field(
        default="konto",
        description="which account of the booking line is the debtor/creditor (or cash account)",
    )
    generator_info: str = Field(
        default="",
        max_length=40,
        description="sender shown in Belege online; the customer's name when empty",
    )
    fields: dict[str, AnyFieldSpec] = Field(
        default_factory=dict, description="DXSO-only fields (party name, due date, IBAN, ...)"
    )


class Pipeline(_Model):
    """``[pipelines.<name>]``: one extract from Looker to one DATEV client."""

    customer: str
    description: str = ""
    source: Source
    channel: Literal["extf", "dxso"] = "extf"
    schedule: str | None = Field(default=None, description="raw schedule spec, e.g. a cron line")
    webhook: PipelineWebhook | None = None
    reject_policy: Literal["reject_batch", "hold_rejected"] = "reject_batch"

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        # the one check of a schedule (schedule.parse_rule), when the configuration loads
        from ml_connector.schedule.rules import parse_rule

        if value is not None:
            try:
                parse_rule(value)
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
        return value

    restatement: Literal["append_only", "corrections"] = "corrections"
    batch_label: str = Field(default="", max_length=30, description="EXTF header Bezeichnung")
    mapping: MappingConfig
    tie_out: TieOut = TieOut()
    dxso: DxsoConfig | None = None
    documents: Documents | None = None

    @model_validator(mode="after")
    def _dxso_table(self) -> Pipeline:
        if self.channel == "dxso" and self.dxso is None:
            raise ValueError(
                'channel = "dxso" needs a [pipelines.<name>.dxso] table with at least '
                'ledger = "accounts_receivable", "accounts_payable" or "cash"'
            )
        if self.channel == "extf" and self.dxso is not None:
            raise ValueError('a [dxso] table needs channel = "dxso"; remove it or set the channel')
        return self


class LookupConfig(_Model):
    """``[lookups.<name>]``: inline ``values`` or a CSV ``file`` beside the configuration."""

    kind: Literal["account", "cost_center", "tax_key", "value"] = "value"
    values: dict[str, str | int | None] | None = None
    file: str | None = None
    key_column: str = "key"
    value_column: str = "value"
    match: Literal["exact", "casefold"] = "exact"

    @model_validator(mode="after")
    def _one_source(self) -> LookupConfig:
        if (self.values is None) == (self.file is None):
            raise ValueError('give exactly one of values = { ... } or file = "name.csv"')
        return self


class ConfigModel(_Model):
    """The whole file."""

    version: Literal[1] = 1
    customers: dict[Name, Customer] = Field(min_length=1)
    lookups: dict[str, LookupConfig] = Field(default_factory=dict)
    pipelines: dict[Name, Pipeline] = Field(default_factory=dict)


def known_keys() -> list[str]:
    """Every setting name of every configuration table (for "did you mean" hints)."""
    return sorted({name for model in _Model.__subclasses__() for name in model.model_fields})
