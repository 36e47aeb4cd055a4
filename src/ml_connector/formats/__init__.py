"""File formats DATEV imports: EXTF (Buchungsstapel) and DXSO (pure, files only)."""
