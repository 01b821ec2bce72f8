"""Build a user-study questionnaire from the saved edits of runs (``emobench study make``).

Conditions are the methods of the runs (a method run with several settings gives one condition
per setting, ``"ldm [guidance=3.0]"``), in the order the runs are given or ``methods`` lists them.
An ``identity`` run's edits are the real source photos (condition ``real``), as in the report's
grids.

* realism (2AFC): for every pair of conditions ``A vs B`` (A earlier) and every ``A vs real``,
  ``n`` items, each the two images of one source photo and target (the real photo for ``real``),
  round-robin over targets, A on the left in half of them (shuffled);
* emotion: ``n`` edits per condition and target; the six target emotions are the choices.

Items are shuffled once; everything random comes from ``random.Random(seed)``, so the same runs
and seed give the same design and study id. Image files are copied under content-hash names
(the file name never tells the method), or embedded as data URIs.

Example:
    >>> make_study([Path("runs/synthetic")], Path("study"), "emotion")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from emobench.errors import UserError
from emobench.labels import TARGET_EMOTIONS
from emobench.report.runs import load_runs, setting_label
from emobench.study.design import (ATTENTION, DESIGN_JSON, KINDS, QUESTIONNAIRE, QUESTIONS, REAL, SCRAMBLED, Item,
                                   StudyDesign,
                                   default_choices, study_id, write_design)
from emobench.study.page import write_page

REAL_METHOD = "identity"  # an identity run's edits are the unedited source photos

Key = tuple[str, str, str]  # (protocol, image_id, target)


@dataclass(frozen=True)
class Shown:
    """One image file that an item may show, and the record it comes from."""

    path: Path
    request_id: str


@dataclass(frozen=True)
class Pool:
    """What the runs offer: each condition's edits by key, and the real photos by (protocol, image_id)."""

    conditions: tuple[str, ...]
    edits: dict[str, dict[Key, Shown]]
    real: dict[tuple[str, str], Shown]
    run_dirs: tuple[str, ...]


def condition_names(records: pd.DataFrame) -> pd.Series:
    """``method``, or ``"method [k=v, ...]"`` for the settings that vary within that method.

    Example:
        >>> df = pd.DataFrame({"method": ["a", "b", "b"], "param.g": [None, 1.0, 3.0]})
        >>> list(condition_names(df))
        ['a', 'b [g=1.0]', 'b [g=3.0]']
    """
    out = records["method"].astype(str).copy()
    for method, index in records.groupby("method", sort=False).groups.items():
        labels = setting_label(records.loc[index].dropna(axis=1, how="all"))
        out.loc[index] = [f"{method} [{label}]" if label else str(method) for label in labels]
    return out


def collect(paths: Sequence[Path], methods: Sequence[str] = (), targets: Sequence[str] = TARGET_EMOTIONS) -> Pool:
    """Read the runs' records into a :class:`Pool` (only rows with status ok and a saved edit)."""
    runs = load_runs(paths, allow_mixed=True)  # evaluator backends do not matter to a study
    df = runs.records
    if "output" not in df:
        raise UserError(f"{', '.join(map(str, runs.run_dirs))}: no saved edits (records have no output column)")
    df = df[df["output"].notna()].copy()
    df["condition"] = condition_names(df)
    real_rows = df[df["method"] == REAL_METHOD]
    df = df[(df["method"] != REAL_METHOD) & df["target"].isin(targets)]
    available = list(dict.fromkeys(df["condition"]))
    if methods:
        chosen = []
        for name in methods:
            hits = [c for c in available if c == name or c.split(" [")[0] == name]
            if not hits:
                raise UserError(f"--methods: no edits of {name!r} in the runs; expected one of "
                                f"{', '.join(available) or '(none)'}")
            chosen += [c for c in hits if c not in chosen]
        available = chosen
    edits: dict[str, dict[Key, Shown]] = {c: {} for c in available}
    for row in df.itertuples(index=False):
        if row.condition in edits:
            key = (str(row.protocol), str(row.image_id), str(row.target))
            edits[row.condition].setdefault(key, Shown(Path(row.run_dir) / row.output, str(row.request_id)))
    real: dict[tuple[str, str], Shown] = {}
    for row in real_rows.itertuples(index=False):
        real.setdefault((str(row.protocol), str(row.image_id)), Shown(Path(row.run_dir) / row.output,
                                                                    str(row.request_id)))
    return Pool(tuple(available), edits, real, tuple(str(d) for d in runs.run_dirs))


def _round_robin(pools: dict[str, list], n: int) -> list:
    """Up to ``n`` entries taken one target at a time (targets in order), each pool already shuffled."""
    picked: list = []
    queues = {t: list(p) for t, p in pools.items() if p}
    while len(picked) < n and queues:
        for t in list(queues):
            if len(picked) == n:
                break
            picked.append(queues[t].pop(0))
            if not queues[t]:
                del queues[t]
    return picked


def _targets_of(keys: list[Key], rng: random.Random) -> dict[str, list[Key]]:
    pools: dict[str, list[Key]] = {t: sorted(k for k in keys if k[2] == t) for t in TARGET_EMOTIONS}
    for pool in pools.values():
        rng.shuffle(pool)
    return pools


def realism_items(pool: Pool, n: int, rng: random.Random) -> tuple[list[tuple], list[str], list[str]]:
    """Unnumbered realism items ``(comparison, key, side of A, (shown left, right), (condition left, right))``,
    the comparisons, and notes on comparisons that had fewer than ``n`` pairs."""
    conds = list(pool.conditions)
    pairs = [(a, b) for i, a in enumerate(conds) for b in conds[i + 1:]]
    if pool.real:
        pairs += [(a, REAL) for a in conds]
    if not pairs:
        raise UserError(f"a realism study needs two methods, or one method and an `{REAL_METHOD}` run (its edits "
                        f"are the real photos); got methods: {', '.join(conds) or '(none)'}, "
                        f"real photos: {'yes' if pool.real else 'no'}")
    rows, notes = [], []
    for a, b in pairs:
        if b == REAL:
            keys = [k for k in pool.edits[a] if (k[0], k[1]) in pool.real]
        else:
            keys = [k for k in pool.edits[a] if k in pool.edits[b]]
        picked = _round_robin(_targets_of(keys, rng), n)
        name = f"{a} vs {b}"
        if not picked:
            raise UserError(f"comparison {name!r}: no source image and target edited by both "
                            f"(are the runs on the same protocol?)")
        if len(picked) < n:
            notes.append(f"{name}: only {len(picked)} image pairs available, asked for {n}")
        sides = ["left"] * (len(picked) - len(picked) // 2) + ["right"] * (len(picked) // 2)
        rng.shuffle(sides)
        for key, a_side in zip(picked, sides):
            shown_a = pool.edits[a][key]
            shown_b = pool.real[(key[0], key[1])] if b == REAL else pool.edits[b][key]
            left, right = ((shown_a, a), (shown_b, b)) if a_side == "left" else ((shown_b, b), (shown_a, a))
            rows.append((name, key, a_side, (left[0], right[0]), (left[1], right[1])))
    return rows, [f"{a} vs {b}" for a, b in pairs], notes


def scrambled_copy(path: Path, dest: Path, rng: random.Random, tiles: int = 4) -> Path:
    """``path`` cut into ``tiles`` × ``tiles`` squares, shuffled: the obviously unreal half of an attention check."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    w, h = image.size
    tw, th = w // tiles, h // tiles
    boxes = [(c * tw, r * th, (c + 1) * tw, (r + 1) * th) for r in range(tiles) for c in range(tiles)]
    order = list(range(len(boxes)))
    while order == sorted(order):
        rng.shuffle(order)
    out = image.copy()
    for box, k in zip(boxes, order):
        out.paste(image.crop(boxes[k]), box[:2])
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    dest.write_bytes(buffer.getvalue())
    return dest


def attention_items(pool: Pool, k: int, rng: random.Random, scratch: Path) -> list[tuple]:
    """``k`` attention checks: a real photo against its own tiles shuffled; the key is the real photo's side."""
    if not pool.real:
        raise UserError(f"--attention: attention checks pair a real photo with a scrambled copy; add an "
                        f"`{REAL_METHOD}` run (its edits are the real photos)")
    keys = sorted(pool.real)
    rng.shuffle(keys)
    rows = []
    for i in range(k):
        key = keys[i % len(keys)]
        real = pool.real[key]
        fake = Shown(scrambled_copy(real.path, scratch / f"attention{i}.png", rng), "")
        side = "left" if i % 2 == 0 else "right"
        left, right = ((real, REAL), (fake, SCRAMBLED)) if side == "left" else ((fake, SCRAMBLED), (real, REAL))
        rows.append((ATTENTION, (key[0], key[1], ""), side, (left[0], right[0]), (left[1], right[1])))
    return rows


def emotion_items(pool: Pool, n: int, rng: random.Random) -> tuple[list[tuple], list[str], list[str]]:
    """Unnumbered emotion items ``(condition, key, target, (shown,), (condition,))``, ``n`` per condition and
    target, the conditions, and notes on cells that had fewer than ``n`` edits."""
    if not pool.conditions:
        raise UserError("an emotion study needs edits of at least one method other than "
                        f"`{REAL_METHOD}`; the runs have none")
    rows, notes = [], []
    for cond in pool.conditions:
        for target, keys in _targets_of(list(pool.edits[cond]), rng).items():
            if not keys:
                continue
            if len(keys) < n:
                notes.append(f"{cond} → {target}: only {len(keys)} edits available, asked for {n}")
            for key in keys[:n]:
                rows.append((cond, key, target, (pool.edits[cond][key],), (cond,)))
    return rows, list(pool.conditions), notes


def _image_name(path: Path) -> str:
    if not path.is_file():
        raise UserError(f"{path}: saved edit not found (the run's records point to it)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"images/{digest}{path.suffix.lower()}"


def make_study(paths: Sequence[Path], out: Path, kind: str, *, seed: int = 0, n: int = 10,
               methods: Sequence[str] = (), targets: Sequence[str] = TARGET_EMOTIONS, embed: bool = False,
               overwrite: bool = False, attention: int = 0) -> StudyDesign:
    """Write ``out/design.{json,csv}`` and ``out/questionnaire/index.html`` (+ ``images/`` unless ``embed``).

    ``attention``: that many attention checks among the realism items (a real photo against its own tiles
    shuffled), left out of the comparisons and reported per participant by ``study analyze``."""
    if kind not in KINDS:
        raise UserError(f"unknown study kind {kind!r}; expected one of {', '.join(KINDS)}")
    if n < 1:
        raise UserError(f"--n: expected a positive number of items, got {n}")
    unknown = [t for t in targets if t not in TARGET_EMOTIONS]
    if unknown or not targets:
        raise UserError(f"--targets: expected some of {', '.join(TARGET_EMOTIONS)}, got {', '.join(targets) or '(none)'}")
    out = Path(out)
    if (out / DESIGN_JSON).exists() and not overwrite:
        raise UserError(f"{out / DESIGN_JSON} exists: answers to that study would lose their design; "
                        "choose another --out or pass --overwrite")
    if attention < 0 or (attention and kind != "realism"):
        raise UserError(f"--attention: expected a number >= 0 of checks in a realism study, got {attention} "
                        f"({kind} study)")
    rng = random.Random(seed)
    pool = collect(paths, methods, targets)
    make = realism_items if kind == "realism" else emotion_items
    rows, comparisons, notes = make(pool, n, rng)
    scratch = Path(tempfile.mkdtemp(prefix="emobench-attention-"))
    try:
        return _write_study(out, kind, seed, n, pool, rows + attention_items(pool, attention, rng, scratch)
                            if attention else rows, comparisons, notes, rng, embed, overwrite)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_study(out: Path, kind: str, seed: int, n: int, pool: Pool, rows: list[tuple], comparisons: list[str],
                 notes: list[str], rng: random.Random, embed: bool, overwrite: bool) -> StudyDesign:
    rng.shuffle(rows)
    width = len(str(len(rows)))
    names: dict[Path, str] = {}
    items = []
    for position, (comparison, key, answer_key, shown, conds) in enumerate(rows, start=1):
        images = tuple(names.setdefault(s.path, _image_name(s.path)) for s in shown)
        items.append(Item(f"q{position:0{width}d}", position, comparison, key[1], key[2], answer_key, images,
                          tuple(conds), tuple(s.request_id for s in shown)))
    design = StudyDesign(study_id(kind, seed, items), kind, seed, n, QUESTIONS[kind], default_choices(kind),
                         pool.conditions + ((REAL,) if kind == "realism" and pool.real else ()), tuple(comparisons),
                         tuple(items), pool.run_dirs, tuple(notes))
    page_dir = out / QUESTIONNAIRE
    if overwrite and page_dir.exists():
        shutil.rmtree(page_dir)
    sources = {name: path for path, name in names.items()}
    if embed:
        urls = {name: _data_url(path) for name, path in sources.items()}
    else:
        for name, path in sources.items():
            dest = page_dir / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        urls = {name: name for name in sources}
    write_page(design, page_dir / "index.html", urls)
    write_design(design, out)
    return design


def _data_url(path: Path) -> str:
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}.get(
        path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
