"""``train`` and ``eval`` subcommands (registered through cli.LAZY_COMMANDS)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from routeiq_sidecar.training.evaluate import EVAL_SPLITS
from routeiq_sidecar.training.train import SPLIT_CHOICES, TRAINED_STRATEGIES

DATA_HELP = "routing data, JSONL: prompt, scores {model: score}, optional costs (see README)"


class _StoreOnce(argparse._StoreAction):
    """A single-valued flag: given twice with different values is an error, not "last wins"."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        given: dict[str, Any] = namespace.__dict__.setdefault("_given_once", {})
        if self.dest in given and given[self.dest] != values:
            parser.error(f"{option_string} given twice with different values "
                         f"({given[self.dest]!r} and {values!r}); give it once")
        given[self.dest] = values
        super().__call__(parser, namespace, values, option_string)


def refuse_repeats(parser: argparse.ArgumentParser) -> None:
    """Make every plain single-valued flag of ``parser`` refuse a conflicting repeat."""
    for action in parser._actions:
        if type(action) is argparse._StoreAction:
            action.__class__ = _StoreOnce


def data_files(values: list[str] | None) -> tuple[Path, ...]:
    """``--data`` values, repeatable and comma-separated, in order, duplicates dropped."""
    out: list[str] = []
    for v in values or []:
        out.extend(s.strip() for s in str(v).split(",") if s.strip())
    return tuple(Path(p) for p in dict.fromkeys(out))


def _strategies(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for v in values or []:
        out.extend(s.strip() for s in v.split(",") if s.strip())
    return tuple(dict.fromkeys(out))


def _aliases(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        alias, sep, model = v.partition("=")
        if not sep or not alias.strip() or not model.strip():
            raise ValueError(f"--alias wants ALIAS=MODEL, got {v!r}")
        out[alias.strip()] = model.strip()
    return out


def _cache_dir(args: argparse.Namespace, home: Path) -> Path | None:
    return None if args.no_embed_cache else home / "embeddings"


def _print(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def cmd_train(args: argparse.Namespace) -> int:
    from routeiq_sidecar.bundle.default import ensure_default_bundle
    from routeiq_sidecar.flags import settings_from
    from routeiq_sidecar.training.train import TrainOptions, train_bundle

    t0 = time.perf_counter()
    s = settings_from(args)
    base = s.bundle if s.bundle is not None else ensure_default_bundle(s.home)
    m = train_bundle(TrainOptions(
        data=data_files(args.data), out=args.out, base_bundle=base,
        strategies=_strategies(args.train_strategy) or TRAINED_STRATEGIES,
        split=args.split, seed=args.seed,
        test_fraction=0.2 if args.test_fraction is None else args.test_fraction,
        aliases=_aliases(args.alias), limit=args.limit, cache_dir=_cache_dir(args, s.home),
        name=args.name or "", precision=s.encoder_precision, encoder=s.encoder,
    ))
    first = m["static"] if s.encoder in ("static", "cascade") else m
    _print({
        "bundle": str(args.out), "name": m["name"], "version": m["version"],
        "encoder": s.encoder, "default_strategy": first["default_strategy"],
        "models": m["models"], "pair": m["pair"],
        "split": m["training"]["split"], "validation": m["training"]["validation"],
        "heads": m["report"],
        **({"heads_by_encoder": m["report_by_encoder"]} if s.encoder == "cascade" else {}),
        "seconds": round(time.perf_counter() - t0, 1),
    })
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from routeiq_sidecar.flags import settings_from
    from routeiq_sidecar.training.evaluate import EvalOptions, evaluate

    s = settings_from(args)
    files = data_files(args.data)
    if args.categories:
        return _categories(args, files, s)
    if args.leave_one_out:
        return _leave_one_out(args, files, s)
    if args.eval_bundle is None or _measured_as_shipped(args.eval_bundle, s):
        return _shipped(args, files, s)
    if len(files) != 1:
        raise ValueError(f"eval --bundle takes one --data file, got {len(files)}")
    report, curves = evaluate(EvalOptions(
        bundle=args.eval_bundle, data=files[0], strong=args.strong, weak=args.weak,
        strategies=_strategies(args.eval_strategy), split=args.split, seed=args.seed,
        test_fraction=args.test_fraction, limit=args.limit, cache_dir=_cache_dir(args, s.home),
        precision=s.encoder_precision, encoder=s.encoder, cascade_margins=(s.cascade_margin,),
    ))
    if args.plot is not None:
        from routeiq_sidecar.training.plot import plot_report

        report["plot"] = str(plot_report(report, curves, args.plot))
    _report(args, report)
    return 0


def _report(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """JSON with --json, else tables."""
    if args.json:
        _print(report)
        return
    from routeiq_sidecar.training.report_text import eval_text

    text = eval_text(report)
    if report.get("plot"):
        text += f"plot: {report['plot']}\n"
    sys.stdout.write(text)


def _categories(args: argparse.Namespace, files: tuple[Path, ...], s: Any) -> int:
    from routeiq_sidecar.bundle.default import ensure_default_bundle
    from routeiq_sidecar.bundle.loader import load_bundle
    from routeiq_sidecar.training.category_report import render
    from routeiq_sidecar.training.category_train import measure_bundle

    if s.encoder == "cascade":
        raise ValueError("--categories measures one encoder: --encoder minilm or static")
    base = args.eval_bundle or ensure_default_bundle(s.home)
    bundle = load_bundle(base, precision=s.encoder_precision, encoder=s.encoder)
    record = measure_bundle(bundle, files, cache_dir=_cache_dir(args, s.home),
                            precision=s.encoder_precision)
    if args.json:
        _print(record)
    else:
        sys.stdout.write(render(record) + "\n")
    return 0


def _measured_as_shipped(path: Path, s: Any) -> bool:
    """A bundle whose manifest lists a difficulty head and no trained knn/mlp/mf head for the
    encoder (a bundle with neither goes to ``evaluate``, whose error names the missing heads).
    Only the manifest is read here; the bundle is verified and loaded once, afterwards."""
    from routeiq_sidecar.bundle.manifest import read_manifest

    manifest = read_manifest(path)
    table = manifest.get("static") if s.encoder == "static" else manifest
    heads = table.get("heads") if isinstance(table, dict) else None
    if not isinstance(heads, dict):
        return False
    return "difficulty" in heads and not any(h in heads for h in TRAINED_STRATEGIES)


def _shipped(args: argparse.Namespace, files: tuple[Path, ...], s: Any) -> int:
    """A bundle without trained heads (the default one when no --bundle): its routers as they
    ship, measured on each file (training/shipped.py)."""
    from routeiq_sidecar.bundle.default import ensure_default_bundle
    from routeiq_sidecar.bundle.loader import load_bundle
    from routeiq_sidecar.training.shipped import measure_shipped

    if s.encoder == "cascade":
        raise ValueError("eval of a bundle as shipped measures one encoder: --encoder minilm "
                         "or static")
    unused = [flag for flag, given in (("--strategy", args.eval_strategy),
                                       ("--plot", args.plot), ("--seed", args.seed),
                                       ("--test-fraction", args.test_fraction),
                                       ("--split", args.split != "auto")) if given]
    if unused:
        raise ValueError(f"{', '.join(unused)} apply to a bundle with trained heads (knn, mlp, "
                         "mf); this one is measured as shipped on each file's test rows, or "
                         "all its rows when it has no split column")
    base = args.eval_bundle or ensure_default_bundle(s.home)
    bundle = load_bundle(base, precision=s.encoder_precision, encoder=s.encoder)
    report = measure_shipped(files, bundle, cache=_cache_dir(args, s.home),
                             precision=s.encoder_precision, limit=args.limit,
                             pair=(args.strong, args.weak))
    _report(args, report)
    return 0


def _leave_one_out(args: argparse.Namespace, files: tuple[Path, ...], s: Any) -> int:
    from routeiq_sidecar.bundle.default import ensure_default_bundle
    from routeiq_sidecar.bundle.loader import load_bundle
    from routeiq_sidecar.training.transfer import leave_one_out

    if len(files) < 2:
        raise ValueError(f"--leave-one-out needs at least two --data files, got {len(files)}")
    if s.encoder == "cascade":
        raise ValueError("--leave-one-out measures one encoder: --encoder minilm or static")
    base = args.eval_bundle or ensure_default_bundle(s.home)  # its encoder embeds the prompts
    bundle = load_bundle(base, precision=s.encoder_precision, encoder=s.encoder)
    report, _ = leave_one_out(files, bundle, cache=_cache_dir(args, s.home),
                              precision=s.encoder_precision, seed=args.seed or 0,
                              limit=args.limit)
    _report(args, report)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", action="append", required=True, metavar="F.jsonl",
                   help=DATA_HELP + "; repeatable or comma-separated")
    p.add_argument("--limit", type=int, default=None, help="read only the first N examples")
    p.add_argument("--test-fraction", type=float, default=None,
                   help="held-out share for group/random splits "
                   "(default: train 0.2, eval the bundle's)")
    p.add_argument("--no-embed-cache", action="store_true",
                   help="do not read or write cached embeddings (<home>/embeddings)")


def register(subparsers: Any) -> None:
    from routeiq_sidecar.flags import add_setting_flags

    train = subparsers.add_parser(
        "train", help="train routers (knn, mlp, mf) on routing data into a new bundle",
        description="Embed the prompts with the base bundle's encoder, fit the heads on the "
        "training split (hyper-parameters on a validation part of it) and write a verified "
        "bundle that `serve --bundle DIR` loads. Deterministic for a given --seed.",
    )
    _common(train)
    train.add_argument("--out", type=Path, required=True, help="folder of the new bundle")
    train.add_argument("--strategy", dest="train_strategy", action="append", metavar="NAME",
                       help=f"heads to train, repeatable or comma-separated "
                       f"(default: {','.join(TRAINED_STRATEGIES)}; also: difficulty, the "
                       "head that transfers to files and models it never saw)")
    train.add_argument("--split", default="auto", choices=SPLIT_CHOICES,
                       help="rows held out of training: field (the data's split column), group "
                       "(whole categories), random, none (train on all), auto (field if every "
                       "row has one, else group, else random)")
    train.add_argument("--seed", type=int, default=0, help="seed of splits and initialisation")
    train.add_argument("--alias", action="append", metavar="ALIAS=MODEL",
                       help="another name candidates may use for a trained model (repeatable)")
    train.add_argument("--name", default=None, help="bundle name (default routeiq-trained-<data>)")
    add_setting_flags(train, ("--bundle", "--home", "--encoder", "--encoder-precision"))
    train.set_defaults(fn=cmd_train)
    refuse_repeats(train)

    ev = subparsers.add_parser(
        "eval", help="APGR / CPT / AIQ of a trained bundle's strategies vs random, length, oracle",
        description="Print tables (JSON with --json): for a strong/weak pair APGR, CPT(50), "
        "CPT(80) of each strategy and of random, length and the oracle; with costs for many "
        "models the quality-cost points and AIQ against the best single model, random and "
        "the oracle.",
    )
    _common(ev)
    ev.add_argument("--bundle", dest="eval_bundle", type=Path, default=None, metavar="DIR",
                    help="bundle folder (default: the zero-config default bundle; a bundle "
                    "without trained knn/mlp/mf heads is measured as shipped: its difficulty "
                    "head, centroid and the rules on each file's strong/weak pair)")
    ev.add_argument("--leave-one-out", action="store_true",
                    help="for each --data file: fit the difficulty head on the others, measure "
                    "it on that one (its test rows if it has a split column), vs random, "
                    "length, oracle (bench/transfer.py prints the same as tables)")
    ev.add_argument("--categories", action="store_true",
                    help="category accuracy of signals.category (the bundle's trained category "
                    "head, else its prototype centroids; default bundle unless --bundle): the "
                    "held-out split of the files the head was trained on, every other file "
                    "whole; per-class precision/recall and confusion matrices "
                    "(bench/categories.py)")
    ev.add_argument("--json", action="store_true",
                    help="print the whole report as JSON (default: readable tables)")
    ev.add_argument("--strong", default=None, help="strong model of the pair")
    ev.add_argument("--weak", default=None, help="weak model of the pair")
    ev.add_argument("--strategy", dest="eval_strategy", action="append", metavar="NAME",
                    help="strategies to evaluate (default: every trained head of the bundle)")
    ev.add_argument("--split", default="auto", choices=EVAL_SPLITS,
                    help="auto: the held-out rows when the file is the bundle's training file, "
                    "else all rows; all; or a new field/group/random split")
    ev.add_argument("--seed", type=int, default=None, help="split seed (default: the bundle's)")
    ev.add_argument("--plot", type=Path, default=None, metavar="OUT.png",
                    help="draw the PGR and quality-cost curves (needs matplotlib: [plot] extra)")
    add_setting_flags(ev, ("--home", "--encoder", "--cascade-margin", "--encoder-precision"))
    ev.set_defaults(fn=cmd_eval)
    refuse_repeats(ev)
