"""Talking HTTP: one client policy for the listing (aiohttp) and the download threads.

``client`` (the aiohttp session for API and small files), ``threads`` (archive bodies in worker
threads: socket read, sha256 and write off the event loop), ``download`` (one asset into staging,
verified), ``retry`` (what is transient and how long to wait), ``ratelimit`` (the shared cap).

Contract: may import the core and the configuration records; never ``targets``, ``upstream``,
``publish``, ``commands`` or ``cli``.
"""
