"""DATEV EXTF Buchungsstapel (header 700, category 21, Formatversion 13)."""
