"""The configuration: frozen records (``records``, pure), their checks (``schema``), and finding
and reading ``mirror.yaml`` (``load``).

Contract: ``records`` imports nothing but the standard library; ``schema`` checks a loaded object
with the core's parsers; ``load`` reads the file and its YAML. Only ``mirrorsync.cli`` reads the
environment; everything else gets a ``Config``.
"""
