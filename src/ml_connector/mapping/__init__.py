"""Pure mapping from Looker rows to DATEV booking lines, with validation and tie-out."""
