"""The functional core: what a mirror is and every decision about it, with no I/O.

Records (``model``), the mirror's layout (``layout``), asset-name grammar (``names``), checksum
lists (``checksums``), release files (``releases``), selection (``selection``), the plan and its
prune guard (``plan``), the manifest (``manifest``), uv's download lists (``uvlist``), how a
file is served (``media``: content type and cache class), units.

Contract (checked by ``tests/test_architecture.py``): modules here import only the standard
library's pure parts, ``packaging``, ``mirrorsync.errors``, ``mirrorsync.config.records`` and each
other. No files, sockets, clocks, logging or event loop: time and inputs come in as arguments.
"""
