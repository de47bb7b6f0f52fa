"""Why a held-out set misses the routing-quality ambition (docs/benchmarks.md): run after
bench/routing_quality.py, on the bundles it trained under HOME/trained.

* spread of a single random router's APGR (200 seeded draws) on each held-out set;
* MMLU, held-out subjects: APGR of a router that knows each *test* subject's true
  strong-over-weak win rate (the most that subject-level signal can give);
* RouterBench: each strategy's APGR per task, a router by each task's training win rate,
  the share of test prompts the encoder truncates (> max_seq_length tokens), and with
  ``--tail`` the knn/mf APGR when the encoder sees the end of long prompts instead
  (an experiment outside the serving path; embeds every prompt once more).

    .venv/bin/python bench/routing_diagnostics.py --home .routeiq-home [--tail]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.strategies.features import feature_matrix
from routeiq_sidecar.strategies.registry import build_strategies
from routeiq_sidecar.training.data import Dataset, load_jsonl, score_matrix
from routeiq_sidecar.training.embed import embed_cached, select_prompts
from routeiq_sidecar.training.fit import Rows, fit_knn, fit_net, net_inputs
from routeiq_sidecar.training.metrics import apgr, pair_curve
from routeiq_sidecar.training.splits import split_dataset
from routeiq_sidecar.training.train import rows_for

ROOT = Path(__file__).resolve().parents[1]
ROUTELLM = ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1")
ROUTERBENCH = ("gpt-4-1106-preview", "mistralai/mistral-7b-chat")
PRECISION = "int8"  # as bench/routing_quality.py and the server's default


def pair_apgr(router: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(s) & np.isfinite(w)
    return round(apgr(pair_curve(router[ok], s[ok], w[ok])), 3)


def by_group(values: dict[str, float], groups: list[str]) -> np.ndarray:
    jitter = 1e-9 * np.random.default_rng(0).random(len(groups))  # break ties at random
    return np.asarray([values[g] for g in groups]) + jitter


def random_spread(sc: np.ndarray, s: int, w: int) -> float:
    n = sc.shape[0]
    draws = [pair_apgr(np.random.default_rng(i).random(n), sc[:, s], sc[:, w]) for i in range(200)]
    return round(float(np.std(draws)), 3)


def mmlu(args: argparse.Namespace) -> None:
    ds = load_jsonl(args.data_dir / "routellm_mmlu.jsonl")
    _, test = split_dataset(ds, "group", seed=0)
    m = ds.models
    s, w = m.index(ROUTELLM[0]), m.index(ROUTELLM[1])
    sc = score_matrix(test, m)
    cats = test.categories
    rate = {c: float(np.nanmean([sc[i, s] - sc[i, w] for i in range(len(cats)) if cats[i] == c]))
            for c in set(cats)}
    print(f"MMLU held-out subjects ({len(set(cats))} subjects, {len(test)} prompts): strong "
          f"{np.nanmean(sc[:, s]):.3f}, weak {np.nanmean(sc[:, w]):.3f}; random APGR sd "
          f"{random_spread(sc, s, w)}; true test-subject win-rate router APGR "
          f"{pair_apgr(by_group(rate, cats), sc[:, s], sc[:, w])}")


def tail_rows(bundle: LoadedBundle, ds: Dataset, models: tuple[str, ...], cache: Path) -> Rows:
    texts = [p.strip() if len(p.strip()) <= 1000 else p.strip()[:300] + " ... " + p.strip()[-700:]
             for p in ds.prompts]
    emb = embed_cached(bundle.encoder, texts, manifest=bundle.manifest, cache_dir=cache,
                       precision=PRECISION)
    return Rows(emb, feature_matrix(select_prompts(ds.prompts, bundle.manifest)),
                score_matrix(ds, models))


def routerbench(args: argparse.Namespace) -> None:
    stem = "routerbench_subset_11models"
    ds = load_jsonl(args.data_dir / f"{stem}.jsonl")
    train, test = split_dataset(ds, "field")
    bundle = load_bundle(args.home / "trained" / f"{stem}-field", precision=PRECISION)
    cache = args.home / "embeddings"
    m = ds.models
    s, w = m.index(ROUTERBENCH[0]), m.index(ROUTERBENCH[1])
    rows = rows_for(bundle, test, m, cache, "test rows", PRECISION)
    sc, cats = rows.scores, test.categories
    tok = bundle.encoder.tokenizer
    cut = np.mean([tok.count(x.text) >= tok.max_length
                   for x in select_prompts(test.prompts, bundle.manifest)])
    print(f"RouterBench ({len(test)} test prompts): random APGR sd {random_spread(sc, s, w)}; "
          f"{100 * cut:.0f}% of test prompts truncated by the encoder")
    tr = score_matrix(train, m)
    rate = {c: float(np.nanmean([tr[i, s] - tr[i, w] for i, x in enumerate(train.categories)
                                 if x == c])) for c in set(train.categories)}
    print(f"  router by task training win rate: APGR "
          f"{pair_apgr(by_group(rate, cats), sc[:, s], sc[:, w])}")
    tasks = sorted(set(cats))
    trained = build_strategies(bundle).trained()
    for name in ("knn", "mlp", "mf", "ensemble"):
        pred = trained[name].head.predict(rows.embeddings, rows.features)
        r = pred[:, s] - pred[:, w]
        per = []
        for t in tasks:
            k = np.asarray([c == t for c in cats])
            per.append(f"{t} ({k.sum()}) {pair_apgr(r[k], sc[k, s], sc[k, w])}")
        print(f"  {name}: " + ", ".join(per))
    if args.tail:
        fit_ds, val_ds = split_dataset(train, "random", seed=1, test_fraction=0.15)
        f, v, t = (tail_rows(bundle, d, m, cache) for d in (fit_ds, val_ds, test))
        feats = list(bundle.manifest["heads"]["mf"].get("features", []))
        knn = fit_knn(m, f, v).head.predict(t.embeddings)  # type: ignore[union-attr]
        mf = fit_net("mf", f, v, feats, 0).head.forward(net_inputs(t, feats))  # type: ignore[union-attr]
        print(f"  encoder sees head 300 + tail 700 characters: knn APGR "
              f"{pair_apgr(knn[:, s] - knn[:, w], t.scores[:, s], t.scores[:, w])}, mf APGR "
              f"{pair_apgr(mf[:, s] - mf[:, w], t.scores[:, s], t.scores[:, w])}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--home", type=Path, default=ROOT / ".routeiq-home")
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--tail", action="store_true", help="also the tail-embedding experiment")
    args = p.parse_args()
    if not args.data_dir.is_dir():
        print(f"no data at {args.data_dir} (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    mmlu(args)
    routerbench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
