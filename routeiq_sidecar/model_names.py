"""What a model's name says about its size, for a candidate sent without a price.

A candidate with neither price nor ``quality_prior`` used to be priced at
``types.UNKNOWN_PRICE_PER_MTOK`` whatever its name, so two unpriced candidates (``gpt-4o`` and
``gpt-4o-mini``, ``Llama-3-70B`` and ``Llama-3-8B``) got the same prior and the same cost term:
every prompt went to the first of them. Names usually say which is the smaller sibling; this
module reads that, and nothing else:

- **Parameter count**: ``70b``, ``8B``, ``1.5b``, ``8x7b`` (a mixture of experts: counted as
  0.6 of its experts' total), the largest one named (``Qwen3-30B-A3B`` -> 30: ``a3b`` is the
  active count, not a size). Price estimate ``0.03 * billions ** 0.8`` $/Mtok (7B $0.14, 70B
  $0.90, 405B $3.7): roughly what hosted open models cost per blended million tokens.
- **Tier words**, as whole parts of the name: a small sibling (``mini``, ``nano``, ``tiny``,
  ``small``, ``lite``, ``flash``, ``haiku``, ``instant``, and ``gpt-3.5``) -> $0.40; a top
  sibling (``opus``, ``ultra``) -> $30. A size, when named, wins over a tier word.
- Anything else says nothing: the caller's price, ``quality_prior`` or the unknown price stand.
- ``family``: the name without provider and size, so a head that learned one sibling can place
  another (strategies/difficulty.py); ``lineage``: the family without minor version numbers
  (``llama-3.3-instruct`` -> ``llama-3-instruct``), for a sibling from another minor release
  when the family itself has no known member.

The estimate feeds the capability prior and the cost term exactly as a sent price would
(strategies/priors.py, engine/decide.py), so an unpriced small sibling gets the easy prompts
and its big sibling the hard ones. It is never a price: ``estimated_cost`` stays -1 (unknown),
``max_cost_per_mtok`` still refuses an unpriced candidate, profile ``free`` never admits one,
and the engine still warns and counts it.
"""

from __future__ import annotations

import functools
import re

MOE_SHARE = 0.6  # of a mixture of experts' total parameters, as its size
PRICE_PER_BILLION = 0.03  # $/Mtok at 1B parameters
PRICE_EXPONENT = 0.8
SMALL_TIER_PRICE, TOP_TIER_PRICE = 0.40, 30.0
MIN_PRICE, MAX_PRICE = 0.02, 30.0
SMALL_WORDS = frozenset({"mini", "nano", "tiny", "small", "lite", "flash", "haiku", "instant"})
TOP_WORDS = frozenset({"opus", "ultra"})
MAX_NAME = 256  # longer names are not read (a name is a few dozen characters)

_SIZE = re.compile(r"(?<![a-z0-9.])(?:(\d{1,3})x)?(\d{1,4}(?:\.\d{1,2})?)b(?![a-z0-9])")
_PARTS = re.compile(r"[a-z]+")


def size_billions(name: str) -> float | None:
    """The largest parameter count the name states, in billions, or None."""
    sizes = []
    for experts, each in _SIZE.findall(name.lower()[:MAX_NAME]):
        b = float(each) * (int(experts) * MOE_SHARE if experts else 1.0)
        if b > 0:
            sizes.append(b)
    return max(sizes) if sizes else None


def tier(name: str) -> str | None:
    """``"small"`` or ``"top"`` when a tier word is part of the name, else None."""
    low = name.lower()[:MAX_NAME]
    words = set(_PARTS.findall(low))
    if words & SMALL_WORDS or "gpt-3.5" in low:
        return "small"
    if words & TOP_WORDS:
        return "top"
    return None


def last_segment(name: str) -> str:
    """The name without its provider prefix, lower-case (``openai/gpt-4o`` -> ``gpt-4o``)."""
    return name.rsplit("/", 1)[-1].strip().lower()


def family(name: str) -> str | None:
    """The name without its provider prefix and size (``Qwen/Qwen2.5-72B-Instruct`` ->
    ``qwen2.5-instruct``): siblings of one family share it. None when no size is stated."""
    last = last_segment(name[:MAX_NAME])
    if size_billions(last) is None:
        return None
    rest = _SIZE.sub("", last)
    return re.sub(r"[-_.: ]{2,}", "-", rest).strip("-_.: ") or None


_MINOR = re.compile(r"(\d+)\.\d+")


def lineage(fam: str) -> str:
    """A ``family`` without its minor version numbers (``llama-3.3-instruct`` and
    ``llama-3.1-instruct`` -> ``llama-3-instruct``; ``qwen2.5-instruct`` -> ``qwen2-instruct``):
    releases of one generation share it; major versions (``gemma-2`` / ``gemma-3``) do not."""
    return _MINOR.sub(r"\1", fam)


@functools.lru_cache(maxsize=4096)
def name_price_per_mtok(name: str) -> float | None:
    """Blended $/Mtok the name suggests (see the module docstring), or None."""
    size = size_billions(name)
    if size is not None:
        est: float = PRICE_PER_BILLION * size**PRICE_EXPONENT
        return min(MAX_PRICE, max(MIN_PRICE, est))
    t = tier(name)
    if t == "small":
        return SMALL_TIER_PRICE
    if t == "top":
        return TOP_TIER_PRICE
    return None
