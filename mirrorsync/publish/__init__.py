"""What a mirror publishes for its clients besides the archives.

``pages`` (the HTML pages, pure), ``scripts`` (``use-mirror.sh`` and friends, pure),
``client_files`` (writes them and uv's download list through a target).

Contract: may import the core, the configuration and ``targets``; never ``net``, ``upstream``,
``commands`` or ``cli``.
"""
