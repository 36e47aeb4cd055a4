"""Typed models of a DATEV EXTF Buchungsstapel: one booking line and the batch header.

:class:`BookingLine` has one attribute per column of Formatversion 13, in column
order (125).  Attribute names are derived from the column headings of DATEV's
sample file: lower case, umlauts transliterated (``ä`` -> ``ae``), ``L+L`` ->
``ll``, qualifiers that only repeat the obvious dropped (``(ohne BU-Schlüssel)``,
``(Bestimmung)``, ``(GU)``, ``- Kostenstelle``, ``u.``), everything else joined by
``_``.  :data:`HEADING_TO_ATTR` maps each heading to its attribute.

Money and rates are :class:`~decimal.Decimal`, dates :class:`~datetime.date`
(Belegdatum is written ``TTMM``, all other row dates ``TTMMJJJJ``), 0/1 flags
``bool``, numeric codes and accounts ``int``, everything else ``str``.  Only the
five columns every booking needs are required; all others default to ``None``
(written as an empty field).  The models do not validate on construction (a
million lines must stay cheap); :mod:`ml_connector.formats.extf.validate` does.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

from ml_connector.canonical import to_jsonable
from ml_connector.formats.extf.spec import COLUMN_HEADINGS

__all__ = [
    "ATTR_TO_HEADING",
    "COLUMN_ATTRS",
    "GROUPS",
    "HEADING_TO_ATTR",
    "BatchHeader",
    "BookingLine",
    "RenderedLine",
    "columns_to_json",
    "filled_columns",
    "line_to_json",
]


@dataclass(slots=True, kw_only=True)
class BookingLine:
    """One booking (data line 3+ of an EXTF Buchungsstapel), all 125 columns."""

    umsatz: Decimal
    """1 Umsatz (ohne Soll/Haben-Kz)"""
    soll_haben: str
    """2 Soll/Haben-Kennzeichen"""
    wkz_umsatz: str | None = None
    """3 WKZ Umsatz"""
    kurs: Decimal | None = None
    """4 Kurs"""
    basis_umsatz: Decimal | None = None
    """5 Basis-Umsatz"""
    wkz_basis_umsatz: str | None = None
    """6 WKZ Basis-Umsatz"""
    konto: int
    """7 Konto"""
    gegenkonto: int
    """8 Gegenkonto (ohne BU-Schlüssel)"""
    bu_schluessel: str | None = None
    """9 BU-Schlüssel"""
    belegdatum: date
    """10 Belegdatum"""
    belegfeld_1: str | None = None
    """11 Belegfeld 1"""
    belegfeld_2: str | None = None
    """12 Belegfeld 2"""
    skonto: Decimal | None = None
    """13 Skonto"""
    buchungstext: str | None = None
    """14 Buchungstext"""
    postensperre: bool | None = None
    """15 Postensperre"""
    diverse_adressnummer: str | None = None
    """16 Diverse Adressnummer"""
    geschaeftspartnerbank: int | None = None
    """17 Geschäftspartnerbank"""
    sachverhalt: int | None = None
    """18 Sachverhalt"""
    zinssperre: bool | None = None
    """19 Zinssperre"""
    beleglink: str | None = None
    """20 Beleglink"""
    beleginfo_art_1: str | None = None
    """21 Beleginfo - Art 1"""
    beleginfo_inhalt_1: str | None = None
    """22 Beleginfo - Inhalt 1"""
    beleginfo_art_2: str | None = None
    """23 Beleginfo - Art 2"""
    beleginfo_inhalt_2: str | None = None
    """24 Beleginfo - Inhalt 2"""
    beleginfo_art_3: str | None = None
    """25 Beleginfo - Art 3"""
    beleginfo_inhalt_3: str | None = None
    """26 Beleginfo - Inhalt 3"""
    beleginfo_art_4: str | None = None
    """27 Beleginfo - Art 4"""
    beleginfo_inhalt_4: str | None = None
    """28 Beleginfo - Inhalt 4"""
    beleginfo_art_5: str | None = None
    """29 Beleginfo - Art 5"""
    beleginfo_inhalt_5: str | None = None
    """30 Beleginfo - Inhalt 5"""
    beleginfo_art_6: str | None = None
    """31 Beleginfo - Art 6"""
    beleginfo_inhalt_6: str | None = None
    """32 Beleginfo - Inhalt 6"""
    beleginfo_art_7: str | None = None
    """33 Beleginfo - Art 7"""
    beleginfo_inhalt_7: str | None = None
    """34 Beleginfo - Inhalt 7"""
    beleginfo_art_8: str | None = None
    """35 Beleginfo - Art 8"""
    beleginfo_inhalt_8: str | None = None
    """36 Beleginfo - Inhalt 8"""
    kost1: str | None = None
    """37 KOST1 - Kostenstelle"""
    kost2: str | None = None
    """38 KOST2 - Kostenstelle"""
    kost_menge: Decimal | None = None
    """39 Kost-Menge"""
    eu_land_ustid: str | None = None
    """40 EU-Land u. UStID (Bestimmung)"""
    eu_steuersatz: Decimal | None = None
    """41 EU-Steuersatz (Bestimmung)"""
    abw_versteuerungsart: str | None = None
    """42 Abw. Versteuerungsart"""
    sachverhalt_ll: int | None = None
    """43 Sachverhalt L+L"""
    funktionsergaenzung_ll: int | None = None
    """44 Funktionsergänzung L+L"""
    bu_49_hauptfunktionstyp: int | None = None
    """45 BU 49 Hauptfunktionstyp"""
    bu_49_hauptfunktionsnummer: int | None = None
    """46 BU 49 Hauptfunktionsnummer"""
    bu_49_funktionsergaenzung: int | None = None
    """47 BU 49 Funktionsergänzung"""
    zusatzinformation_art_1: str | None = None
    """48 Zusatzinformation - Art 1"""
    zusatzinformation_inhalt_1: str | None = None
    """49 Zusatzinformation- Inhalt 1"""
    zusatzinformation_art_2: str | None = None
    """50 Zusatzinformation - Art 2"""
    zusatzinformation_inhalt_2: str | None = None
    """51 Zusatzinformation- Inhalt 2"""
    zusatzinformation_art_3: str | None = None
    """52 Zusatzinformation - Art 3"""
    zusatzinformation_inhalt_3: str | None = None
    """53 Zusatzinformation- Inhalt 3"""
    zusatzinformation_art_4: str | None = None
    """54 Zusatzinformation - Art 4"""
    zusatzinformation_inhalt_4: str | None = None
    """55 Zusatzinformation- Inhalt 4"""
    zusatzinformation_art_5: str | None = None
    """56 Zusatzinformation - Art 5"""
    zusatzinformation_inhalt_5: str | None = None
    """57 Zusatzinformation- Inhalt 5"""
    zusatzinformation_art_6: str | None = None
    """58 Zusatzinformation - Art 6"""
    zusatzinformation_inhalt_6: str | None = None
    """59 Zusatzinformation- Inhalt 6"""
    zusatzinformation_art_7: str | None = None
    """60 Zusatzinformation - Art 7"""
    zusatzinformation_inhalt_7: str | None = None
    """61 Zusatzinformation- Inhalt 7"""
    zusatzinformation_art_8: str | None = None
    """62 Zusatzinformation - Art 8"""
    zusatzinformation_inhalt_8: str | None = None
    """63 Zusatzinformation- Inhalt 8"""
    zusatzinformation_art_9: str | None = None
    """64 Zusatzinformation - Art 9"""
    zusatzinformation_inhalt_9: str | None = None
    """65 Zusatzinformation- Inhalt 9"""
    zusatzinformation_art_10: str | None = None
    """66 Zusatzinformation - Art 10"""
    zusatzinformation_inhalt_10: str | None = None
    """67 Zusatzinformation- Inhalt 10"""
    zusatzinformation_art_11: str | None = None
    """68 Zusatzinformation - Art 11"""
    zusatzinformation_inhalt_11: str | None = None
    """69 Zusatzinformation- Inhalt 11"""
    zusatzinformation_art_12: str | None = None
    """70 Zusatzinformation - Art 12"""
    zusatzinformation_inhalt_12: str | None = None
    """71 Zusatzinformation- Inhalt 12"""
    zusatzinformation_art_13: str | None = None
    """72 Zusatzinformation - Art 13"""
    zusatzinformation_inhalt_13: str | None = None
    """73 Zusatzinformation- Inhalt 13"""
    zusatzinformation_art_14: str | None = None
    """74 Zusatzinformation - Art 14"""
    zusatzinformation_inhalt_14: str | None = None
    """75 Zusatzinformation- Inhalt 14"""
    zusatzinformation_art_15: str | None = None
    """76 Zusatzinformation - Art 15"""
    zusatzinformation_inhalt_15: str | None = None
    """77 Zusatzinformation- Inhalt 15"""
    zusatzinformation_art_16: str | None = None
    """78 Zusatzinformation - Art 16"""
    zusatzinformation_inhalt_16: str | None = None
    """79 Zusatzinformation- Inhalt 16"""
    zusatzinformation_art_17: str | None = None
    """80 Zusatzinformation - Art 17"""
    zusatzinformation_inhalt_17: str | None = None
    """81 Zusatzinformation- Inhalt 17"""
    zusatzinformation_art_18: str | None = None
    """82 Zusatzinformation - Art 18"""
    zusatzinformation_inhalt_18: str | None = None
    """83 Zusatzinformation- Inhalt 18"""
    zusatzinformation_art_19: str | None = None
    """84 Zusatzinformation - Art 19"""
    zusatzinformation_inhalt_19: str | None = None
    """85 Zusatzinformation- Inhalt 19"""
    zusatzinformation_art_20: str | None = None
    """86 Zusatzinformation - Art 20"""
    zusatzinformation_inhalt_20: str | None = None
    """87 Zusatzinformation- Inhalt 20"""
    stueck: int | None = None
    """88 Stück"""
    gewicht: Decimal | None = None
    """89 Gewicht"""
    zahlweise: int | None = None
    """90 Zahlweise"""
    forderungsart: str | None = None
    """91 Forderungsart"""
    veranlagungsjahr: int | None = None
    """92 Veranlagungsjahr"""
    zugeordnete_faelligkeit: date | None = None
    """93 Zugeordnete Fälligkeit"""
    skontotyp: int | None = None
    """94 Skontotyp"""
    auftragsnummer: str | None = None
    """95 Auftragsnummer"""
    buchungstyp: str | None = None
    """96 Buchungstyp"""
    ust_schluessel_anzahlungen: int | None = None
    """97 USt-Schlüssel (Anzahlungen)"""
    eu_land_anzahlungen: str | None = None
    """98 EU-Land (Anzahlungen)"""
    sachverhalt_ll_anzahlungen: int | None = None
    """99 Sachverhalt L+L (Anzahlungen)"""
    eu_steuersatz_anzahlungen: Decimal | None = None
    """100 EU-Steuersatz (Anzahlungen)"""
    erloeskonto_anzahlungen: int | None = None
    """101 Erlöskonto (Anzahlungen)"""
    herkunft_kz: str | None = None
    """102 Herkunft-Kz"""
    buchungs_guid: str | None = None
    """103 Buchungs GUID"""
    kost_datum: date | None = None
    """104 KOST-Datum"""
    sepa_mandatsreferenz: str | None = None
    """105 SEPA-Mandatsreferenz"""
    skontosperre: bool | None = None
    """106 Skontosperre"""
    gesellschaftername: str | None = None
    """107 Gesellschaftername"""
    beteiligtennummer: int | None = None
    """108 Beteiligtennummer"""
    identifikationsnummer: str | None = None
    """109 Identifikationsnummer"""
    zeichnernummer: str | None = None
    """110 Zeichnernummer"""
    postensperre_bis: date | None = None
    """111 Postensperre bis"""
    bezeichnung_sobil_sachverhalt: str | None = None
    """112 Bezeichnung SoBil-Sachverhalt"""
    kennzeichen_sobil_buchung: int | None = None
    """113 Kennzeichen SoBil-Buchung"""
    festschreibung: bool | None = None
    """114 Festschreibung"""
    leistungsdatum: date | None = None
    """115 Leistungsdatum"""
    datum_zuord_steuerperiode: date | None = None
    """116 Datum Zuord. Steuerperiode"""
    faelligkeit: date | None = None
    """117 Fälligkeit"""
    generalumkehr: bool | None = None
    """118 Generalumkehr (GU)"""
    steuersatz: Decimal | None = None
    """119 Steuersatz"""
    land: str | None = None
    """120 Land"""
    abrechnungsreferenz: str | None = None
    """121 Abrechnungsreferenz"""
    bvv_position: int | None = None
    """122 BVV-Position"""
    eu_land_ustid_ursprung: str | None = None
    """123 EU-Land u. UStID (Ursprung)"""
    eu_steuersatz_ursprung: Decimal | None = None
    """124 EU-Steuersatz (Ursprung)"""
    abw_skontokonto: int | None = None
    """125 Abw. Skontokonto"""


@dataclass(frozen=True, slots=True)
class RenderedLine:
    """A booking line as text, rendered by the validating writer's compiled checks
    (:func:`~ml_connector.formats.extf.render.checked_line_renderer`), which accepted it
    for Sachkontenlänge ``account_digits - 1`` and no automatic accounts: a writer with
    the same rules appends the text without rendering or checking the line again.
    ``belegdatum`` places it in its period and fiscal year."""

    belegdatum: date
    text: str
    account_digits: int
    """The longest account number the checks allowed (Sachkontenlänge + 1)."""


@dataclass(slots=True, kw_only=True)
class BatchHeader:
    """The variable part of header line 1 (header version 700, category 21).

    The constant fields (``"EXTF";700;21;"Buchungsstapel";13``) and the fields
    that must stay empty are not modelled; the writer emits them.
    """

    beraternummer: int
    """11 Beraternummer (1001-9999999), consultant part of the DATEV client id"""
    mandantennummer: int
    """12 Mandantennummer (1-99999), client part of the DATEV client id"""
    wj_beginn: date
    """13 WJ-Beginn: first day of the fiscal year the batch belongs to"""
    sachkontenlaenge: int
    """14 Sachkontenlänge (4-8): digits of a general-ledger account at this client"""
    datum_vom: date
    """15 Datum vom: first day of the batch period"""
    datum_bis: date
    """16 Datum bis: last day of the batch period (same fiscal year)"""
    festschreibung: bool
    """21 Festschreibung: True locks the batch after import (decide with the tax advisor)"""
    skr: str
    """27 Sachkontenrahmen, e.g. ``"03"`` or ``"04"``"""
    erzeugt_am: datetime
    """6 Erzeugt am: creation time, written as 17 digits YYYYMMDDHHMMSSFFF"""
    bezeichnung: str = ""
    """17 Bezeichnung: batch label, at most 30 characters of ``[\\w.-/ ]``"""
    diktatkuerzel: str = ""
    """18 Diktatkürzel: upper-case initials (2 or 4 letters) or empty"""
    wkz: str = "EUR"
    """22 WKZ: currency of the batch"""
    herkunft: str = ""
    """8 Herkunft: 2-character origin code (DATEV replaces it with SV on import)"""
    exportiert_von: str = ""
    """9 Exportiert von: user name, at most 25 word characters"""
    buchungstyp: int = 1
    """19 Buchungstyp: 1 = Finanzbuchführung"""
    rechnungslegungszweck: int = 0
    """20 Rechnungslegungszweck: 0 = independent of the purpose"""
    branchenloesung_id: int | None = None
    """28 ID der Branchenlösung (normally empty)"""
    anwendungsinformation: str = ""
    """31 Anwendungsinformation: free text of the sending application, at most 16"""

    @property
    def client_id(self) -> str:
        """DATEV client id ``"<Beraternummer>-<Mandantennummer>"`` as the APIs spell it."""
        return f"{self.beraternummer}-{self.mandantennummer}"


#: attribute names of :class:`BookingLine` in column order (index 0 = column 1)
COLUMN_ATTRS: tuple[str, ...] = tuple(f.name for f in fields(BookingLine))

if len(COLUMN_ATTRS) != len(COLUMN_HEADINGS):  # pragma: no cover - guards the table
    raise RuntimeError("BookingLine and the column table disagree")

#: column heading (line 2 of DATEV's sample) -> BookingLine attribute
HEADING_TO_ATTR: Mapping[str, str] = MappingProxyType(
    dict(zip(COLUMN_HEADINGS, COLUMN_ATTRS, strict=True))
)
#: BookingLine attribute -> column heading
ATTR_TO_HEADING: Mapping[str, str] = MappingProxyType(
    dict(zip(COLUMN_ATTRS, COLUMN_HEADINGS, strict=True))
)

#: column ranges (0-based, end exclusive) fetched together; the first is always rendered
#: core columns 1-14; OPOS and Beleginfo 15-36; KOST1/2; the rarely used 39-113;
#: Festschreibung; Leistungsdatum and the tail 115-125
GROUPS: tuple[tuple[int, int], ...] = (
    (0, 14),
    (14, 36),
    (36, 38),
    (38, 113),
    (113, 114),
    (114, 125),
)


def _getter(attrs: tuple[str, ...]) -> Callable[[BookingLine], tuple[object, ...]]:
    """The values of ``attrs`` as a tuple (also for a single attribute)."""
    if len(attrs) == 1:
        single = operator.attrgetter(attrs[0])
        return lambda line: (single(line),)
    return operator.attrgetter(*attrs)


_SPANS = tuple(
    (COLUMN_ATTRS[start:end], _getter(COLUMN_ATTRS[start:end]), (None,) * (end - start))
    for start, end in GROUPS
)


def filled_columns(line: BookingLine) -> list[tuple[str, object]]:
    """``(attribute, value)`` of the set columns of ``line`` in column order (a group
    of unset columns, most of the 125, is skipped whole)."""
    out: list[tuple[str, object]] = []
    for attrs, values_of, empty in _SPANS:
        values = values_of(line)
        if values != empty:
            out += [(a, v) for a, v in zip(attrs, values, strict=True) if v is not None]
    return out


def line_to_json(line: BookingLine) -> dict[str, object]:
    """The filled columns of ``line`` as JSON values (Decimal as text, dates ISO), in
    column order: what row traces, spills and posted records hold, and what the content
    digest is computed from."""
    return columns_to_json(filled_columns(line))


def columns_to_json(columns: Iterable[tuple[str, object]]) -> dict[str, object]:
    """``(attribute, value)`` pairs as :func:`line_to_json` gives them (``None`` left out)."""
    return {attr: to_jsonable(value) for attr, value in columns if value is not None}
