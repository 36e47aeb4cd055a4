"""Pure mapping from Looker rows to DATEV booking lines, with validation and tie-out.

Modules: ``expressions`` (safe expression language), ``lookups``, ``text`` (templates
and text rules), ``spec`` (compiled mappings), ``mapper`` (row -> lines or rejection),
``tieout``, ``restatement``, ``pipeline`` (:func:`~ml_connector.mapping.pipeline.prepare_run`),
``check`` (plausibility for ``mapping check``), ``rows`` (JSON Lines rows files).
Only ``fetch`` (Looker) and ``report`` (writing run files) do I/O.
"""
