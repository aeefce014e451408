"""Process start-up trims for the grader's own processes (the CLI, the worker server, benchmarks).

jsonschema, which nbformat uses to validate notebooks, imports ``rfc3987_syntax`` when it is
installed (jupyter-events pulls it in) to check the "iri" string format. Building that module's
grammar is slow (the largest single cost of a bare start), in every process that imports nbformat, and no
notebook schema uses the format. Importing this module first makes that optional import fail fast,
so jsonschema simply skips the "iri" checker. It is never imported into student kernels.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
