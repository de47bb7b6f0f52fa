"""``eval``'s report as readable tables (the default output; ``--json`` prints the report)."""

from __future__ import annotations

from typing import Any

from routeiq_sidecar.tables import table

BASELINES = ("random", "length", "oracle")


def _pair_rows(pair: dict[str, Any]) -> list[list[Any]]:
    rows = [[name, r.get("apgr"), r.get("cpt50"), r.get("cpt80")]
            for name, r in pair.get("routers", {}).items()]
    rows += [[f"({base})", pair[base].get("apgr"), pair[base].get("cpt50"),
              pair[base].get("cpt80")] for base in BASELINES if isinstance(pair.get(base), dict)]
    return rows


def eval_text(report: dict[str, Any]) -> str:
    """The pair table (APGR, CPT(50), CPT(80) of each router and the baselines) and the
    quality-cost table (AIQ), with what was evaluated on top."""
    if "folds" in report:
        return leave_one_out_text(report)
    if "files" in report:
        return shipped_text(report)
    b = report.get("bundle", {})
    out = [f"eval: bundle {b.get('name')} {b.get('version')} on {report.get('data')}, "
           f"{report.get('rows')} rows ({report.get('split')}), encoder "
           f"{report.get('encoder')} {report.get('encoder_precision')}\n"]
    if report.get("warning"):
        out.append(f"warning: {report['warning']}\n")
    pair = report.get("pair")
    if isinstance(pair, dict):
        out.append(f"\nstrong/weak pair: {pair.get('strong')} vs {pair.get('weak')} "
                   "(APGR: share of the quality gap recovered; CPT(x): strong-model calls "
                   "for x% of it)\n")
        out.append(table(["router", "APGR", "CPT(50)", "CPT(80)"], _pair_rows(pair)))
    multi = report.get("multi")
    if isinstance(multi, dict):
        rows = [[name, r.get("aiq"), r.get("best_score")]
                for name, r in multi.get("routers", {}).items()]
        rows += [[f"({base})", multi[base].get("aiq"), None]
                 for base in ("random", "oracle") if isinstance(multi.get(base), dict)]
        out.append("\nquality vs cost over every model (AIQ: area under the quality-cost "
                   "curve)\n")
        out.append(table(["router", "AIQ", "best score"], rows))
        best = multi.get("best_single")
        if isinstance(best, dict):
            out.append(f"best single model: {best.get('model')} (score {best.get('score')}, "
                       f"cost {best.get('cost')})\n")
    out.append("\n(--json prints the whole report)\n")
    return "".join(out)


def _fold_rows(fold: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, r in fold.get("routers", {}).items():
        rows.append([name + (" (constant)" if r.get("constant") else ""), r.get("apgr"),
                     r.get("cpt50"), r.get("cpt80"), _served(r.get("prices")),
                     _served(r.get("names")), r.get("aiq")])
    rows += [[f"({base})", fold[base].get("apgr"), fold[base].get("cpt50"),
              fold[base].get("cpt80"), None, None, fold[base].get("aiq")]
             for base in BASELINES if isinstance(fold.get(base), dict)]
    return rows


def _served(setting: dict[str, Any] | None) -> str | None:
    if not setting or setting.get("apgr") is None:
        return None
    return f"{setting['apgr']:.4f}" + (" (constant)" if setting.get("constant") else "")


def leave_one_out_text(report: dict[str, Any]) -> str:
    out = [f"leave one file out ({report.get('encoder_precision')} encoder, "
           f"seed {report.get('seed')}): each file scored by routers fit on the others; the "
           "pair sent as candidates declaring which is stronger (APGR, CPT) and with the "
           "file's prices only (APGR prices, AIQ where the file has costs) and with the "
           "model names alone (APGR names)\n"]
    for fold in report.get("folds", []):
        out.append(f"\n{fold.get('file')} ({fold.get('n')} rows; trained on "
                   f"{', '.join(fold.get('trained_on', []))}): {fold.get('strong')} vs "
                   f"{fold.get('weak')}\n")
        out.append(table(["router", "APGR", "CPT(50)", "CPT(80)", "APGR prices", "APGR names",
                          "AIQ"],
                         _fold_rows(fold)))
    mean = report.get("mean_apgr")
    if isinstance(mean, dict):
        prices = report.get("mean_apgr_prices") or {}
        names = report.get("mean_apgr_names") or {}
        out.append("\nmean APGR over the folds\n")
        out.append(table(["router", "APGR", "APGR prices", "APGR names"],
                         [[k, v, prices.get(k), names.get(k)] for k, v in mean.items()]))
    out.append("\n(--json prints the whole report)\n")
    return "".join(out)


def shipped_text(report: dict[str, Any]) -> str:
    b = report.get("bundle", {})
    trained = report.get("trained_on") or []
    out = [f"bundle {b.get('name')} {b.get('version')} as shipped ({b.get('encoder')} "
           f"{report.get('encoder_precision')}; its difficulty head trained on "
           f"{', '.join(trained) or 'no recorded file'}): each file's strong/weak pair sent as "
           "candidates declaring which is stronger (APGR, CPT), with the file's prices only "
           "(APGR prices, AIQ where the file has costs) and by name alone (APGR names)\n"]
    for f in report.get("files", []):
        seen = "; IN-SAMPLE: the head was trained on this file" if f.get("in_training") else ""
        stored = f.get("stored_share")
        share = "" if stored is None else f"; {stored:.1%} of its prompts stored in the head"
        out.append(f"\n{f.get('file')} ({f.get('n')} rows{share}{seen}): {f.get('strong')} vs "
                   f"{f.get('weak')}\n")
        out.append(table(["router", "APGR", "CPT(50)", "CPT(80)", "APGR prices", "APGR names",
                          "AIQ"], _fold_rows(f)))
    for key, title in (("mean_apgr_unseen", "files the head was not trained on"),
                       ("mean_apgr", "every file")):
        mean = report.get(key)
        if isinstance(mean, dict) and mean:
            out.append(f"\nmean APGR over {title}\n")
            out.append(table(["router", "APGR"], [[k, v] for k, v in mean.items()]))
    out.append("\n(--json prints the whole report)\n")
    return "".join(out)
