"""ml-connector: Looker general-ledger data into DATEV bookings, one way."""

__version__ = "0.1.0"
