"""The sync: the real run steps (Looker -> mapping -> EXTF files -> DATEV) for the engine.

- :mod:`.steps`: :class:`LiveRunSteps`, the engine's ``RunSteps`` against Looker and DATEV;
- :mod:`.connect`: settings and the clients built from configuration and stores;
- :mod:`.records`: row records and posted state (pure);
- :mod:`.names`: deterministic ``Reference-Id`` per file (pure);
- :mod:`.ping`: the checks behind ``ml-connector ping``;
- :mod:`.launch`: the engine wired to :class:`LiveRunSteps` (``run``, ``worker``, ``replay``).

Import from the modules themselves: the package imports none of them, so the pure ones
(:mod:`.records`, :mod:`.names`) come without the clients and stores.
"""
