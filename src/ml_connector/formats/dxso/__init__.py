"""DATEV XML-Schnittstelle online (DXSO v6.0): ledger entries, ledger XML, document.xml."""
