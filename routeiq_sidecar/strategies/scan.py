"""The ``k`` stored rows most similar (cosine) to each query, at a quarter of the memory traffic.

A scan of every stored row in float32 reads the whole matrix per query (3,000 x 256 float32 = 3
MB for the default `difficulty` heads since 2026-12-05; 11,170 rows, 11.4 MB, before): memory-
bound. Here the rows are also kept as int8 (a scale per row, set at load time, nothing new in
the bundle): one onnxruntime call quantises each query, ranks every row approximately with an
integer matrix product (``MatMulInteger``, 0.61 MB read for the 2,378 distinct rows, then each
row's scale) and keeps the ``candidates`` best (``TopK``, unsorted); numpy scores them again in
float32 from the stored rows and keeps the ``k`` best, with their float32 similarities. So the
similarities are the float32 ones a full scan computes (to float rounding); the neighbours
differ from a full scan's only when a true neighbour falls outside the int8 ranking's
``candidates`` best: on 2,000 prompts of a file the default heads were not trained on, never
(both encoders; the kNN estimates within 1e-5), ``bench/engine_path.py --agreement FILE``;
``tests/unit/strategies/test_scan.py`` checks the agreement on harder, synthetic queries.
History (docs/benchmarks.md has the A/Bs): the whole search was once one graph ("One graph for
the kNN search": a sorted ``TopK`` of 128 over 8,744 rows, a ``Gather``/``MatMul`` re-score and
a second ``TopK``), then the shortlist moved to numpy's ``argpartition`` ("The shortlist in
numpy"), which cost less then; with 64 candidates of 2,378 rows an unsorted ``TopK`` costs less
than ``argpartition`` at every batch size, and the query's quantisation in the graph saves
numpy's five calls ("Fewer calls around the kNN", 2026-12-06).

Each query's search is its own slice of every step, so its answer is the same bits whatever
else was in the batch (engine/coalesce.py batches decisions). Identical rows (the training set
repeats some prompts, with different targets: 11,170 rows, 8,744 distinct in the former default
static head) are scanned once; equal similarities go to the lower row index, also where they decide
which rows make the ``k``.

With no more rows than ``candidates`` (or ``exact=True``) every row is scored in float32.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from routeiq_sidecar.strategies import onnx_wire as wire

CANDIDATES = 64  # rows re-scored in float32 per query (docs/benchmarks.md: 128 before 2026-12-05)
QUERY_CHUNK = 64  # queries per batch (bounds the (queries, candidates, dim) gather)
ROW_BLOCK = 1024  # stored rows per float32 product: OpenBLAS goes multi-threaded above ~2k
# rows, which on a busy 2-core host turned a 5 ms scan of 11k prompts into 15-75 ms
# Queries go to uint8 around ZERO_POINT with 7 bits of range (0..127 after the shift): the
# u8 x s8 kernels of AVX2 without VNNI sum pairs of products into int16 with saturation
# (vpmaddubsw), so a full-range query (up to 255 x 127 x 2) came out wrong on such CPUs; with
# queries below 128 a pair is at most 2 x 127 x 127 = 32,258, exact on every kernel.
ZERO_POINT = 64
QUERY_LEVELS = 63.0
OPSET, IR_VERSION = 18, 8  # 18: ReduceMax takes its axes as an input


def _shortlist_model(rows_q: np.ndarray, scale: np.ndarray, candidates: int, *,
                     with_approx: bool = False) -> bytes:
    """``q (b, dim) float32 -> short (b, candidates) int64``: each query quantised over its own
    peak to 63 levels around ``ZERO_POINT`` (the float32 steps numpy took before; tests/unit/
    strategies/test_scan.py checks them to the bit), every row's int8 similarity to it
    (``approx``: the integer product times the row's scale; the query's own scale ranks
    nothing), and the ``candidates`` rows of highest ``approx``, in no order (``TopK``; equal
    values: the lower row)."""
    dim, n = rows_q.shape[1], rows_q.shape[0]
    outputs = [wire.value_info("short", wire.INT64, ["b", candidates])]
    if with_approx:  # tests/unit/strategies/test_scan.py reads the ranking itself
        outputs.append(wire.value_info("approx", wire.FLOAT, ["b", n]))
    nodes = [
        wire.node("Abs", ["q"], ["q_abs"]),
        wire.node("ReduceMax", ["q_abs", "last_axis"], ["peak"], {"keepdims": 1}),  # (b, 1)
        wire.node("Greater", ["peak", "f_zero"], ["has_peak"]),
        wire.node("Where", ["has_peak", "peak", "f_one"], ["divisor"]),
        wire.node("Div", ["levels", "divisor"], ["per_unit"]),
        wire.node("Mul", ["q", "per_unit"], ["q_scaled"]),
        wire.node("Round", ["q_scaled"], ["q_round"]),  # half to even, as np.rint
        wire.node("Add", ["q_round", "f_zero_point"], ["q_shift"]),  # 1..127
        wire.node("Cast", ["q_shift"], ["q8"], {"to": wire.UINT8}),
        wire.node("MatMulInteger", ["q8", "rows_q", "zero"], ["dot"]),  # (b, n) int32
        wire.node("Cast", ["dot"], ["dot_f"], {"to": wire.FLOAT}),
        wire.node("Mul", ["dot_f", "scale"], ["approx"]),
        wire.node("TopK", ["approx", "candidates"], ["_approx_top", "short"], {"sorted": 0}),
    ]
    return wire.model(
        nodes,
        [wire.value_info("q", wire.FLOAT, ["b", dim])],
        outputs,
        [wire.tensor("rows_q", np.ascontiguousarray(rows_q.T)),
         wire.tensor("zero", np.asarray(ZERO_POINT, np.uint8)),
         wire.tensor("scale", np.asarray(scale, np.float32)),
         wire.tensor("last_axis", np.asarray([1], np.int64)),
         wire.tensor("f_zero", np.asarray(0.0, np.float32)),
         wire.tensor("f_one", np.asarray(1.0, np.float32)),
         wire.tensor("levels", np.asarray(QUERY_LEVELS, np.float32)),
         wire.tensor("f_zero_point", np.asarray(ZERO_POINT, np.float32)),
         wire.tensor("candidates", np.asarray([candidates], np.int64))],
        opset=OPSET, ir_version=IR_VERSION, name="neighbour_shortlist")


def _session(model: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def _per_row_scale(x: np.ndarray, levels: float = 127.0) -> np.ndarray:
    peak = np.abs(x).max(axis=1)
    return np.where(peak > 0, peak / levels, 1.0).astype(np.float32)


class NeighbourScan:
    def __init__(self, rows: np.ndarray, *, candidates: int = CANDIDATES,
                 exact: bool = False) -> None:
        self.rows = np.ascontiguousarray(rows, np.float32)
        self.candidates = int(candidates)
        # identical rows are scanned once: a group per distinct row, in order of first appearance
        uniq, first, inverse = np.unique(self.rows, axis=0, return_index=True,
                                         return_inverse=True)
        order = np.argsort(first)
        self._distinct = np.ascontiguousarray(uniq[order])
        renumber = np.empty(len(order), np.int64)
        renumber[order] = np.arange(len(order))
        group = renumber[np.ravel(inverse)]
        self._members = np.argsort(group, kind="stable")  # row indices, grouped, ascending
        self._counts = np.bincount(group, minlength=len(order))
        self._starts = np.concatenate([[0], np.cumsum(self._counts)[:-1]])
        d = self._distinct
        self._blocks = [d[i : i + ROW_BLOCK] for i in range(0, len(d), ROW_BLOCK)]
        self._session: ort.InferenceSession | None = None
        if not exact and len(d) > self.candidates:
            scale = _per_row_scale(d)
            self._session = _session(_shortlist_model(
                np.rint(d / scale[:, None]).astype(np.int8), scale, self.candidates))

    @property
    def exact(self) -> bool:
        return self._session is None

    def top(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(b, k)`` row indices, most similar first (ties: the lower index), and their
        float32 similarities."""
        q = np.ascontiguousarray(queries, np.float32)
        k = max(1, min(int(k), len(self.rows)))
        if len(q) <= QUERY_CHUNK:  # a decision's batch: no copies into the outputs below
            return self._expand(*self._chunk(q, k), k)
        idx = np.empty((len(q), k), np.int64)
        sims = np.empty((len(q), k), np.float32)
        for i in range(0, len(q), QUERY_CHUNK):
            part = q[i : i + QUERY_CHUNK]
            idx[i : i + len(part)], sims[i : i + len(part)] = self._expand(
                *self._chunk(part, k), k)
        return idx, sims

    def _chunk(self, part: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(b, k)`` distinct-row groups of a chunk of queries and their similarities."""
        if self._session is None or k > self.candidates:
            groups = np.broadcast_to(np.arange(len(self._distinct)),
                                     (len(part), len(self._distinct)))
            s = np.concatenate([blk @ part.T for blk in self._blocks]).T
            best = np.lexsort((groups, -s), axis=1)[:, :k]  # groups number in row order
            return np.take_along_axis(groups, best, axis=1), np.take_along_axis(s, best, axis=1)
        # one onnxruntime call and a few numpy steps for the chunk; each query its own slice
        return self._search(part, k)

    def _expand(self, groups: np.ndarray, s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows of the ``k`` best groups: each group's first ``k`` members."""
        counts = self._counts[groups]
        if counts.max() == 1:  # no repeated row among them (most queries)
            return self._members[self._starts[groups]], s
        slot = np.arange(k)
        have = slot < counts[..., None]  # (b, k groups, k members)
        pos = np.minimum(self._starts[groups][..., None] + slot, len(self.rows) - 1)
        rows = np.where(have, self._members[pos], len(self.rows)).reshape(len(groups), -1)
        sims = np.where(have, s[..., None], -np.inf).reshape(len(groups), -1)
        pick = np.lexsort((rows, -sims), axis=1)[:, :k]
        return (np.take_along_axis(rows, pick, axis=1),
                np.take_along_axis(sims, pick, axis=1).astype(np.float32))

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(b, k)`` distinct-row groups, most similar first (ties: the lower group), and
        their float32 similarities."""
        assert self._session is not None
        short = self._session.run(None, {"q": q})[0]  # (b, c), in no order
        b, c = short.shape
        sims = np.matmul(self._distinct[short], q[:, :, None]).reshape(b, c)  # float32
        best = np.lexsort((short, -sims), axis=1)[:, :k]  # ties: the lower group
        if b == 1:  # the same elements as the indexing below, without its index arrays
            return short[0][best], sims[0][best]
        at = np.arange(b)[:, None]
        return short[at, best], sims[at, best]
