"""Where a mirror is published: the ``Target`` seam and its implementations.

``local`` (a directory: a web root, a USB stick), ``s3`` (a bucket), ``lock`` (the directory
lock). Every path from upstream is checked against the layout before it reaches a target.

Contract: may import the core and the configuration; never ``net``, ``upstream``, ``publish``,
``commands`` or ``cli``.
"""
