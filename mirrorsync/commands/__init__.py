"""The commands, each wiring the layers below: ``sync`` (and ``plan``), ``verify`` and ``repair``
(written once over the ``Target`` seam), ``serve``.

``sync`` wires a run of three parts: ``planner`` (listing to ``Plan``), ``applier`` (fetch,
publish, indexes, prune, client files) and ``records`` (status.json, history.jsonl, diff file).

``memory`` fixes glibc's mmap threshold when a run starts (large transient buffers are given
back). ``documents`` renders what they print (``--json`` documents and summary lines, pure).

Contract: may import every package but ``cli``; only ``cli`` parses arguments, reads the
environment, configures logging or prints.
"""
