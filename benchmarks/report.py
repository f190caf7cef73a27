"""Markdown report and scaling plot from a saved pytest-benchmark JSON.

    pytest benchmarks/ --benchmark-only --benchmark-json=bench.json
    python benchmarks/report.py bench.json --plot sweep.png > report.md

Times are the minimum over the rounds (the least disturbed run on a shared
machine). For every layer, pass and device: each contender's time, GFLOP/s,
speed-up over the grouped-conv reference (reference time / contender time),
its FLOP rate as a fraction of the dense conv2d ceiling's and of the large
matmul's, and the peak memory of forward + backward where measured. Then the
scaling sweep (dyconv vs reference) and the bar of issue 7, checked.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REFERENCE, CEILING, FUSED = "reference", "dense-conv2d-ceiling", "dyconv"
BAR_SPEEDUP = {16: 1.3, 64: 1.6}


class ReportError(Exception):
    """A user mistake (missing or malformed file): reported without a traceback."""


def load(path):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ReportError(f"cannot read benchmark JSON {path}: {e}") from None
    rows = []
    for b in data.get("benchmarks", []):
        info = dict(b.get("extra_info", {}))
        if "kind" not in info:
            continue
        info["time"] = b["stats"]["min"]
        info["gflops"] = info["flops"] / info["time"] / 1e9
        rows.append(info)
    if not rows:
        raise ReportError(f"{path} holds no timed dyconv benchmarks (run with --benchmark-only, "
                          "not --benchmark-disable, and --benchmark-json)")
    return data.get("machine_info", {}), rows


def _fmt_time(s):
    return f"{s * 1e3:.1f} ms" if s < 10 else f"{s:.2f} s"


def _mib(b):
    return f"{b / 2**20:.0f} MiB"


def matmul_rates(rows):
    return {r["device"]: r["gflops"] for r in rows if r["kind"] == "matmul"}


def layer_tables(rows, matmul):
    out = []
    groups = defaultdict(dict)
    for r in rows:
        if r["kind"] == "layer":
            key = (r["device"], r["layer"], r["B"], r["W"], r["pass_name"])
            groups[key][r["contender"]] = r
    for (device, layer, B, W, pass_name), by in sorted(groups.items()):
        first = next(iter(by.values()))
        out.append(f"\n### {layer} ({first['Cin']}->{first['Cout']}, dilation {first['dilation']}), "
                   f"batch {B}, 40x{W}, {pass_name}, {device}\n")
        out.append("| contender | time | GFLOP/s | vs reference | rate / ceiling | rate / matmul | peak memory |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        ref, ceil = by.get(REFERENCE), by.get(CEILING)
        for name, r in sorted(by.items(), key=lambda kv: kv[1]["time"]):
            speed = f"{ref['time'] / r['time']:.2f}x" if ref else "-"
            vs_ceil = f"{r['gflops'] / ceil['gflops']:.2f}" if ceil else "-"
            vs_mm = f"{r['gflops'] / matmul[device]:.2f}" if device in matmul else "-"
            mem = _mib(r["peak_mem_bytes"]) if "peak_mem_bytes" in r else ""
            if mem and ref and "peak_mem_bytes" in ref and name != REFERENCE:
                mem += f" ({r['peak_mem_bytes'] / ref['peak_mem_bytes']:.2f} of reference)"
            out.append(f"| {name} | {_fmt_time(r['time'])} | {r['gflops']:.0f} | {speed} | {vs_ceil} | "
                       f"{vs_mm} | {mem} |")
    return out, groups


def sweep_table(rows):
    pts = defaultdict(dict)
    for r in rows:
        if r["kind"] == "sweep":
            pts[(r["device"], r["axis"], r["value"])][r["contender"]] = r
    out = []
    if not pts:
        return out, pts
    out.append("\n## Scaling sweep: 96->96, dilation 4, forward + backward "
               "(others at batch 16, 96 channels, 248 frames)\n")
    out.append("| device | axis | value | dyconv | GFLOP/s | reference | GFLOP/s | speed-up |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for (device, axis, value), by in sorted(pts.items()):
        f, r = by.get(FUSED), by.get(REFERENCE)
        if not (f and r):
            continue
        out.append(f"| {device} | {axis} | {value} | {_fmt_time(f['time'])} | {f['gflops']:.0f} | "
                   f"{_fmt_time(r['time'])} | {r['gflops']:.0f} | {r['time'] / f['time']:.2f}x |")
    return out, pts


def users_table(rows):
    """Other users' shapes (test_bench_users.py): each contender's time and speed-up over the grouped idiom."""
    by_row = defaultdict(dict)
    for r in rows:
        if r["kind"] == "users":
            by_row[(r["device"], r["row"], r["label"])][r["contender"]] = r
    if not by_row:
        return []
    out = ["\n## Users' shapes: forward + backward, float32, speed-up over the grouped idiom\n",
           "| row | shape | grouped idiom | dyconv | vmap | user's own |", "|---|---|---:|---:|---:|---:|"]
    for (device, row, label), by in by_row.items():
        base = by.get("grouped")

        def cell(r):
            return _fmt_time(r["time"]) + (f", {base['time'] / r['time']:.2f}x" if base else "")
        own = "; ".join(f"{n}: {cell(r)}" for n, r in by.items() if n not in ("grouped", "dyconv", "vmap"))
        out.append(f"| {row} | {label} | {_fmt_time(base['time']) if base else '-'} | "
                   f"{cell(by['dyconv']) if 'dyconv' in by else '-'} | {cell(by['vmap']) if 'vmap' in by else '-'} | "
                   f"{own or '-'} |")
    return out


def bar_checks(groups, pts, matmul):
    """The bar of issue 7, each line 'PASS' or 'MISS' with the numbers behind it."""
    out = ["\n## The bar (issue 7)\n"]

    def line(ok, text):
        out.append(f"- {'PASS' if ok else 'MISS'}: {text}")

    for (device, layer, B, W, pass_name), by in sorted(groups.items()):
        if pass_name != "fwd+bwd" or FUSED not in by or REFERENCE not in by:
            continue
        f, r = by[FUSED], by[REFERENCE]
        speed = r["time"] / f["time"]
        if B in BAR_SPEEDUP and layer == "layer3":
            line(speed >= BAR_SPEEDUP[B],
                 f"{layer} batch {B} ({device}): {speed:.2f}x the reference, bar {BAR_SPEEDUP[B]}x")
        else:
            line(speed >= 1.0, f"{layer} batch {B} ({device}): {speed:.2f}x the reference, bar 1x")
        if layer == "layer3" and CEILING in by:
            c = by[CEILING]
            line(f["gflops"] >= c["gflops"], f"{layer} batch {B} ({device}): {f['gflops']:.0f} GFLOP/s "
                 f"vs the dense conv2d ceiling's {c['gflops']:.0f}")
        if layer == "layer3" and device in matmul:
            line(f["gflops"] >= 0.8 * matmul[device], f"{layer} batch {B} ({device}): "
                 f"{f['gflops']:.0f} GFLOP/s vs 80% of the matmul's {matmul[device]:.0f}")
        if "peak_mem_bytes" in f and "peak_mem_bytes" in r:
            ratio = f["peak_mem_bytes"] / r["peak_mem_bytes"]
            line(ratio <= 0.5, f"{layer} batch {B} ({device}): peak memory {_mib(f['peak_mem_bytes'])} "
                 f"= {ratio:.2f} of the reference's {_mib(r['peak_mem_bytes'])}, bar 0.5")
    slow = [(k, by[REFERENCE]["time"] / by[FUSED]["time"]) for k, by in sorted(pts.items())
            if FUSED in by and REFERENCE in by and by[FUSED]["time"] > by[REFERENCE]["time"]]
    if pts:
        worst = min((by[REFERENCE]["time"] / by[FUSED]["time"], k) for k, by in pts.items()
                    if FUSED in by and REFERENCE in by)
        line(not slow, f"scaling sweep: slowest point {worst[1][1]}={worst[1][2]} at {worst[0]:.2f}x "
             f"the reference" + (f"; slower at {[f'{k[1]}={k[2]}' for k, _ in slow]}" if slow else ""))
    return out


def plot_sweep(series, path):
    """series: [(label or None, sweep points)], e.g. one run per allocator; the first drawn solid, the
    others fainter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_names = sorted({axis for _, pts in series for (_, axis, _) in pts})
    fig, axes = plt.subplots(2, len(axes_names), figsize=(4.2 * len(axes_names), 6.5), squeeze=False)
    for col, axis in enumerate(axes_names):
        for k, (run, pts) in enumerate(series):
            for device in sorted({d for (d, a, _) in pts if a == axis}):
                for name, style, color in ((FUSED, "o-", "C0"), (REFERENCE, "s--", "C1")):
                    xs, ts, gs = [], [], []
                    for (d, a, v), by in sorted(pts.items()):
                        if d == device and a == axis and name in by:
                            xs.append(v), ts.append(by[name]["time"] * 1e3), gs.append(by[name]["gflops"])
                    label = f"{name} ({device}{', ' + run if run else ''})"
                    look = dict(color=color, alpha=1.0 if k == 0 else 0.45, mfc="none" if k else color)
                    axes[0][col].plot(xs, ts, style, label=label, **look)
                    axes[1][col].plot(xs, gs, style, label=label, **look)
        for row, ylabel in enumerate(("time (ms)", "GFLOP/s")):
            ax = axes[row][col]
            ax.set_xscale("log", base=2)
            if row == 0:
                ax.set_yscale("log")
            ax.set_xlabel(axis)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
        axes[0][col].set_title(f"96->96 d4 fwd+bwd, sweep over {axis}")
    axes[1][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def describe_machine(info):
    cpu = info.get("cpu", {})
    brand = cpu.get("brand_raw", info.get("processor", "?"))
    return (f"{brand}, {cpu.get('count', '?')} logical CPUs, {info.get('system', '')} "
            f"{info.get('release', '')}, Python {info.get('python_version', '?')}, "
            f"allocator: {info.get('allocator', 'not recorded')}")


def build_report(path, plot=None, labels=(), also=()):
    machine, rows = load(path)
    matmul = matmul_rates(rows)
    lines = [f"# dyconv benchmark report\n\nSource: `{path}`; machine: {describe_machine(machine)}.",
             "Times are the minimum over the rounds; GFLOP/s count 2 FLOPs per multiply-add "
             "(forward + backward: three convolutions)."]
    if matmul:
        lines.append("\nLarge float32 matmul: " + ", ".join(f"{d}: {g:.0f} GFLOP/s" for d, g in matmul.items()))
    layer_lines, groups = layer_tables(rows, matmul)
    lines += ["\n## Paper layers"] + layer_lines
    s_lines, pts = sweep_table(rows)
    lines += s_lines
    lines += users_table(rows)
    lines += bar_checks(groups, pts, matmul)
    if plot and pts:
        runs = [pts] + [sweep_table(load(other)[1])[1] for other in also]
        plot_sweep(list(zip(labels or [None] * len(runs), runs)), plot)
        lines.append(f"\n![scaling sweep]({Path(plot).name})")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", help="file written by pytest --benchmark-json")
    ap.add_argument("--plot", metavar="PNG", help="also draw the scaling sweep into this PNG file")
    ap.add_argument("-o", "--output", metavar="MD", help="write the markdown here (default: stdout)")
    ap.add_argument("--also", nargs="+", default=[], metavar="JSON",
                    help="more runs of the suite (e.g. under another allocator) drawn fainter into --plot; "
                         "the report's tables are of the first")
    ap.add_argument("--labels", nargs="+", default=[], metavar="LABEL",
                    help="legend label of each run in --plot, the first JSON's first")
    a = ap.parse_args(argv)
    if a.also and not a.plot:
        ap.error("--also draws into --plot; give --plot PNG too")
    if a.labels and len(a.labels) != 1 + len(a.also):
        ap.error(f"--labels: expected one per run ({1 + len(a.also)}), got {len(a.labels)}")
    try:
        text = build_report(a.json, a.plot, a.labels, a.also)
    except ReportError as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    if a.output:
        Path(a.output).write_text(text)
        print(f"wrote {a.output}" + (f" and {a.plot}" if a.plot else ""), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
