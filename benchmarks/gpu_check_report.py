"""The GPU check's report: results.json (everything, raw) and report.md (tables).

Written after every stage, so whatever ran before a crash or a time limit is on
disk. report.md: the stages and their outcome, the test and sanitizer summaries,
the paper's layers (forward + backward) with dyconv, the grouped-conv reference on
cuDNN and the dense conv2d ceiling side by side (median times, achieved TFLOP/s,
dyconv's speed-up over the reference, its share of the ceiling's rate), the
grouped rows (users' depthwise and transposed layers, dyconv vs cuDNN's grouped
conv), and the DSL training step with either op.
"""
from __future__ import annotations

import json
from pathlib import Path

REPORT, RESULTS = "report.md", "results.json"
DYCONV, REFERENCE, CEILING = "dyconv", "reference", "dense-conv2d-ceiling"


def _ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.3g}"


def _x(value):
    return "-" if value is None else f"{value:.2f}x"


def _tf(value):
    return "-" if value is None else f"{value:.1f}"


def layer_rows(timings: list[dict]) -> list[dict]:
    """One row per (layer, batch, dtype) with the three contenders' medians and the ratios."""
    cells = {}
    for t in timings:
        if t.get("kind") != "layer":
            continue
        key = (t["layer"], t["batch"], t["dtype"])
        cells.setdefault(key, {})[t["contender"]] = t
    rows = []
    for (layer, batch, dtype), by in cells.items():
        med = {c: by[c].get("median_s") if c in by else None for c in (DYCONV, REFERENCE, CEILING)}
        tfl = {c: by[c].get("tflops") if c in by else None for c in (DYCONV, REFERENCE, CEILING)}
        both = med[DYCONV] and med[REFERENCE]
        rows.append(dict(
            layer=layer, batch=batch, dtype=dtype, median_s=med, tflops=tfl,
            speedup_vs_reference=med[REFERENCE] / med[DYCONV] if both else None,
            share_of_ceiling=tfl[DYCONV] / tfl[CEILING] if tfl[DYCONV] and tfl[CEILING] else None,
            max_rel_diff=by.get(DYCONV, {}).get("max_rel_diff_vs_reference"),
            errors={c: by[c]["error"] for c in by if "error" in by[c]},
        ))
    return rows


def grouped_rows(timings: list[dict]) -> list[dict]:
    """One row per grouped layer with dyconv's and cuDNN's grouped-conv medians and the ratio."""
    cells = {}
    for t in timings:
        if t.get("kind") == "grouped":
            cells.setdefault((t["layer"], t["batch"], t["dtype"]), {})[t["contender"]] = t
    rows = []
    for (layer, batch, dtype), by in cells.items():
        med = {c: by[c].get("median_s") if c in by else None for c in (DYCONV, REFERENCE)}
        tfl = {c: by[c].get("tflops") if c in by else None for c in (DYCONV, REFERENCE)}
        problem = next((by[c]["problem"] for c in by if "problem" in by[c]), "")
        rows.append(dict(
            layer=layer, batch=batch, dtype=dtype, problem=problem, median_s=med, tflops=tfl,
            speedup_vs_reference=med[REFERENCE] / med[DYCONV] if med[DYCONV] and med[REFERENCE] else None,
            max_rel_diff=by.get(DYCONV, {}).get("max_rel_diff_vs_reference"),
        ))
    return rows


def markdown(results: dict) -> str:
    meta = results.get("meta", {})
    out = ["# dyconv GPU check", ""]
    if results.get("fake"):
        out += ["**DRY RUN: the timings below are FAKE (made up by `--dry-run` to exercise this "
                "report); nothing ran on a GPU.**", ""]
    for key in ("started", "device", "torch", "cuda_available", "arch_list", "tf32", "repeats"):
        if key in meta:
            out.append(f"- {key}: {meta[key]}")
    out += ["", "## Stages", "", "| stage | status | seconds | limit s | note |", "|---|---|---:|---:|---|"]
    for s in results.get("stages", []):
        out.append(f"| {s['stage']} | {s['status']} | {s['seconds']:.0f} | {s['limit_s']:.0f} | {s.get('note', '')} |")
    summaries = results.get("summaries", {})
    if summaries:
        out += ["", "## Tests and sanitizers", ""]
        out += [f"- {name}: {text}" for name, text in summaries.items()]

    rows = layer_rows(results.get("timings", []))
    if rows:
        out += ["", "## The paper's layers, forward + backward (median of CUDA-event times)", "",
                "Speed-up: reference time / dyconv time. Share of ceiling: dyconv's TFLOP/s / the dense "
                "conv2d's (same FLOPs, one weight for the batch). Diff: max |dyconv - reference| of the "
                "forward output, relative to max(1, max |reference|).", "",
                "| layer | B | dtype | dyconv ms | reference ms | dense ms | speed-up | dyconv TFLOP/s "
                "| reference TFLOP/s | dense TFLOP/s | share of ceiling | diff |",
                "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            m, t = r["median_s"], r["tflops"]
            diff = "-" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
            share = "-" if r["share_of_ceiling"] is None else f"{r['share_of_ceiling']:.0%}"
            out.append(f"| {r['layer']} | {r['batch']} | {r['dtype']} | {_ms(m[DYCONV])} | {_ms(m[REFERENCE])} "
                       f"| {_ms(m[CEILING])} | {_x(r['speedup_vs_reference'])} | {_tf(t[DYCONV])} "
                       f"| {_tf(t[REFERENCE])} | {_tf(t[CEILING])} | {share} | {diff} |")
    grows = grouped_rows(results.get("timings", []))
    if grows:
        out += ["", "## Grouped, depthwise and transposed layers, forward + backward", "",
                "dyconv vs the reference, which runs the batch as one grouped F.conv2d / F.conv_transpose2d "
                "(B * groups groups) on cuDNN. Speed-up: reference time / dyconv time.", "",
                "| layer | problem | dtype | dyconv ms | cuDNN grouped ms | speed-up | dyconv TFLOP/s "
                "| cuDNN TFLOP/s | diff |",
                "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in grows:
            m, t = r["median_s"], r["tflops"]
            diff = "-" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
            out.append(f"| {r['layer']} | {r['problem']} | {r['dtype']} | {_ms(m[DYCONV])} | {_ms(m[REFERENCE])} "
                       f"| {_x(r['speedup_vs_reference'])} | {_tf(t[DYCONV])} | {_tf(t[REFERENCE])} | {diff} |")
    steps = {t["contender"]: t for t in results.get("timings", []) if t.get("kind") == "model"}
    if steps:
        out += ["", "## DSL (paper config) training step: forward + backward + Adam", "",
                "| op | batch | median ms | clips/s |", "|---|---:|---:|---:|"]
        for name, t in steps.items():
            med = t.get("median_s")
            rate = f"{t['batch'] / med:.0f}" if med else "-"
            out.append(f"| {name} | {t['batch']} | {_ms(med)} | {rate} |")
        if steps.get(DYCONV, {}).get("median_s") and steps.get(REFERENCE, {}).get("median_s"):
            out += ["", f"dyconv step speed-up over the reference: "
                        f"{steps[REFERENCE]['median_s'] / steps[DYCONV]['median_s']:.2f}x"]
    errors = [t for t in results.get("timings", []) if "error" in t]
    if errors:
        out += ["", "## Cells that failed", ""] + [f"- {t['cell']}: {t['error']}" for t in errors]
    if meta.get("plan"):
        out += ["", "## Plan", "", "```"] + meta["plan"] + ["```"]
    return "\n".join(out) + "\n"


def write(out_dir: Path, results: dict) -> None:
    """results.json and report.md into out_dir (replacing earlier versions)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in ((RESULTS, json.dumps(results, indent=1)), (REPORT, markdown(results))):
        tmp = out_dir / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(out_dir / name)
