"""Talking HTTP: one client policy for the listing (aiohttp) and the download threads.

``policy`` (pure: the redirect step, where the token may go, what a status means, which failures
are transient, the proxies mapping), ``client`` (the aiohttp session for API and small files,
and the proxy each URL takes), ``threads`` (archive bodies in worker threads: socket read, sha256
and write off the event loop), ``download`` (one asset into staging, verified), ``retry`` (the
bounded retry loop and its waits), ``ratelimit`` (the shared cap). Both stacks follow ``policy``
and raise its exceptions.

Contract: may import the core and the configuration records; never ``targets``, ``upstream``,
``publish``, ``commands`` or ``cli``.
"""
