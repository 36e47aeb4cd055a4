"""Pure mapping from Looker rows to DATEV booking lines, with validation and tie-out.

Modules: ``expressions`` (safe expression language), ``lookups``, ``text`` (templates
and text rules), ``spec`` (compiled mappings), ``mapper`` (row -> lines or rejection),
``tieout``, ``restatement``, ``stream`` (:class:`~ml_connector.mapping.stream.RunStream`:
one run of any size, memory flat in the rows; the only run path), ``scratch`` (its disk
index and spill files), ``check`` (plausibility for ``mapping check``), ``rows`` (JSON
Lines rows files). Only ``fetch`` (Looker) and ``stream``/``scratch`` (the run's working
directory, files and reports) do I/O.
"""
