"""The runner: cards in, a resumable run directory out (DESIGN §3).

:func:`plan` builds the editor, dataset, evaluators and the ordered request list from a
method and a protocol card; :func:`execute` edits the pending requests in batches
(grouped per setting, then per image, so ``Editor.edit_many`` can share work across an
image's targets), writes each edit as a lossless PNG, scores it, and appends one record
per edit. A problem with one image (unreadable file, editor error on that image) becomes
a ``status="error"`` record with the reason and the run goes on.

Example (with the built-in identity editor and a tiny folder of images):
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from emobench.imageio import save_png
    >>> from emobench.cards import load_method, load_protocol, apply_overrides
    >>> root = Path(tempfile.mkdtemp())
    >>> for label in ("neutral", "happy"):
    ...     _ = save_png(torch.rand(3, 32, 32), root / "faces" / label / "p1.png")
    >>> method, proto = apply_overrides(load_method("identity"), load_protocol("folder"),
    ...     [f"dataset.root={root / 'faces'}", "protocol.evaluators=[]", "protocol.resolution=16",
    ...      "protocol.targets=['happy', 'sad']"])
    >>> result = run(method, proto, RunOptions(out=root / "runs", quiet=True, device="cpu"))
    >>> result.written, result.errors
    (3, 0)
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from tqdm import tqdm

from emobench._version import __version__
from emobench.building import absolute_paths, build_dataset, build_editor, build_evaluators, call_plugin, \
    describe_plugin, resolve_device
from emobench.cards import MethodCard, ProtocolCard, blame, config_hash, diff_keys
from emobench.datasets.base import Dataset, Sample
from emobench.editors import EDITORS
from emobench.editors.base import EditBatch, EditOutput, Editor
from emobench.errors import UserError
from emobench.evaluators.base import EvalBatch, Evaluator
from emobench.imageio import ImageReadError, pixel_sha256, save_png
from emobench.labels import EMOTIONS
from emobench.leakage import leakage_warnings
from emobench.protocol import (Request, Setting, build_requests, grid_points, in_shard, per_class_shortfall,
                               select_samples)
from emobench.scoring import finite, make_eval_batch, metric_infos, quantize, score_batch
from emobench.runlock import RunLock
from emobench.store import RunStore, manifest_files, read_json_or_none


@dataclass(frozen=True)
class RunOptions:
    """How to run (none of this changes results, so none of it is in the config hash)."""

    out: Path = Path("runs")
    run_dir: Path | None = None  # explicit run directory instead of out/<protocol>/<method>/<hash12>
    shard: int = 0
    num_shards: int = 1
    limit: int | None = None  # only the first N requests of this shard (protocol order)
    batch_size: int | None = None  # output rows per editor call; None: auto (auto_batch_size)
    device: str = "cpu"
    overwrite: bool = False
    retry_errors: bool = False  # redo requests whose only records are status="error" (a new row is appended)
    overlap: str = "auto"  # write and score a batch while the next is edited: "on" | "off" | "auto" (on with CUDA)
    quiet: bool = False
    argv: tuple[str, ...] = ()


@dataclass
class RunResult:
    """What one invocation did."""

    run_dir: Path
    total: int  # requests in this shard (after --limit)
    skipped: int  # already recorded before this invocation
    written: int  # records appended now
    errors: int  # of which status="error"
    timing: "Timing | None" = None


@dataclass
class Plan:
    """Everything resolved before the first edit."""

    method: MethodCard
    protocol: ProtocolCard
    editor: Editor
    dataset: Dataset
    evaluators: list[Evaluator]
    settings: list[Setting]
    requests: list[Request]
    config: dict[str, Any]
    config_hash: str
    dataset_info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- planning


def resolve_settings(editor: Editor, method: MethodCard, protocol: ProtocolCard) -> list[Setting]:
    """Grid points with every edit param resolved (card params < grid point < editor defaults filled in)."""
    settings = []
    what = describe_plugin(EDITORS, method.editor)
    for point in grid_points(protocol.grid):
        merged = {**dict(method.params), **dict(point.params)}
        try:
            parsed = call_plugin(what, lambda: dataclasses.asdict(editor.parse_params(merged)),
                                 f"method {method.name!r} params at grid point {point.id!r}")
        except UserError as exc:
            key = getattr(exc.__cause__, "key", "")
            if key in point.params:  # a grid value: the protocol's [grid] (or --set grid.KEY) gave it
                raise UserError(f"{blame(protocol, f'grid.{key}')} (grid point {point.id}): {exc.__cause__}") from exc
            if key in method.params:
                raise UserError(f"{blame(method, f'params.{key}')}: {exc.__cause__}") from exc
            raise
        settings.append(Setting(point.id, parsed))
    return settings


def image_key(dataset: Dataset, sample: Sample, resolution: int) -> str:
    """Content hash of a sample: its file's sha256, the dataset's own key (a generated image's parameters,
    :meth:`~emobench.datasets.base.Dataset.content_key`), or the sha256 of its pixels; ``unreadable:`` if none."""
    if sample.path is not None:
        try:
            return "file:" + hashlib.sha256(Path(sample.path).read_bytes()).hexdigest()
        except OSError:
            return f"unreadable:{sample.id}"
    own = dataset.content_key(sample, resolution)
    if own is not None:
        return own
    try:
        return "pixels:" + pixel_sha256(dataset.load(sample, resolution))
    except Exception:  # noqa: BLE001 - the image's own rows report it when the run tries to load it
        return f"unreadable:{sample.id}"


def plan(method: MethodCard, protocol: ProtocolCard, device: str = "cpu", quiet: bool = True) -> Plan:
    """Build everything a run needs and list its requests in order (relative paths made absolute first)."""
    protocol = absolute_paths(protocol)
    editor = build_editor(method, device)
    settings = resolve_settings(editor, method, protocol)
    dataset = build_dataset(protocol)
    samples = select_samples(dataset.samples(), protocol.sources, protocol.per_class)
    if not samples:
        raise UserError(f"protocol {protocol.name!r}: the dataset has no images with source labels "
                        f"{', '.join(protocol.sources)}")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise UserError(f"dataset {protocol.dataset!r}: image ids are not unique")
    keys = {s.id: image_key(dataset, s, protocol.resolution)
            for s in tqdm(samples, desc="hashing images", disable=quiet, leave=False)}
    identity = editor.identity()
    method_key = config_hash(identity, 64)
    requests = build_requests(samples, keys, targets=protocol.targets, seeds=protocol.seeds, settings=settings,
                              method_key=method_key, resolution=protocol.resolution)
    evaluators = build_evaluators(protocol, device)
    # Resolved settings and the image content are part of the config: a changed editor default or a
    # changed image must not append to the records of the old run.
    content = hashlib.sha256("\n".join(f"{i}\t{keys[i]}" for i in ids).encode()).hexdigest()
    config = {"method": {**method.config(), "identity": identity}, "protocol": protocol.config(),
              "settings": [{"id": s.id, "params": dict(s.params)} for s in settings],
              "images_sha256": content}
    dataset_info = {**dataset.describe(), "num_images": len(samples),
                    "id_list_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
                    "content_sha256": content}
    # The dataset's warnings (a class short of per_class, skipped rows, a face crop unlike the paper's)
    # join the manifest's warnings, which every caption prints.
    dataset_info["warnings"] = list(dataset_info.get("warnings", [])) + per_class_shortfall(
        dataset.samples(), protocol.sources, protocol.per_class)
    return Plan(method, protocol, editor, dataset, evaluators, settings, requests, config, config_hash(config),
                dataset_info)


# --------------------------------------------------------------------------- running


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions(device: str) -> dict[str, Any]:
    """Software versions for the manifest (no hostname, no environment)."""
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    return {"emobench": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda if cuda else None,
            "gpu": torch.cuda.get_device_name(torch.device(device)) if cuda else None}


def run_dir_for(p: Plan, options: RunOptions) -> Path:
    """``out/<protocol>/<method>/<config-hash12>`` unless ``options.run_dir`` is given."""
    if options.run_dir is not None:
        return Path(options.run_dir)
    return Path(options.out) / p.protocol.name / p.method.name / p.config_hash


def check_existing(run_dir: Path, p: Plan, overwrite: bool, store: RunStore) -> None:
    """Refuse to mix records of different configs in one folder (unless ``overwrite``).

    With shards, ``overwrite`` clears only this shard's files (the other shards may be running), so
    other shards' files of another config are refused instead of being left beside the new ones.
    """
    manifests = {path: read_json_or_none(path) for path in manifest_files(run_dir)}
    other = {path: m for path, m in manifests.items() if (m or {}).get("config_hash") != p.config_hash}
    if not other:
        if overwrite:
            store.clear()
        return
    path, old = next(iter(other.items()))
    old = old or {}
    if not overwrite:
        lines = diff_keys(old.get("config", {}), p.config)
        raise UserError(
            f"{run_dir} holds a run with config {old.get('config_hash')}, this one is {p.config_hash}; "
            f"differing keys:\n  " + "\n  ".join(lines or ["(none listed)"]) +
            "\nUse another --run-dir, or --overwrite to delete the old records and edits.")
    foreign = [q.name for q in other if q != store.manifest_path]
    if store.num_shards > 1 and foreign:
        raise UserError(f"{run_dir}: --overwrite with --shard clears only this shard's files, but "
                        f"{', '.join(foreign)} belong to another config ({old.get('config_hash')}); clear them with "
                        f"an unsharded --overwrite first, or use another --run-dir")
    store.clear()


def _manifest(p: Plan, options: RunOptions, device: str, started: str, counts: Mapping[str, Any],
              status: str, finished: str | None, batch_sizes: Sequence[int] = (),
              timing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    infos = [ev.info() for ev in p.evaluators]
    return {
        "config_hash": p.config_hash,
        "config": p.config,
        "cards": {"method": {"path": p.method.path, "sha256": p.method.sha256},
                  "protocol": {"path": p.protocol.path, "sha256": p.protocol.sha256}},
        "method": {"name": p.method.name, "editor": p.method.editor, "title": p.method.title,
                   "citation": p.method.citation, "license": p.method.license},
        "evaluators": [dataclasses.asdict(info) for info in infos],
        "warnings": leakage_warnings(p.config["method"]["identity"], infos) + list(p.dataset_info.get("warnings", [])),
        "metrics": [dataclasses.asdict(m) for m in metric_infos(p.evaluators)],
        "dataset": p.dataset_info,
        "settings": [{"id": s.id, "params": dict(s.params)} for s in p.settings],
        "seeds": list(p.protocol.seeds),
        "shard": {"index": options.shard, "count": options.num_shards},
        # Not in the config hash (a run may resume at another size), but it changes floating-point
        # results slightly (docs/spine.md): every size this shard's records were made with is kept.
        "batch_size": options.batch_size,
        "batch_sizes": sorted({*batch_sizes, options.batch_size}),
        "requests": dict(counts),
        "device": device,
        "dtype": "float32",
        "timing": dict(timing or {}),
        "versions": versions(device),
        "git_commit": _git_commit(),
        "argv": list(options.argv),
        "started": started,
        "finished": finished,
        "status": status,
    }


def _batches(requests: Sequence[Request], batch_size: int) -> list[list[Request]]:
    """Consecutive requests of one setting, whole images where possible, at most ``batch_size`` rows."""
    groups: list[list[Request]] = []
    for req in requests:
        if groups and groups[-1][0].sample.id == req.sample.id and groups[-1][0].setting.id == req.setting.id \
                and len(groups[-1]) < batch_size:
            groups[-1].append(req)
        else:
            groups.append([req])
    batches: list[list[Request]] = []
    for group in groups:
        if batches and batches[-1][0].setting.id == group[0].setting.id and len(batches[-1]) + len(group) <= batch_size:
            batches[-1].extend(group)
        else:
            batches.append(list(group))
    return batches


def _base_record(req: Request, p: Plan, shard: str) -> dict[str, Any]:
    record = {"request_id": req.request_id, "image_id": req.sample.id, "person": req.sample.person,
              "source": EMOTIONS[req.sample.label], "source_index": req.sample.label,
              "target": EMOTIONS[req.target], "target_index": req.target, "seed": req.seed,
              "setting": req.setting.id}
    record.update({f"param.{k}": v for k, v in req.setting.params.items()})
    record.update({"method": p.method.name, "editor": p.method.editor, "output": None, "output_sha256": None,
                   "runtime_s": None, "status": "ok", "error": None})
    return record


def conditioning_columns(out: EditOutput, rows: int) -> list[dict[str, Any]]:
    """``cond.*`` columns per row from what the editor says it used (``EditOutput.used``) and the per-row means
    of its extra maps (GANimation's attention): one number or string per column, lists and dicts spread
    over ``cond.<key>.<index|name>`` so the records stay tidy.

    Example:
        >>> import torch
        >>> out = EditOutput(torch.zeros(1, 3, 2, 2), {"attention": torch.ones(1, 1, 2, 2)}, [{"code": [0.5, -1.0]}])
        >>> conditioning_columns(out, 1)
        [{'cond.code.0': 0.5, 'cond.code.1': -1.0, 'cond.attention_mean': 1.0}]
    """
    def spread(prefix: str, value: Any, into: dict[str, Any]) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                spread(f"{prefix}.{k}", v, into)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                spread(f"{prefix}.{i}", v, into)
        elif isinstance(value, (bool, int, float, str)) or value is None:
            into[prefix] = value
        else:
            into[prefix] = str(value)

    columns: list[dict[str, Any]] = [{} for _ in range(rows)]
    for i, used in enumerate(out.used[:rows]):
        for key, value in used.items():
            spread(f"cond.{key}", value, columns[i])
    for name, tensor in out.extras.items():
        if isinstance(tensor, torch.Tensor) and tensor.ndim >= 1 and tensor.shape[0] == rows:
            means = tensor.detach().float().reshape(rows, -1).mean(1).tolist()
            for i in range(rows):
                columns[i][f"cond.{name}_mean"] = round(float(means[i]), 6)
    return columns


class _BatchRunner:
    """Edits, saves, scores and records one batch at a time."""

    def __init__(self, p: Plan, store: RunStore, resolution: int):
        self.p, self.store, self.resolution = p, store, resolution
        self.metric_names = [m.name for m in metric_infos(p.evaluators)]
        self.shard = f"{store.shard}/{store.num_shards}"

    def _finish(self, record: dict[str, Any], metrics: Mapping[str, float | None] | None) -> dict[str, Any]:
        for name in self.metric_names:
            record[f"metric.{name}"] = None if metrics is None else metrics.get(name)
        record["shard"] = self.shard
        return record

    def error_record(self, req: Request, message: str) -> dict[str, Any]:
        record = _base_record(req, self.p, self.shard)
        record.update(status="error", error=message)
        return self._finish(record, None)

    def _edit(self, reqs: list[list[Request]], images: torch.Tensor,
              progress: Callable[[float], None] | None) -> tuple[EditOutput, list[str | None]]:
        flat = [r for group in reqs for r in group]

        def reference(i: int, target: int) -> torch.Tensor | None:  # the dataset's real target (groundtruth)
            ref = self.p.dataset.reference(reqs[i][0].sample, target, self.resolution)
            return None if ref is None else quantize(ref)

        batch = EditBatch(images=images, image_ids=[g[0].sample.id for g in reqs],
                          source_labels=[g[0].edit_source for g in reqs], targets=[[r.target for r in g] for g in reqs],
                          seeds=[r.seed for r in flat], params=dict(flat[0].setting.params), references=reference,
                          progress=progress)
        out, errors = self.p.editor.edit_batch(batch)
        if tuple(out.images.shape) != (len(flat), *images.shape[1:]):
            raise RuntimeError(f"editor returned shape {tuple(out.images.shape)}, expected "
                               f"{(len(flat), *images.shape[1:])}")
        return out, errors

    def _edit_isolating(self, groups: list[list[Request]], images: torch.Tensor,
                        progress: Callable[[float], None] | None = None
                        ) -> list[tuple[Request, torch.Tensor | None, str | None, float, dict[str, Any]]]:
        """Edit all groups at once; if that fails, one image at a time so one bad image only fails itself."""
        start = time.perf_counter()
        try:
            out, errors = self._edit(groups, images, progress)
        except (torch.cuda.OutOfMemoryError, MemoryError):
            raise  # not a problem of these images: the user lowers --batch-size or changes --device
        except Exception as exc:  # noqa: BLE001 - per-row errors are the contract
            if len(groups) == 1:
                message = f"editor failed: {type(exc).__name__}: {exc}"
                return [(r, None, message, 0.0, {}) for r in groups[0]]
            rows = []
            for i, group in enumerate(groups):
                rows.extend(self._edit_isolating([group], images[i:i + 1]))  # no progress: rare and short
            return rows
        flat = [r for g in groups for r in g]
        per_row = (time.perf_counter() - start) / max(len(flat), 1)
        conditioning = conditioning_columns(out, len(flat))
        return [(r, out.images[i], errors[i], per_row, conditioning[i]) for i, r in enumerate(flat)]

    def edit(self, batch: list[Request], progress: Callable[[float], None] | None = None) -> "EditedBatch":
        """Load and edit one batch, and gather what scoring needs from the dataset (editing thread)."""
        groups: list[list[Request]] = []
        for req in batch:
            if groups and groups[-1][0].sample.id == req.sample.id:
                groups[-1].append(req)
            else:
                groups.append([req])
        done = EditedBatch(batch)
        loaded, good_groups = [], []
        for group in groups:
            sample = group[0].sample
            try:
                image = self.p.dataset.load(sample, self.resolution)
                if tuple(image.shape) != (3, self.resolution, self.resolution):
                    raise ValueError(f"dataset gave shape {tuple(image.shape)}, expected "
                                     f"(3, {self.resolution}, {self.resolution})")
                # Sources are 8-bit like every image file (generated datasets render floats): the
                # identity edit then equals its source exactly, and `score` sees the same pixels.
                image = quantize(image)
            except Exception as exc:  # noqa: BLE001 - whatever one image does to its decoder fails only its rows
                reason = str(exc) if isinstance(exc, ImageReadError) else f"{type(exc).__name__}: {exc}"
                done.records.extend(self.error_record(r, f"cannot read image {sample.id!r}: {reason}") for r in group)
                continue
            loaded.append(image)
            good_groups.append(group)
        if not good_groups:
            return done
        images = torch.stack(loaded)
        rows = self._edit_isolating(good_groups, images, progress)
        source_of = {g[0].sample.id: images[i] for i, g in enumerate(good_groups)}
        for req, edit, error, runtime, cond in rows:
            if edit is None or error is not None:
                done.records.append(self.error_record(req, error or "editor returned no image"))
                continue
            record = _base_record(req, self.p, self.shard)
            record.update(cond)
            record["output"] = self.store.output_relpath(req.request_id)
            record["runtime_s"] = runtime
            done.ok.append((req, record, quantize(edit.cpu())))
        if done.ok and self.p.evaluators:
            # References come from the dataset, which is not shared across threads: read them here.
            ok = done.ok
            done.eval_batch = make_eval_batch(self.p.dataset, [r.sample for r, _, _ in ok], [r.target for r, _, _ in ok],
                                              torch.stack([source_of[r.sample.id] for r, _, _ in ok]),
                                              torch.stack([e for _, _, e in ok]), self.resolution)
        return done

    def finish(self, done: "EditedBatch") -> list[dict[str, Any]]:
        """Write each edit's PNG and score the batch (a worker thread when overlapped): its records, in request
        order, each written only after its PNG exists."""
        for _, record, edit in done.ok:
            record["output_sha256"] = save_png(edit, self.store.run_dir / record["output"])
        records = list(done.records)
        if done.eval_batch is None:
            records.extend(self._finish(record, {}) for _, record, _ in done.ok)
        else:
            values, problem = score_batch(self.p.evaluators, done.eval_batch)
            for i, (_, record, _) in enumerate(done.ok):
                if problem:
                    record["error"] = f"metrics: {problem}"
                records.append(self._finish(record, {k: finite(v[i]) for k, v in values.items()}))
        order = {r.request_id: i for i, r in enumerate(done.batch)}
        return sorted(records, key=lambda rec: order[rec["request_id"]])



@dataclass
class EditedBatch:
    """A batch between editing and scoring: final error records, edited rows (8-bit, on the CPU) with their
    records still lacking PNG hash and metrics, and the evaluators' input."""

    batch: list[Request]
    records: list[dict[str, Any]] = field(default_factory=list)
    ok: list[tuple[Request, dict[str, Any], torch.Tensor]] = field(default_factory=list)
    eval_batch: EvalBatch | None = None


@dataclass
class Timing:
    """Where one invocation's wall time went: editing (load + edit + gathering references), writing and
    scoring, and the time the editing thread waited for the writer/scorer (``wait_s``: the device idles)."""

    edit_s: float = 0.0
    finish_s: float = 0.0
    wait_s: float = 0.0
    wall_s: float = 0.0
    edits: int = 0

    def as_dict(self) -> dict[str, float]:
        out = {k: round(v, 3) for k, v in dataclasses.asdict(self).items()}
        out["edits_per_s"] = round(self.edits / self.wall_s, 3) if self.wall_s > 0 else None
        out["wait_fraction"] = round(self.wait_s / self.wall_s, 4) if self.wall_s > 0 else None
        return out


OVERLAP_CHOICES = ("auto", "on", "off")
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"


def resolve_overlap(choice: str, device: str) -> bool:
    """Whether to write and score in a worker thread while the editing thread edits the next batch.

    ``auto`` overlaps when editing runs on CUDA: the CPU side (PNGs, face detection, scoring) then
    hides behind the device. On a CPU-only machine both sides compete for the same cores.

    Example:
        >>> resolve_overlap("auto", "cpu"), resolve_overlap("auto", "cuda:1"), resolve_overlap("on", "cpu")
        (False, True, True)
    """
    if choice not in OVERLAP_CHOICES:
        raise UserError(f"--overlap: expected one of {', '.join(OVERLAP_CHOICES)}, got {choice!r}")
    return choice == "on" or (choice == "auto" and device.startswith("cuda"))


def run_batches(runner: _BatchRunner, batches: Sequence[list[Request]], commit: Callable[[list[dict[str, Any]]], None],
                bar: tqdm, overlap: bool, timing: Timing) -> None:
    """Edit every batch and hand its records to ``commit`` in order.

    With ``overlap``, batch k is written and scored by one worker thread while batch k+1 is edited:
    a queue of one, so at most one batch's edits wait in memory and records still reach ``commit``
    in request order, each after its PNG exists (a kill loses at most the batches in flight, which a
    resume redoes). The editor and the dataset stay in the calling thread, the evaluators in the
    worker. ``timing`` gets the edit/finish time and how long editing waited for the worker.
    """
    start = time.perf_counter()
    done_rows = 0

    def moved(rows: int) -> Callable[[float], None]:
        def update(fraction: float) -> None:  # the bar moves with the editor's steps inside a batch
            bar.n = done_rows + rows * min(max(fraction, 0.0), 1.0)
            bar.refresh()
        return update

    def finish(edited: EditedBatch) -> list[dict[str, Any]]:
        t = time.perf_counter()
        records = runner.finish(edited)
        timing.finish_s += time.perf_counter() - t
        return records

    def edit(batch: list[Request]) -> EditedBatch:
        nonlocal done_rows
        t = time.perf_counter()
        edited = runner.edit(batch, moved(len(batch)) if not bar.disable else None)
        timing.edit_s += time.perf_counter() - t
        done_rows += len(batch)
        bar.n = done_rows
        bar.refresh()
        return edited

    try:
        if not overlap:
            for batch in batches:
                commit(finish(edit(batch)))
            return
        from concurrent.futures import Future, ThreadPoolExecutor

        def collect(future: Future) -> None:  # editing waits here for the worker's previous batch
            t = time.perf_counter()
            commit(future.result())
            timing.wait_s += time.perf_counter() - t

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="emobench-score") as pool:
            in_flight: Future | None = None
            try:
                for batch in batches:
                    edited = edit(batch)
                    if in_flight is not None:
                        collect(in_flight)
                    in_flight = pool.submit(finish, edited)
                if in_flight is not None:
                    collect(in_flight)
                    in_flight = None
            finally:
                if in_flight is not None:
                    in_flight.cancel()
    finally:
        timing.wall_s += time.perf_counter() - start
        timing.edits += done_rows


def run(method: MethodCard, protocol: ProtocolCard, options: RunOptions) -> RunResult:
    """Plan and execute a run (see the module docstring); returns what this invocation did."""
    if not 0 <= options.shard < options.num_shards:
        raise UserError(f"--shard: expected 0 <= i < N, got {options.shard}/{options.num_shards}")
    if options.batch_size is not None and options.batch_size < 1:
        raise UserError(f"--batch-size: expected a positive integer, got {options.batch_size}")
    if options.limit is not None and options.limit < 0:
        raise UserError(f"--limit: expected an integer >= 0, got {options.limit}")
    device = resolve_device(options.device)
    p = plan(method, protocol, device, quiet=options.quiet)
    return execute(p, options, device)


CPU_BATCH_ROWS = 32  # measured best of 16/32/64 rows for the demo and paper U-Nets on 2 cores (docs/performance.md)


def auto_batch_size(editor: Editor, device: str) -> int:
    """``--batch-size auto``: on CUDA the rows the editor measures to fit in half the free memory
    (:meth:`Editor.rows_that_fit`), else :data:`CPU_BATCH_ROWS`.

    Example:
        >>> from emobench.editors.identity import IdentityEditor
        >>> auto_batch_size(IdentityEditor(), "cpu")
        32
    """
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        rows = editor.rows_that_fit(int(free))
        if rows is not None:
            return rows
    return CPU_BATCH_ROWS


def execute(p: Plan, options: RunOptions, device: str) -> RunResult:
    """Edit the pending requests of a :class:`Plan` into its run directory.

    The run directory's lock for this shard (:class:`~emobench.runlock.RunLock`) is held throughout:
    a second process on the same directory and shard stops with :class:`~emobench.runlock.RunDirBusy`
    before reading or deleting anything.
    """
    if options.batch_size is None:
        options = dataclasses.replace(options, batch_size=auto_batch_size(p.editor, device))
    run_dir = run_dir_for(p, options)
    with RunLock(run_dir, options.shard, options.num_shards).acquire(options.argv):
        return _execute_locked(p, options, device, run_dir)


def _execute_locked(p: Plan, options: RunOptions, device: str, run_dir: Path) -> RunResult:
    store = RunStore(run_dir, options.shard, options.num_shards)
    check_existing(run_dir, p, options.overwrite, store)
    earlier = read_json_or_none(store.manifest_path) or {}  # this shard's last invocation, if any
    batch_sizes = [int(b) for b in earlier.get("batch_sizes", []) if isinstance(b, int)] \
        if store.records_path.is_file() else []
    store.open()
    mine = [r for r in p.requests if in_shard(r.request_id, options.shard, options.num_shards)]
    shard_total = len(mine)
    if options.limit is not None:
        mine = mine[: options.limit]
    done = store.done_ids(ok_only=options.retry_errors)
    pending = [r for r in mine if r.request_id not in done]
    counts = {"in_shard": shard_total, "selected": len(mine), "already_recorded": len(mine) - len(pending),
              "limit": options.limit}
    started = _now()
    store.write_manifest(_manifest(p, options, device, started, counts, "running", None, batch_sizes))
    if not options.quiet:  # where it goes and which backends score it, before the long loop
        backends = ", ".join(f"{ev.info().name} ({ev.info().backend})" for ev in p.evaluators) or "none"
        print(f"run dir {run_dir}; {len(pending)} of {len(mine)} requests to do on {device}; evaluators: {backends}",
              file=sys.stderr)
    runner = _BatchRunner(p, store, p.protocol.resolution)
    tally = {"written": 0, "errors": 0}
    timing = Timing()
    status = "failed"

    def commit(records: list[dict[str, Any]]) -> None:
        store.append(records)
        tally["written"] += len(records)
        tally["errors"] += sum(r["status"] == "error" for r in records)

    overlap = resolve_overlap(options.overlap, device)
    try:
        label = f" [shard {options.shard}/{options.num_shards}]" if options.num_shards > 1 else ""
        with tqdm(total=len(pending), desc=f"{p.method.name} on {p.protocol.name}{label}", unit="edit",
                  disable=options.quiet, bar_format=BAR_FORMAT) as bar:
            run_batches(runner, _batches(pending, options.batch_size), commit, bar, overlap, timing)
        # "partial": --limit left requests of this shard for a later invocation
        status = "finished" if len(mine) == shard_total else "partial"
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM under the CLI (emobench.interrupts)
        status = "interrupted"
        raise
    finally:
        written, errors = tally["written"], tally["errors"]
        counts = {**counts, "written": written, "errors": errors}
        try:
            store.write_manifest(_manifest(p, options, device, started, counts, status, _now(), batch_sizes,
                                           {**timing.as_dict(), "overlap": overlap}))
        except OSError:
            if status in ("finished", "partial"):
                raise
            # Already failing (e.g. the disk is full): the first error is the one to report; the
            # manifest keeps saying "running", and the records stay consistent for the resume.
    return RunResult(run_dir, len(mine), len(mine) - len(pending), written, errors, timing)


SHARD_VARIABLES = (("RANK", "WORLD_SIZE"), ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"),
                   ("SLURM_PROCID", "SLURM_NTASKS"))


def shard_from_env(environ: Mapping[str, str]) -> tuple[int, int] | None:
    """The shard a launcher gave this process: ``RANK``/``WORLD_SIZE`` (torchrun), a SLURM array task
    (``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``, tasks numbered from 0) or a SLURM step's task
    (``SLURM_PROCID``/``SLURM_NTASKS``), first match wins; None without any.

    Example:
        >>> shard_from_env({"RANK": "1", "WORLD_SIZE": "4"}), shard_from_env({})
        ((1, 4), None)
        >>> shard_from_env({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "8"})
        (2, 8)
    """
    for index_var, count_var in SHARD_VARIABLES:
        if index_var in environ and count_var in environ:
            try:
                index, count = int(environ[index_var]), int(environ[count_var])
            except ValueError:
                raise UserError(f"{index_var}/{count_var}: expected integers, got {environ[index_var]!r}/"
                                f"{environ[count_var]!r}") from None
            if not 0 <= index < count:
                raise UserError(f"{index_var}={index} is not a shard of {count_var}={count} (expected 0..{count - 1}"
                                + ("; submit the array as --array=0-N-1" if index_var.startswith("SLURM_ARRAY") else "")
                                + ")")
            return index, count
    return None


def resolve_shard(text: str | None, environ: Mapping[str, str]) -> tuple[int, int]:
    """The shard of this process: ``--shard i/N`` when given, else the launcher's (:func:`shard_from_env`),
    else the whole run ``(0, 1)``.

    Example:
        >>> resolve_shard("1/4", {}), resolve_shard(None, {"RANK": "2", "WORLD_SIZE": "3"}), resolve_shard(None, {})
        ((1, 4), (2, 3), (0, 1))
    """
    if text is not None:
        return parse_shard(text)
    return shard_from_env(environ) or (0, 1)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` → ``(i, N)`` with ``0 <= i < N``.

    Example:
        >>> parse_shard("1/4")
        (1, 4)
    """
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise UserError(f"--shard: expected i/N (e.g. 0/4), got {text!r}") from None
    if not sep or n < 1 or not 0 <= i < n:
        raise UserError(f"--shard: expected i/N with 0 <= i < N, got {text!r}")
    return i, n

