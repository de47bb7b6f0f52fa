"""The REST transport's JSON answers, printed by orjson.

Starlette's ``JSONResponse`` prints with the standard library (``json.dumps``, compact, UTF-8):
about 20 us for a decision of three candidates on this project's 2-core host, where orjson takes
1.4 us with the same bytes (docs/benchmarks.md, "JSON answers from orjson"). What the answers
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
