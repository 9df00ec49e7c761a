"""Where releases come from: the ``ReleaseSource`` seam (``source``) and its implementations.

``github`` lists releases through the GitHub REST API (``DownloadBase``: the archives from
another base); ``mirror`` reads another mirrorsync mirror's ``index.json``; ``astral`` reads
Astral's NDJSON release index; ``open`` picks the one the configuration names; ``cache`` keeps
the conditional-request state. A source turns wire documents into the core's records at once
(dicts stop here).

Contract: may import the core, the configuration, ``net`` and the target file helpers; never
``publish``, ``commands`` or ``cli``.
"""
