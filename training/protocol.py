"""The paper's protocol (§4, §4.3) for one run of experiments/train.py.

1. CNN-FC on folds 1-8, selected on fold 9, frozen (or reused from the classifier cache).
2. Each requested enhancer trained on the frozen classifier with cross entropy and selected on fold 9:
   SFE, DFE and DSL directly; DCL as stage 1 = the DFE stage (trained, frozen), then stage 2.
3. Every system evaluated on fold 9, fold 10 clean and fold 10 with each noise at each SNR.
4. results.csv, table1.md, table2.md, figure3.png, models/<method>.pt in the output folder.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import audiodata
import models
import torch

from training import checkpoint, classifier_cache, multi_condition, reports, rundir
from training.context import Context
from training.distributed import Dist
from training.errors import UsageError
from training.eta import probe
from training.evaluate import conditions, evaluate
from training.figure import figure3
from training.log import Log, duration
from training.loop import train_stage
from training.options import Options, epochs_of
from training.stage_monitor import TrainingRecord

STAGE_SEED = {"cnn-fc": 0, "sfe": 1, "dfe": 2, "dcl": 3, "dsl": 4}  # each stage starts from seed * 10 + this
PROBE_BATCH = 32  # clips of the timed training step of the time estimate
FIGURE_METHODS = ("sfe", "dcl", "dsl")  # the paper's Figure 3 panels (c)-(e); DFE when it is the only enhancer


def stages_for(methods) -> list[str]:
    """Training stages in order: the classifier, then each enhancer (DCL's stage 1 is the DFE stage)."""
    stages = ["cnn-fc"]
    for m in methods:
        for s in (("dfe", "dcl") if m == "dcl" else (m,)):
            if s not in stages:
                stages.append(s)
    return stages


def run(opts: Options, d: Dist, log: Log) -> Path:
    t_start = time.perf_counter()
    device = torch.device("cuda", d.local_rank) if opts.device == "cuda" else torch.device("cpu")
    ctx = Context(device, opts.batch_size, opts.lr, opts.seed, dist=d, log=log)
    out = Path(d.broadcast(opts.out or rundir.default_out(opts.method)))
    config = rundir.run_config(opts, d.world_size)
    _on_main(d, lambda: rundir.check(out, config, opts.resume))

    log(f"config: {opts.config} ({opts.config_reason}); device {device}; {d.world_size} process(es)")
    log(f"epochs: {opts.classifier_epochs} classifier, {opts.enhancer_epochs} per enhancer stage; batch "
        f"{opts.batch_size}, Adam lr {opts.lr:g}, seed {opts.seed}")
    splits = _load_data(opts, d, log)
    _on_main(d, lambda: rundir.start(out, config, splits.fingerprint, splits.describe(), opts.resume))
    log.to_file(out / "train.log")
    log(f"output: {out}{' (resumed)' if opts.resume else ''}")
    log(f"data: {splits.describe()}")
    log(multi_condition.describe(opts))

    noises, snrs = audiodata.NOISE_TYPES, audiodata.SNRS_DB
    n_classes, n_mels = len(splits.class_names), audiodata.FEATURES.n_mels
    build = lambda name: models.build(name, opts.config, n_classes, n_mels).to(device)  # noqa: E731
    ckpt_dir = out / "checkpoints"
    methods = ["cnn-fc", *opts.methods]
    _plan_eta(stages_for(opts.methods), methods, splits, build, opts, ctx, ckpt_dir)
    log(f"estimated time: ~{duration(ctx.eta.remaining())} (from timing a few clips of each stage)")

    record = TrainingRecord(out, d.is_main)  # masks.csv, training.png: per-epoch instruments of every stage
    trained = {"cnn-fc": _train_classifier(build, splits, opts, ctx, ckpt_dir, record)}
    for stage in stages_for(opts.methods)[1:]:
        checkpoint.seed_everything(opts.seed * 10 + STAGE_SEED[stage])
        model = build(stage)
        if stage == "dcl":
            model.load_stage1(trained["dfe"])
        else:
            model.load_classifier(trained["cnn-fc"])
        train_set = multi_condition.training_set(splits, opts, stage, d.is_main)
        train_stage(stage, model, model.trainable_parameters(), train_set, splits.dev,
                    epochs_of(opts, stage), ckpt_dir / f"{stage}.pt", ctx, monitor=record.stage(stage, model))
        trained[stage] = model

    rows = []
    for m in methods:
        rows += _evaluate(m, trained[m], splits, noises, snrs, ctx, ckpt_dir / f"{m}.results.json")
        if d.is_main:
            _save_model(trained[m], m, opts, splits, out / "models" / f"{m}.pt")
            _write_reports(rows, noises, snrs, out)
    if d.is_main:
        _figure(trained, splits, out / "figure3.png", device)
        log("\n" + reports.table1(rows) + "\n")
        log(reports.table2(rows, noises, snrs))
    log(f"done in {duration(time.perf_counter() - t_start)}: results.csv, table1.md, table2.md, figure3.png "
        f"in {out}")
    return out


def _on_main(d: Dist, fn) -> None:
    """Run ``fn`` on rank 0; a UsageError there is raised on every process."""
    error = None
    if d.is_main:
        try:
            fn()
        except UsageError as e:
            error = str(e)
    error = d.broadcast(error)
    if error:
        raise UsageError(error)


def _load_data(opts: Options, d: Dist, log: Log):
    """Rank 0 extracts (and caches) every feature set first; the other processes then read the cache."""
    splits = None
    for turn in ("main", "others"):
        if (turn == "main") == d.is_main:
            try:
                splits = audiodata.load_splits(opts.data_root, noise_dir=opts.noise_dir, cache_dir=opts.cache_dir,
                                               seed=opts.seed, clips_per_class=opts.clips_per_class,
                                               workers=opts.workers, progress=d.is_main)
                grid = [(n, s) for _, n, s in conditions(audiodata.NOISE_TYPES, audiodata.SNRS_DB) if s is not None]
                for noise, snr in log.bar(grid, desc="noisy test sets", unit="set", leave=False):
                    splits.noisy_test(noise, snr)
            except (ValueError, FileNotFoundError) as e:
                raise UsageError(f"data: {e}") from None
        d.barrier()
    return splits


def _plan_eta(stages, methods, splits, build, opts: Options, ctx: Context, ckpt_dir: Path) -> None:
    """Predict the time of the stages and evaluations still to do from two timed batches of each model."""
    bpp = ctx.batch_per_process
    n_batch = min(bpp, len(splits.train))
    n = min(n_batch, PROBE_BATCH)  # the training step is timed on n clips and scaled to a batch
    x = torch.stack([splits.train[i][0] for i in range(n_batch)]).to(ctx.device)
    y = torch.tensor([int(splits.train[i][1]) for i in range(n_batch)], device=ctx.device)
    steps = math.ceil(math.ceil(len(splits.train) / ctx.dist.world_size) / bpp)
    n_eval = (len(splits.dev) + len(splits.test) * (1 + len(audiodata.NOISE_TYPES) * len(audiodata.SNRS_DB)))
    n_eval /= ctx.dist.world_size
    with torch.random.fork_rng():
        for name in dict.fromkeys(stages + methods):
            epochs = epochs_of(opts, name)
            epochs_left = _epochs_left(ckpt_dir / f"{name}.pt", epochs)
            evaluate_left = name in methods and not (ckpt_dir / f"{name}.results.json").exists()
            if name == "cnn-fc" and epochs_left == epochs and _cached_classifier(opts, splits, ctx).exists():
                epochs_left = 0
            if not (epochs_left if name in stages else 0) and not evaluate_left:
                continue
            model = build(name)
            timing = probe(model, model.trainable_parameters(), x, y, n)
            if name in stages:
                ctx.eta.plan(name, epochs_left, steps * timing.train_step_s * bpp / n +
                             len(splits.dev) / ctx.dist.world_size * timing.eval_sample_s)
            if evaluate_left:
                ctx.eta.plan(f"evaluate {name}", 1, n_eval * timing.eval_sample_s)


def _epochs_left(path: Path, epochs: int) -> int:
    if not path.exists():
        return epochs
    state = checkpoint.load(path)
    return 0 if state["done"] else epochs - state["epoch"] - 1


def _cached_classifier(opts: Options, splits, ctx: Context) -> Path:
    return classifier_cache.cached_path(opts.cache_dir, multi_condition.classifier_key(opts, splits.fingerprint),
                                        opts.config, opts.seed,
                                        opts.classifier_epochs, opts.batch_size, opts.lr, ctx.dist.world_size)


def _train_classifier(build, splits, opts: Options, ctx: Context, ckpt_dir: Path, record=None):
    """Train CNN-FC (or reuse the cached one trained with the same data, config and seed) and freeze it."""
    path, cached = ckpt_dir / "cnn-fc.pt", _cached_classifier(opts, splits, ctx)
    if not path.exists() and cached.exists():
        if ctx.dist.is_main:
            classifier_cache.copy(cached, path)
        ctx.dist.barrier()
        ctx.log(f"cnn-fc: reusing the classifier trained earlier with the same data, config and seed ({cached})")
    checkpoint.seed_everything(opts.seed * 10 + STAGE_SEED["cnn-fc"])
    model = build("cnn-fc")
    train_set = multi_condition.training_set(splits, opts, "cnn-fc", ctx.dist.is_main)
    train_stage("cnn-fc", model, list(model.parameters()), train_set, splits.dev, opts.classifier_epochs, path,
                ctx, monitor=record.stage("cnn-fc", model) if record else None)
    if ctx.dist.is_main and not cached.exists():
        classifier_cache.copy(path, cached)
        ctx.log(f"cnn-fc: cached for reuse by later runs with the same data, config and seed ({cached})")
    model.requires_grad_(False)
    return model.eval()


def _evaluate(method, model, splits, noises, snrs, ctx: Context, path: Path) -> list[dict]:
    """Rows of results.csv for ``method`` (read back when an earlier, interrupted run already evaluated it)."""
    if path.exists():
        ctx.log(f"{method}: evaluated earlier, results read from {path}")
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    rows = evaluate(method, model, splits, noises, snrs, ctx)
    if ctx.dist.is_main:
        checkpoint.save_json(rows, path)
    ctx.dist.barrier()
    ctx.eta.done(f"evaluate {method}", time.perf_counter() - t0)
    test = next(r for r in rows if r["split"] == "test" and r["noise"] == "clean")
    noisy = [r["accuracy"] for r in rows if r["noise"] != "clean"]
    ctx.log(f"{method}: test {100 * test['accuracy']:.2f}% clean, {100 * sum(noisy) / len(noisy):.2f}% mean over "
            f"{len(noisy)} noisy sets  ({duration(time.perf_counter() - t0)}; "
            f"remaining ~{duration(ctx.eta.remaining())})")
    return rows


def _save_model(model, method: str, opts: Options, splits, path: Path) -> None:
    """The selected model of ``method`` with what experiments/classify.py needs to rebuild it."""
    checkpoint.save({"method": method, "config": opts.config, "class_names": list(splits.class_names),
                     "n_mels": audiodata.FEATURES.n_mels, "state_dict": model.state_dict()}, path)


def _write_reports(rows, noises, snrs, out: Path) -> None:
    checkpoint.save_text(reports.results_csv(rows), out / "results.csv")
    checkpoint.save_text(reports.table1(rows), out / "table1.md")
    checkpoint.save_text(reports.table2(rows, noises, snrs), out / "table2.md")


def _figure(trained: dict, splits, path: Path, device, index: int = 0) -> None:
    """Figure 3: test clip ``index`` clean, with 5 dB pink noise, and enhanced by the trained enhancers."""
    shown = [m for m in FIGURE_METHODS if m in trained] or [m for m in ("dfe",) if m in trained]
    clean, label = splits.test[index]
    noisy, _ = splits.noisy_test("pink", 5)[index]
    enhanced, masks = {}, {}
    with torch.no_grad():
        for m in shown:
            trained[m].eval()
            x, stage_masks = trained[m].enhance(noisy[None].to(device))
            enhanced[m] = x[0, 0].cpu().numpy()
            masks[m] = torch.stack(stage_masks).prod(0)[0, 0].cpu().numpy()  # x_enhanced = x * this
    figure3(clean[0].numpy(), noisy[0].numpy(), enhanced, path,
            title=f"Test clip {index} (class: {splits.class_names[int(label)]})", masks=masks)
