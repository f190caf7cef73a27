"""The paper's protocol (§4, §4.3) for one run of experiments/train.py: parse -> plan -> execute -> report.

Per part of the plan (training/plan.py: one test fold and seed; the paper's protocol is the single part
test fold 10, dev fold 9, train folds 1-8):

1. CNN-FC on the train folds, selected on the dev fold, frozen (or reused from the classifier cache).
2. Each requested enhancer trained on the frozen classifier with cross entropy and selected on the dev fold:
   SFE, DFE and DSL directly; DCL as stage 1 = the DFE stage (trained, frozen), then stage 2.
3. Every system evaluated on the dev fold, the test fold clean and the test fold with each noise at each SNR
   (after all the part's stages are trained, as before plans: a diverged stage leaves no results).

Then the reports over all parts: results.csv, table1.md, table2.md (mean ± std over parts when there are
several), summary.md (several parts), robustness.png, mixtures.csv, figure3.png and models/<method>.pt
(of the part with test fold 10 and the first seed).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import audiodata
import models
import torch

from training import classifier_cache, multi_condition, rundir, stage1_reuse
from training.engine import checkpoint, files
from training.engine.context import Context
from training.engine.distributed import Dist
from training.engine.eta import probe
from training.engine.evaluate import conditions, evaluate
from training.engine.log import Log, duration
from training.engine.loop import train_stage
from training.errors import UsageError
from training.monitor.stage_monitor import TrainingRecord
from training.options import Options, epochs_of, patience_of
from training.plan import Part, Plan, Unit, make_plan
from training.reports import results
from training.reports.figure import figure3
from training.reports.robustness import robustness_figure
from training.reports.summary import summary_md

STAGE_SEED = {"cnn-fc": 0, "sfe": 1, "dfe": 2, "dcl": 3, "dsl": 4}  # each stage starts from seed * 10 + this
PROBE_BATCH = 32  # clips of the timed training step of the time estimate
FIGURE_METHODS = ("sfe", "dcl", "dsl")  # the paper's Figure 3 panels (c)-(e); DFE when it is the only enhancer
FIGURE_SNR = 5


def run(opts: Options, d: Dist, log: Log) -> Path:
    t_start = time.perf_counter()
    device = torch.device("cuda", d.local_rank) if opts.device == "cuda" else torch.device("cpu")
    ctx = Context(device, opts.batch_size, opts.lr, opts.seed, amp=opts.amp, dist=d, log=log)
    out = Path(d.broadcast(opts.out or rundir.default_out(opts.method)))
    config = rundir.run_config(opts, d.world_size)
    _on_main(d, lambda: rundir.check(out, config, opts.resume))
    stage1 = {}
    if opts.dfe_from:
        _on_main(d, lambda: stage1.update(source=stage1_reuse.check_source(opts.dfe_from, config)))
    if opts.resume:
        log.to_file(out / "train.log")
        log(f"output: {out} (resumed)")

    log(f"config: {opts.config} ({opts.config_reason}); device {device}; {d.world_size} process(es)")
    seeds = f"seed {opts.seed}" if len(opts.seeds) == 1 else f"seeds {','.join(map(str, opts.seeds))}"
    log(f"features: {opts.features}, SNR measured over the {opts.snr_reference} (docs/readings.md)")
    stop = f" (stopped after {opts.patience} epochs without a better dev accuracy)" if opts.patience else ""
    log(f"epochs: {opts.classifier_epochs} classifier, at most {opts.enhancer_epochs} per enhancer stage{stop}; batch "
        f"{opts.batch_size}, Adam lr {opts.lr:g}, {seeds}{', bfloat16 autocast (--amp)' if opts.amp else ''}")
    plan = make_plan(opts.protocol, opts.seeds, opts.methods, out / "checkpoints")
    if len(plan.parts) > 1:
        log(f"plan: {len(plan.parts)} parts ({_folds_text(plan)} x {seeds}), each training "
            f"{', '.join(plan.stages)}; checkpoints/<fold>-<seed>/ per part")
    log(multi_condition.describe(opts))

    executor = _Executor(opts, d, log, ctx, plan, out, config, stage1.get("source"))
    for part in plan.parts:
        executor.execute(part)

    rows = _rows(plan)
    noises = executor.noise_names or results.noises_of(rows)  # every part done earlier, none loaded
    if d.is_main:
        _write_reports(rows, noises, out, plan)
        log("\n" + results.table1(rows) + "\n")
        log(results.table2(rows, noises, audiodata.SNRS_DB))
        if len(plan.parts) > 1:
            log(summary_md(rows, noises, audiodata.SNRS_DB))
        log(f"done in {duration(time.perf_counter() - t_start)}: {_contents(out)} in {out}")
    return out


def _contents(out: Path) -> str:
    """What the run wrote, as the folder holds it: its files, then its folders (no list kept by hand to forget one)."""
    entries = sorted(p for p in out.iterdir() if not p.name.startswith("."))  # not a crashed write's temporary
    return ", ".join([p.name for p in entries if p.is_file()] + [f"{p.name}/" for p in entries if p.is_dir()])


def _folds_text(plan: Plan) -> str:
    folds = sorted({p.fold for p in plan.parts})
    return f"test fold {folds[0]}" if len(folds) == 1 else f"test folds {folds[0]}-{folds[-1]}"


class _Executor:
    """Runs the units of the plan part by part: loads a part's data, trains and evaluates its units, writes
    its manifest (and the figure and models of the main part), releases its noisy sets, marks it done."""

    def __init__(self, opts: Options, d: Dist, log: Log, ctx: Context, plan: Plan, out: Path, config: dict,
                 stage1_source: dict | None = None):
        self.opts, self.d, self.log, self.ctx, self.plan, self.out, self.config = opts, d, log, ctx, plan, out, config
        self.stage1_source = stage1_source  # --dfe-from: the source run's config.json (rank 0 only)
        self.noise_names: tuple[str, ...] | None = None
        self.eta_planned = False

    def execute(self, part: Part) -> None:
        opts, log, plan = self.opts, self.log, self.plan
        multi = len(plan.parts) > 1
        if part.done_marker.exists():
            log(f"{part.name}: done earlier, results read from {part.folder}")
            return
        if multi:
            log(f"=== {part.name}: test fold {part.fold}, dev fold {part.dev_fold}, seed {part.seed} "
                f"(part {plan.parts.index(part) + 1} of {len(plan.parts)}) ===")
        splits = self._load(part)
        if opts.dfe_from:
            self._take_stage1(part, splits.fingerprint)
        ctx = dataclasses.replace(self.ctx, seed=part.seed)
        n_classes, n_mels = len(splits.class_names), audiodata.FEATURES.n_mels
        build = lambda name: models.build(name, opts.config, n_classes, n_mels).to(ctx.device)  # noqa: E731
        if not self.eta_planned:
            _plan_eta(plan, part, splits, build, opts, ctx)
            self.eta_planned = True
            log(f"estimated time: ~{duration(ctx.eta.remaining())} (from timing a few clips of each stage"
                f"{'; the other parts assumed like this one' if multi else ''})")

        # masks.csv, training.png: per-epoch instruments of every stage, in the run folder (in the part's folder
        # when the run has several parts)
        record = TrainingRecord(part.folder if multi else self.out, self.d.is_main)
        trained = {}
        for unit in plan.units_of(part):
            if unit.action == "train":
                trained[unit.stage] = _train(unit, build, splits, trained, opts, ctx, record)
            else:
                _evaluate(unit, trained[unit.stage], splits, self.noise_names, ctx)
                if self.d.is_main:
                    if part == plan.main:
                        _save_model(trained[unit.stage], unit.stage, opts, splits, self.out / "models" /
                                    f"{unit.stage}.pt")
                    _write_tables(_rows(plan), self.noise_names, self.out)
        if self.d.is_main:
            _write_mixtures(splits, part, self.noise_names)
            if part == plan.main:
                _figure(trained, splits, self.out / "figure3.png", ctx.device, self.figure_noise)
        self.d.barrier()
        if self.d.is_main and opts.protocol == "cv10":  # at most one fold's noisy sets on disk at a time
            freed = splits.release_noisy()
            log(f"{part.name}: released the noisy test sets of test fold {part.fold} from the cache "
                f"({freed / 1e6:.1f} MB)")
        if self.d.is_main:
            checkpoint.save_json({"fold": part.fold, "seed": part.seed, "finished": time.strftime(
                "%Y-%m-%d %H:%M:%S %z")}, part.done_marker)
        self.d.barrier()

    def _take_stage1(self, part: Part, fingerprint: str) -> None:
        copied = []
        _on_main(self.d, lambda: copied.extend(stage1_reuse.take(self.opts.dfe_from, self.stage1_source, part,
                                                                 fingerprint)))
        if copied:
            self.log(f"{part.name}: stage 1 (dfe) and the classifier taken from {self.opts.dfe_from} "
                     f"({', '.join(copied)})")

    def _load(self, part: Part):
        opts, d, log = self.opts, self.d, self.log
        splits = _load_data(opts, part, d, log)
        names = tuple(splits.noise_names)
        if self.noise_names is not None and names != self.noise_names:
            raise RuntimeError(f"{part.name}: noises {names} differ from the earlier parts' {self.noise_names}")
        self.noise_names = names
        self.figure_noise = _figure_noise(opts, names)
        identity = {"fingerprint": splits.fingerprint, "data": splits.describe()}
        if part == self.plan.parts[0]:
            _on_main(d, lambda: rundir.start(self.out, self.config, splits.fingerprint, splits.describe(),
                                             opts.resume))
            if not opts.resume:
                log.to_file(self.out / "train.log")
                log(f"output: {self.out}")
        _on_main(d, lambda: _check_part_data(part, identity))
        log(f"data: {splits.describe()}")
        log(f"noises: {', '.join(names)} at {', '.join(f'{s:g}' for s in audiodata.SNRS_DB)} dB")
        return splits


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


def _check_part_data(part: Part, identity: dict) -> None:
    """The first time a part loads its data, record which data; on --resume, refuse data that changed."""
    path = part.folder / "data.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved["fingerprint"] != identity["fingerprint"]:
            raise UsageError(f"--resume: the data of {part.name} changed since it started (fingerprint "
                             f"{saved['fingerprint']} then, {identity['fingerprint']} now); start a new --out")
        return
    checkpoint.save_json(identity, path)


def _figure_noise(opts: Options, names) -> str:
    if opts.figure_noise is not None:
        if opts.figure_noise not in names:
            raise UsageError(f"--figure-noise: expected one of the noises evaluated ({', '.join(names)}), got "
                             f"{opts.figure_noise!r}")
        return opts.figure_noise
    return "pink" if "pink" in names else names[0]


def _load_data(opts: Options, part: Part, d: Dist, log: Log):
    """Rank 0 extracts (and caches) every feature set of the part first; the other processes then read the cache."""
    splits = None
    for turn in ("main", "others"):
        if (turn == "main") == d.is_main:
            try:
                splits = audiodata.load_splits(
                    opts.data_root, noise_dir=opts.noise_dir, noises=opts.noises, cache_dir=opts.cache_dir,
                    seed=part.seed, data_seed=opts.seeds[0] if opts.data_seed is None else opts.data_seed,
                    test_fold=part.fold, dev_fold=part.dev_fold,
                    clips_per_class=opts.clips_per_class, workers=opts.workers, progress=d.is_main,
                    features=opts.features, snr_reference=opts.snr_reference)
                _figure_noise(opts, splits.noise_names)  # a usage error before the noisy sets are extracted
                grid = [(n, s) for _, n, s in conditions(splits.noise_names, audiodata.SNRS_DB) if s is not None]
                for noise, snr in log.bar(grid, desc="noisy test sets", unit="set", leave=False):
                    splits.noisy_test(noise, snr)
            except UsageError:
                raise
            except (ValueError, FileNotFoundError) as e:
                flag = "--noises" if opts.noises is not None and "nois" in str(e) else "data"
                raise UsageError(f"{flag}: {e}") from None
        d.barrier()
    return splits


def _plan_eta(plan: Plan, current: Part, splits, build, opts: Options, ctx: Context) -> None:
    """Predict the time of the units still to do, in every part, from two timed batches of each model on the
    data of ``current`` (the other parts are assumed to have its sizes)."""
    bpp = ctx.batch_per_process
    n_batch = min(bpp, len(splits.train))
    n = min(n_batch, PROBE_BATCH)  # the training step is timed on n clips and scaled to a batch
    x = torch.stack([splits.train[i][0] for i in range(n_batch)]).to(ctx.device)
    y = torch.tensor([int(splits.train[i][1]) for i in range(n_batch)], device=ctx.device)
    steps = math.ceil(math.ceil(len(splits.train) / ctx.dist.world_size) / bpp)
    n_eval = len(splits.dev) + len(splits.test) * (1 + len(splits.noise_names) * len(audiodata.SNRS_DB))
    n_eval /= ctx.dist.world_size
    epochs_left, evaluations_left = {}, {}
    for unit in plan.units:
        if unit.part.done_marker.exists():
            continue
        if unit.action == "evaluate":
            if not unit.results.exists():
                evaluations_left[unit.stage] = evaluations_left.get(unit.stage, 0) + 1
            continue
        epochs = epochs_of(opts, unit.stage)
        left = _epochs_left(unit.checkpoint, epochs)
        if (unit.stage == "cnn-fc" and unit.part == current and left == epochs and
                _cached_classifier(opts, splits, unit.seed, ctx).exists()):
            left = 0
        epochs_left[unit.stage] = epochs_left.get(unit.stage, 0) + left
    with torch.random.fork_rng():
        for name in plan.stages:
            if not epochs_left.get(name) and not evaluations_left.get(name):
                continue
            model = build(name)
            timing = probe(model, model.trainable_parameters(), x, y, n)
            if epochs_left.get(name):
                ctx.eta.plan(name, epochs_left[name], steps * timing.train_step_s * bpp / n +
                             len(splits.dev) / ctx.dist.world_size * timing.eval_sample_s)
            if evaluations_left.get(name):
                ctx.eta.plan(f"evaluate {name}", evaluations_left[name], n_eval * timing.eval_sample_s)


def _epochs_left(path: Path, epochs: int) -> int:
    if not path.exists():
        return epochs
    state = checkpoint.load(path)
    return 0 if state["done"] else epochs - state["epoch"] - 1


def _cached_classifier(opts: Options, splits, seed: int, ctx: Context) -> Path:
    return classifier_cache.cached_path(opts.cache_dir, multi_condition.classifier_key(opts, splits.fingerprint),
                                        opts.config, seed, opts.classifier_epochs, opts.batch_size, opts.lr,
                                        ctx.dist.world_size, amp=opts.amp)


def _train(unit: Unit, build, splits, trained: dict, opts: Options, ctx: Context, record: TrainingRecord):
    """Train the unit's stage (or load it, finished earlier) on the frozen stages it builds on."""
    if unit.stage == "cnn-fc":
        return train_classifier(build, splits, unit, opts, ctx, record)
    checkpoint.seed_everything(unit.seed * 10 + STAGE_SEED[unit.stage])
    model = build(unit.stage)
    if unit.stage == "dcl":
        model.load_stage1(trained["dfe"])
    else:
        model.load_classifier(trained["cnn-fc"])
    train_set = multi_condition.training_set(splits, opts, unit.stage, unit.seed, ctx.dist.is_main)
    train_stage(unit.stage, model, model.trainable_parameters(), train_set, splits.dev,
                epochs_of(opts, unit.stage), unit.checkpoint, ctx, monitor=record.stage(unit.stage, model),
                patience=patience_of(opts, unit.stage))
    return model


def train_classifier(build, splits, unit: Unit, opts: Options, ctx: Context, record: TrainingRecord):
    """Train CNN-FC (or reuse the cached one trained with the same data, config and seed) and freeze it."""
    path, cached = unit.checkpoint, _cached_classifier(opts, splits, unit.seed, ctx)
    if not path.exists() and cached.exists():
        if ctx.dist.is_main:
            classifier_cache.copy(cached, path)
        ctx.dist.barrier()
        ctx.log(f"cnn-fc: reusing the classifier trained earlier with the same data, config and seed ({cached})")
    checkpoint.seed_everything(unit.seed * 10 + STAGE_SEED["cnn-fc"])
    model = build("cnn-fc")
    train_set = multi_condition.training_set(splits, opts, "cnn-fc", unit.seed, ctx.dist.is_main)
    train_stage("cnn-fc", model, list(model.parameters()), train_set, splits.dev, opts.classifier_epochs, path,
                ctx, monitor=record.stage("cnn-fc", model))
    if ctx.dist.is_main and not cached.exists():
        classifier_cache.copy(path, cached)
        ctx.log(f"cnn-fc: cached for reuse by later runs with the same data, config and seed ({cached})")
    model.requires_grad_(False)
    return model.eval()


def _evaluate(unit: Unit, model, splits, noises, ctx: Context) -> list[dict]:
    """Rows of results.csv for the unit (read back when an earlier, interrupted run already evaluated it)."""
    method, path = unit.stage, unit.results
    if path.exists():
        ctx.log(f"{method}: evaluated earlier, results read from {path}")
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    rows = [{"fold": unit.fold, "seed": unit.seed, **r}
            for r in evaluate(method, model, splits, noises, audiodata.SNRS_DB, ctx)]
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


def _rows(plan: Plan) -> list[dict]:
    """Every result row written so far, in plan order."""
    rows = []
    for path in plan.results_files:
        if path.exists():
            rows += json.loads(path.read_text())
    return rows


def _save_model(model, method: str, opts: Options, splits, path: Path) -> None:
    """The selected model of ``method`` with what experiments/classify.py needs to rebuild it."""
    checkpoint.save({"method": method, "config": opts.config, "class_names": list(splits.class_names),
                     "n_mels": audiodata.FEATURES.n_mels, "features": splits.features,
                     "feature_config": dataclasses.asdict(splits.feature_config), "snr_reference": splits.snr_reference,
                     "state_dict": model.state_dict()}, path)


def _write_tables(rows, noises, out: Path) -> None:
    files.save_text(results.results_csv(rows), out / "results.csv")
    files.save_text(results.table1(rows), out / "table1.md")
    files.save_text(results.table2(rows, noises, audiodata.SNRS_DB), out / "table2.md")


def _write_reports(rows, noises, out: Path, plan: Plan) -> None:
    """The run's reports over every part."""
    _write_tables(rows, noises, out)
    if len(plan.parts) > 1:
        files.save_text(summary_md(rows, noises, audiodata.SNRS_DB), out / "summary.md")
    robustness_figure(rows, noises, audiodata.SNRS_DB, out / "robustness.png")
    results.concatenate_csv([p.mixtures for p in plan.parts], out / "mixtures.csv")


def _write_mixtures(splits, part: Part, noises) -> None:
    """The mixing manifest of every noisy test set of the part (audiodata's Splits.mixtures rows: seed, test
    fold, noise file and fingerprint, each clip's noise offset and the SNR measured after mixing)."""
    rows = [r for _, noise, snr in conditions(noises, audiodata.SNRS_DB) if snr is not None
            for r in splits.mixtures(noise, snr)]
    files.save_text(results.dict_csv(rows), part.mixtures)


def _figure(trained: dict, splits, path: Path, device, noise: str, index: int = 0) -> None:
    """Figure 3: test clip ``index`` clean, with 5 dB of ``noise``, and enhanced by the trained enhancers."""
    shown = [m for m in FIGURE_METHODS if m in trained] or [m for m in ("dfe",) if m in trained]
    clean, label = splits.test[index]
    noisy, _ = splits.noisy_test(noise, FIGURE_SNR)[index]
    enhanced, masks = {}, {}
    with torch.no_grad():
        for m in shown:
            trained[m].eval()
            x, stage_masks = trained[m].enhance(noisy[None].to(device))
            enhanced[m] = x[0, 0].cpu().numpy()
            masks[m] = torch.stack(stage_masks).prod(0)[0, 0].cpu().numpy()  # x_enhanced = x * this
    figure3(clean[0].numpy(), noisy[0].numpy(), enhanced, path, noise=f"+{FIGURE_SNR} dB {noise}",
            title=f"Test clip {index} (class: {splits.class_names[int(label)]})", masks=masks,
            log_scale=splits.feature_config.compression == "none")  # no logarithm in the features
