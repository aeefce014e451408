"""The data-only channel between the trusted grader and the student's kernel in its container.

``wire``, ``calls`` (a watched call: warnings, changed arguments), ``errors`` (student exceptions
by name) and ``kernel`` run inside the container; ``calls`` and ``errors`` also serve the
notebook's ``check()``; ``session`` is the trusted end. Importing this package imports nothing
else, so the container needs only this folder.
"""
