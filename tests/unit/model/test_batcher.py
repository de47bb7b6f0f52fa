"""Dynamic micro-batching over the real (tiny-random) onnxruntime encoder."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routeiq_sidecar.bundle.build import build_bundle
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.model.batcher import Batcher, Embedded, length_groups
from routeiq_sidecar.model.encoder import Encoder

POISON = "poison pill: this batch must fail"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> LoadedBundle:
    path = tmp_path_factory.mktemp("batcher") / "tiny"
    build_bundle(path, encoder="tiny-random", name="batcher-test")
    return load_bundle(path)


@pytest.fixture(scope="module")
def encoder(bundle: LoadedBundle) -> Encoder:
    return bundle.encoder


class PoisonEncoder(Encoder):
    """The real encoder, except that any batch holding the POISON text raises."""

    def __init__(self, base: LoadedBundle) -> None:
        enc = base.manifest["encoder"]
        super().__init__(base.path / enc["encoder"], base.encoder.tokenizer, 1)
        ids, _ = self.tokenizer.encode([POISON])
        self.poison = ids[0]
        self.failures = 0

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        n = len(self.poison)
        if ids.shape[1] >= n and any(np.array_equal(row[:n], self.poison) for row in ids):
            self.failures += 1
            raise RuntimeError("encoder exploded on the poison batch")
        return super().run(ids, mask)


def texts(n: int) -> list[str]:
    """Prompts of varied lengths (several length groups per batch)."""
    return [f"prompt {i}: " + "several words of filler text " * (i % 23) for i in range(n)]


def direct(encoder: Encoder, text: str) -> np.ndarray:
    return encoder.encode([text]).vectors[0]


async def test_single_embed_matches_direct_encode(encoder: Encoder) -> None:
    b = Batcher(encoder, max_batch=8, wait_us=0)
    try:
        e = await b.embed("What is the capital of France?")
    finally:
        await b.stop()
    assert isinstance(e, Embedded)
    assert e.batch_size == 1
    assert e.vector.shape == (encoder.dim,)
    np.testing.assert_allclose(
        e.vector, direct(encoder, "What is the capital of France?"), atol=1e-5
    )
    assert np.linalg.norm(e.vector) == pytest.approx(1.0, abs=1e-4)


async def test_inline_without_wait_encodes_on_the_spot(encoder: Encoder) -> None:
    """The static tier's batcher: no collector task, each caller's prompt encoded alone."""
    sizes: list[int] = []
    b = Batcher(encoder, max_batch=8, wait_us=0, on_batch=sizes.append, inline=True)
    assert b.direct and not Batcher(encoder, max_batch=8, wait_us=500, inline=True).direct
    prompts = texts(5)
    try:
        results = await asyncio.gather(*(b.embed(t) for t in prompts))
        assert b._task is None  # nothing was queued
    finally:
        await b.stop()
    for text, res in zip(prompts, results, strict=True):
        np.testing.assert_allclose(res.vector, direct(encoder, text), atol=1e-5, err_msg=text)
        assert (res.batch_size, res.queue_us) == (1, 0)
    assert sizes == [1] * 5


async def test_concurrent_callers_get_their_own_vectors(encoder: Encoder) -> None:
    sizes: list[int] = []
    b = Batcher(encoder, max_batch=16, wait_us=2000, on_batch=sizes.append)
    prompts = texts(100)
    try:
        results = await asyncio.gather(*(b.embed(t) for t in prompts))
    finally:
        await b.stop()
    for text, res in zip(prompts, results, strict=True):
        np.testing.assert_allclose(res.vector, direct(encoder, text), atol=1e-5, err_msg=text)
    assert sum(sizes) == len(prompts)
    assert max(sizes) > 1, f"no batching happened: {sizes}"
    assert all(1 <= s <= 16 for s in sizes)
    assert max(r.batch_size for r in results) > 1
    assert all(r.queue_us >= 0 and r.tokenize_us >= 0 and r.embed_us >= 0 for r in results)


async def test_duplicate_texts_in_one_batch(encoder: Encoder) -> None:
    b = Batcher(encoder, max_batch=8, wait_us=1000)
    try:
        results = await asyncio.gather(*(b.embed(t) for t in ["same", "other text", "same"]))
    finally:
        await b.stop()
    np.testing.assert_allclose(results[0].vector, results[2].vector, atol=1e-6)
    np.testing.assert_allclose(results[1].vector, direct(encoder, "other text"), atol=1e-5)


async def test_cancelled_caller_does_not_break_others(encoder: Encoder) -> None:
    b = Batcher(encoder, max_batch=32, wait_us=20_000)
    prompts = texts(10)
    try:
        tasks = [asyncio.create_task(b.embed(t)) for t in prompts]
        await asyncio.sleep(0)  # every caller has queued its prompt
        tasks[3].cancel()
        tasks[7].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[3], asyncio.CancelledError)
        assert isinstance(results[7], asyncio.CancelledError)
        for i, (text, res) in enumerate(zip(prompts, results, strict=True)):
            if i in (3, 7):
                continue
            assert isinstance(res, Embedded), res
            np.testing.assert_allclose(res.vector, direct(encoder, text), atol=1e-5)
        # and the batcher keeps serving
        again = await b.embed(prompts[3])
        np.testing.assert_allclose(again.vector, direct(encoder, prompts[3]), atol=1e-5)
    finally:
        await b.stop()


async def test_encoder_error_fails_only_its_batch(bundle: LoadedBundle) -> None:
    enc = PoisonEncoder(bundle)
    b = Batcher(enc, max_batch=1, wait_us=0)  # one prompt per batch: exact blast radius
    prompts = [*texts(3), POISON, *texts(6)[3:]]
    try:
        results = await asyncio.gather(*(b.embed(t) for t in prompts), return_exceptions=True)
        for text, res in zip(prompts, results, strict=True):
            if text == POISON:
                assert isinstance(res, RuntimeError)
                assert "poison batch" in str(res)
            else:
                assert isinstance(res, Embedded), res
                np.testing.assert_allclose(res.vector, direct(bundle.encoder, text), atol=1e-5)
        assert enc.failures == 1
        after = await b.embed("still working?")
        np.testing.assert_allclose(
            after.vector, direct(bundle.encoder, "still working?"), atol=1e-5
        )
    finally:
        await b.stop()


async def test_encoder_error_in_shared_batch(bundle: LoadedBundle) -> None:
    enc = PoisonEncoder(bundle)
    b = Batcher(enc, max_batch=2, wait_us=5000)
    prompts = [POISON, *texts(7)]
    try:
        results = await asyncio.gather(*(b.embed(t) for t in prompts), return_exceptions=True)
        failed = [t for t, r in zip(prompts, results, strict=True) if isinstance(r, Exception)]
        assert POISON in failed
        assert len(failed) <= 2, f"the error spread beyond its batch of 2: {failed}"
        assert all(isinstance(r, RuntimeError) for r in results if isinstance(r, Exception))
        for text, res in zip(prompts, results, strict=True):
            if isinstance(res, Embedded):
                np.testing.assert_allclose(res.vector, direct(bundle.encoder, text), atol=1e-5)
        # later batches (even a second poison) are served independently
        again = await asyncio.gather(
            b.embed(POISON),
            b.embed("a fresh prompt"),
            b.embed("another fresh prompt"),
            return_exceptions=True,
        )
        assert isinstance(again[0], RuntimeError)
        ok = [r for r in again if isinstance(r, Embedded)]
        assert ok, "the batcher stopped serving after an encoder error"
    finally:
        await b.stop()


async def test_stop_is_idempotent(encoder: Encoder) -> None:
    b = Batcher(encoder, max_batch=4, wait_us=0)
    e = await b.embed("hello")
    assert e.vector.shape == (encoder.dim,)
    await b.stop()
    await b.stop()  # a second stop neither raises nor hangs


async def test_stop_finishes_queued_callers(encoder: Encoder) -> None:
    """A stopped (e.g. swapped-out) batcher answers the prompts already queued: none hangs."""
    b = Batcher(encoder, max_batch=4, wait_us=500)
    prompts = texts(20)
    tasks = [asyncio.create_task(b.embed(t)) for t in prompts]
    await asyncio.sleep(0)  # every caller has queued its prompt
    await b.stop()
    _done, pending = await asyncio.wait(tasks, timeout=30)
    assert not pending, f"{len(pending)} callers hang after stop()"
    for text, task in zip(prompts, tasks, strict=True):
        np.testing.assert_allclose(task.result().vector, direct(encoder, text), atol=1e-5)


# --- length groups
def test_length_groups_examples() -> None:
    assert length_groups([]) == []
    assert length_groups([5]) == [[0]]
    # short prompts (<= small) always share a group
    assert length_groups([3, 16, 1, 10]) == [[2, 0, 3, 1]]
    # a long prompt does not drag short ones into padding
    groups = length_groups([10, 200, 12, 11, 190])
    assert groups == [[0, 3, 2], [4, 1]]


@given(
    st.lists(st.integers(min_value=0, max_value=512), max_size=80),
    st.sampled_from([0.25, 0.5, 1.0]),
    st.integers(min_value=0, max_value=32),
)
def test_length_groups_property(lengths: list[int], max_waste: float, small: int) -> None:
    groups = length_groups(lengths, max_waste=max_waste, small=small)
    flat = [i for g in groups for i in g]
    assert sorted(flat) == list(range(len(lengths))), "every index exactly once"
    assert all(groups), "no empty group"
    # groups come in ascending length order, each sorted
    assert [lengths[i] for i in flat] == sorted(lengths)
    for g in groups:
        width = max(lengths[i] for i in g)
        total = sum(lengths[i] for i in g)
        padded = width * len(g)
        assert width <= small or padded <= (1.0 + max_waste) * total + 1e-9, (
            f"group {[lengths[i] for i in g]} pads {padded} for {total} real tokens"
        )
