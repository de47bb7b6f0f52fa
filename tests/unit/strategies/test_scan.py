"""The int8 neighbour scan returns a float32 full scan's neighbours and similarities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from routeiq_sidecar.strategies import onnx_wire as wire
from routeiq_sidecar.strategies import scan as scan_module
from routeiq_sidecar.strategies.difficulty import DifficultyHead
from routeiq_sidecar.strategies.scan import CANDIDATES, NeighbourScan

SHIPPED = Path(__file__).resolve().parents[3] / "routeiq_sidecar" / "heads" / "default_router"


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), np.float32)


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Rows around 50 topics, so near neighbours are close and the rest are not."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(0, 1, (50, dim))
    return _unit(topics[rng.integers(0, 50, n)] + rng.normal(0, 0.6, (n, dim)))


def _near(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _unit(rows[rng.integers(0, len(rows), n)] + rng.normal(0, 0.05, (n, rows.shape[1])))


def _quantise(q: np.ndarray) -> np.ndarray:
    """The queries' quantisation in numpy, as the scan did it before its graph did (the
    reference the graph must match to the bit): each query over its own peak, 63 levels around
    ``ZERO_POINT``."""
    peak = np.abs(q).max(axis=1, keepdims=True)
    q8 = np.rint(q * (scan_module.QUERY_LEVELS / np.where(peak > 0, peak, 1.0)))
    q8 += scan_module.ZERO_POINT  # 1..127
    return q8.astype(np.uint8)


def _sorted_sims(scan: NeighbourScan, q: np.ndarray, k: int) -> np.ndarray:
    idx, sims = scan.top(q, k)
    # the similarities belong to the returned rows
    np.testing.assert_allclose(sims, np.einsum("bkd,bd->bk", scan.rows[idx], q), atol=1e-5)
    return -np.sort(-sims, axis=1)


def test_int8_scan_finds_the_full_scans_neighbours() -> None:
    rows = _clustered(5000, 64, 0)
    q = _near(rows, 300, 1)
    fast, full = NeighbourScan(rows), NeighbourScan(rows, exact=True)
    assert not fast.exact and full.exact
    a, b = _sorted_sims(fast, q, 10), _sorted_sims(full, q, 10)
    same = np.all(np.abs(a - b) < 1e-5, axis=1)
    assert same.mean() >= 0.99, same.mean()
    np.testing.assert_array_equal(np.sort(full.top(q[:5], 10)[0], axis=1),
                                  np.sort(np.argsort(-(q[:5] @ rows.T), axis=1)[:, :10], axis=1))


def test_one_query_at_a_time_equals_the_batch() -> None:
    rows = _clustered(3000, 32, 2)
    q = _near(rows, 130, 3)  # more than one query chunk
    scan = NeighbourScan(rows)
    idx, sims = scan.top(q, 7)
    for i in (0, 5, 64, 129):  # the same bits, whatever else was in the batch
        one_idx, one_sims = scan.top(q[i : i + 1], 7)
        np.testing.assert_array_equal(one_idx[0], idx[i])
        np.testing.assert_array_equal(one_sims[0], sims[i])
        few_idx, few_sims = scan.top(q[[i, 3, 7]], 7)
        np.testing.assert_array_equal(few_idx[0], idx[i])
        np.testing.assert_array_equal(few_sims[0], sims[i])


def test_few_rows_or_large_k_scan_every_row() -> None:
    rows = _clustered(CANDIDATES, 16, 4)
    assert NeighbourScan(rows).exact  # no more rows than candidates
    scan = NeighbourScan(_clustered(400, 16, 5), candidates=20)
    q = _near(scan.rows, 10, 6)
    idx, _ = scan.top(q, 30)  # k above the shortlist: every row scored
    want = np.argsort(-(q @ scan.rows.T), axis=1)[:, :30]
    np.testing.assert_array_equal(np.sort(idx, axis=1), np.sort(want, axis=1))
    assert scan.top(q, 1000)[0].shape == (10, 400)


def test_zero_query_is_answered() -> None:
    scan = NeighbourScan(_clustered(500, 16, 7))
    idx, sims = scan.top(np.zeros((1, 16), np.float32), 5)
    assert idx.shape == (1, 5) and np.all(sims == 0)


def test_shipped_difficulty_heads_agree_with_a_full_scan() -> None:
    """The default bundle's heads, queried near their own rows (isotropic noise, harder than
    real prompts: 1 in 1,000 held-out prompts differs there, see strategies/scan.py)."""
    for name, share in (("difficulty.npz", 0.99), ("static.difficulty.npz", 0.93)):
        head = DifficultyHead.load(SHIPPED / name)
        q = _near(head.embeddings, 1000, 8)
        a = _sorted_sims(head.scan, q, head.k)
        b = _sorted_sims(NeighbourScan(head.embeddings, exact=True), q, head.k)
        same = np.all(np.abs(a - b) < 1e-5, axis=1)
        assert same.mean() >= share, (name, same.mean())
        assert np.all(a <= b + 1e-5)  # a miss is always a less similar row, never a new one


def test_the_int8_product_is_exact_at_the_extremes_of_its_range() -> None:
    """The scan's integer product on this CPU: rows at +-127 and queries at both ends of their
    7-bit range, where a saturating u8 x s8 kernel (AVX2 without VNNI) would be wrong."""
    rng = np.random.default_rng(4)
    rows = rng.choice(np.asarray([-127, 127], np.int8), (200, 64))
    # the search graph's first node alone, on the rows the scan would store
    session = ort.InferenceSession(wire.model(
        [wire.node("MatMulInteger", ["q", "rows", "zero"], ["dot"])],
        [wire.value_info("q", wire.UINT8, ["b", 64])],
        [wire.value_info("dot", wire.INT32, ["b", 200])],
        [wire.tensor("rows", np.ascontiguousarray(rows.T)),
         wire.tensor("zero", np.asarray(scan_module.ZERO_POINT, np.uint8))],
        opset=scan_module.OPSET, ir_version=scan_module.IR_VERSION, name="int8_scan"),
        providers=["CPUExecutionProvider"])
    q = np.where(rng.random((5, 64)) < 0.5, 1, 127).astype(np.uint8)
    q[0], q[1] = 127, 1
    want = (q.astype(np.int64) - scan_module.ZERO_POINT) @ rows.T.astype(np.int64)
    np.testing.assert_array_equal(session.run(None, {"q": q})[0], want)
    # the queries the scan makes stay in that range
    peak = NeighbourScan(_clustered(300, 64, 5))
    unit = _clustered(20, 64, 6)
    q8 = _quantise(unit)
    assert q8.min() >= 1 and q8.max() <= 127 and not peak.exact


def test_the_graph_quantises_queries_as_numpy_does_to_the_bit() -> None:
    """The shortlist graph quantises each query itself (Abs, ReduceMax, Div, Mul, Round, Add,
    Cast); its ranking equals numpy's quantisation (``_quantise``) times the rows, to the bit,
    for any batch: random queries, a zero query, values that land on .5 before rounding, tiny
    values; and its shortlist is the ``candidates`` best of that ranking, equal values going to
    the lower row."""
    rng = np.random.default_rng(11)
    rows = _clustered(500, 48, 12)
    scan = NeighbourScan(rows, candidates=20)
    assert scan._session is not None
    q = np.concatenate([
        _unit(rng.normal(0, 1, (60, 48))),
        np.zeros((1, 48), np.float32),
        # peak 63: every value x lands on x exactly, so the halves test round-half-to-even
        np.asarray([np.r_[63.0, np.arange(-23.5, 23.0, 1.0)]], np.float32),
        rng.normal(0, 1e-30, (2, 48)).astype(np.float32),
    ]).astype(np.float32)
    d = scan._distinct
    scale = scan_module._per_row_scale(d)
    rows_q = np.rint(d / scale[:, None]).astype(np.int8)
    dot = (_quantise(q).astype(np.int64) - scan_module.ZERO_POINT) @ rows_q.T.astype(
        np.int64)
    want = dot.astype(np.float32) * scale
    session = ort.InferenceSession(scan_module._shortlist_model(rows_q, scale, 20,
                                                                with_approx=True),
                                   providers=["CPUExecutionProvider"])
    short, approx = session.run(None, {"q": q})
    np.testing.assert_array_equal(approx, want)
    order = np.lexsort((np.broadcast_to(np.arange(len(d)), want.shape), -want), axis=1)
    np.testing.assert_array_equal(np.sort(short, axis=1), np.sort(order[:, :20], axis=1))
    np.testing.assert_array_equal(np.sort(scan._session.run(None, {"q": q})[0], axis=1),
                                  np.sort(short, axis=1))  # the scan's own graph
    for i in (0, 60, 61, 62):  # one at a time: the same bits
        one_short, one_approx = session.run(None, {"q": q[i : i + 1]})
        np.testing.assert_array_equal(one_approx, want[i : i + 1])
        np.testing.assert_array_equal(one_short, short[i : i + 1])


def test_equal_similarities_go_to_the_lower_row_whatever_the_int8_ranking() -> None:
    """Rows 0 and 1 have the same float32 similarity to the query, but row 1's int8 copy ranks
    it first; the answer still lists row 0 first, as a full scan does."""
    rng = np.random.default_rng(9)
    rest = np.zeros((300, 16), np.float32)
    rest[:, 3:] = _unit(rng.normal(0, 1, (300, 13)))  # similarity 0 to the query
    rows = np.concatenate([np.asarray([[0.6, 0.8, 0.0], [0.6, 0.48, 0.64]], np.float32)
                           @ np.eye(3, 16, dtype=np.float32), rest])
    scan = NeighbourScan(rows)
    assert not scan.exact
    q = np.eye(1, 16, dtype=np.float32)
    idx, sims = scan.top(q, 2)
    np.testing.assert_array_equal(idx, [[0, 1]])
    assert sims[0, 0] == sims[0, 1]
    np.testing.assert_array_equal(idx, NeighbourScan(rows, exact=True).top(q, 2)[0])
