"""Where a mirror is published: the ``Target`` seam and its implementations.

``base`` (the protocol: the write side a sync uses, the read side verify and repair use, the
capabilities a target may lack: links, file modes), ``local`` (a directory: a web root, a USB
stick), ``s3`` (a bucket), ``lock`` (the directory lock), ``files`` (atomic writes, fsyncs, the
staging area), ``open`` (the only place that knows which kinds there are: it opens the one a
config or a root names). Every path is checked against the layout before it reaches a target;
``tests/targets/test_contract.py`` runs one contract against every kind.

Contract: may import the core and the configuration; never ``net``, ``upstream``, ``publish``,
``commands`` or ``cli``.
"""
