"""The REST transport's JSON answers, printed by orjson.

Starlette's ``JSONResponse`` prints with the standard library (``json.dumps``, compact, UTF-8);
orjson prints the same bytes in C, which took about 27 us of CPU off each REST call in process
(bench/rest_path.py; docs/benchmarks.md, "JSON answers from orjson"). What the answers
hold is built by api/convert.py and api/rest.py: strings, integers, finite floats (non-finite
ones are already proto JSON's ``"NaN"``/``"Infinity"`` strings), booleans, lists and dicts with
string keys. The two printers agree on every such value except the spelling of exponents
(``1e-05`` against ``1e-5``), which every JSON parser reads as the same number.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONAnswer(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
