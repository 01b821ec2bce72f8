"""``emobench study make|ingest|analyze``: user studies from saved edits, answers and exact binomial tests.

* ``make`` builds a self-contained questionnaire (one HTML file + images; opens from file://, no
  server) and writes its design (which item shows what, the answer keys) beside it;
* ``ingest`` validates participants' downloaded answer files against the design and merges them;
* ``analyze`` writes the paper's Table 2 (realism) or accuracy-vs-chance tables (emotion).
"""

from __future__ import annotations

import argparse

from emobench.commands.text import plain_doc

EXAMPLES = """examples:
  emobench study make runs/london-pairs/ldm/* runs/london-pairs/ganmut/* runs/london-pairs/identity/* \\
      --kind realism --out study/realism --n 20 --seed 1
  emobench study make runs/affectnet-val --kind emotion --out study/emotion --n 5
  emobench study ingest study/realism answers/*.csv --out study/realism/answers.csv
  emobench study analyze study/realism study/realism/answers.csv --out study/realism/results

Send participants the folder OUT/questionnaire/ (or a zip of it); keep OUT/design.json."""

MAKE_HELP = """examples:
  emobench study make runs/london-pairs --kind realism --out study/realism --n 20 --seed 1
  emobench study make runs/affectnet-val --kind emotion --out study/emotion --n 5 --methods ldm,ganmut

realism: 2AFC "which photo looks more realistic" for every pair of methods (A vs B, A earlier in
the runs or in --methods) and every method vs the real photo (an `identity` run's edits are the
real source photos); --n items per comparison, round-robin over targets, A on the left in half.
emotion: one edit and the six target emotions as choices; --n items per method and target.
Items are shuffled with --seed (recorded). Writes OUT/design.json, OUT/design.csv and
OUT/questionnaire/index.html (+ images/, or everything inside the HTML with --embed)."""

INGEST_HELP = """examples:
  emobench study ingest study/realism ~/Downloads/answers-realism-*.csv --out study/realism/answers.csv

Refuses (listing file and line of each problem) unknown item ids, answers to another study,
duplicate answers of a participant to an item, choices that are not the study's, malformed rows."""

ANALYZE_HELP = """examples:
  emobench study analyze study/realism study/realism/answers.csv --out study/realism/results

realism: OUT/realism.{csv,md,tex} (paper Table 2: proportion, count, n, exact binomial p two-sided
and one-sided, Holm-adjusted). emotion: OUT/emotion_by_method.*, OUT/emotion_by_target.* (accuracy
vs chance 1/6) and OUT/emotion_confusion.*. OUT/answers_joined.csv has every answer with its item."""


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("study", help="user studies: questionnaires, answers, binomial tests",
                              description=plain_doc(__doc__), epilog=EXAMPLES, formatter_class=raw)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    make = actions.add_parser("make", help="build a questionnaire (HTML) and its design from runs",
                              description="Build a self-contained HTML questionnaire from the saved edits of runs.",
                              epilog=MAKE_HELP, formatter_class=raw)
    make.add_argument("paths", nargs="+", metavar="RUN_DIR", help="run directories or folders holding them")
    make.add_argument("--kind", required=True, choices=("realism", "emotion"), help="the study's question")
    make.add_argument("--out", required=True, help="folder for design.{json,csv} and questionnaire/")
    make.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    make.add_argument("--n", type=int, default=10,
                      help="items per comparison (realism) or per method and target (emotion); default 10")
    make.add_argument("--methods", type=_csv_list, default=[],
                      help="comma-separated methods (or 'method [setting]') to include, in this order")
    make.add_argument("--targets", type=_csv_list, default=None,
                      help="comma-separated target emotions to include (default: all six)")
    make.add_argument("--embed", action="store_true", help="put the images inside the HTML (one file to send)")
    make.add_argument("--overwrite", action="store_true", help="replace a study already in --out")
    make.set_defaults(func=run_make)

    ingest = actions.add_parser("ingest", help="validate and merge participants' answer files",
                                description="Validate answer CSVs against a study's design and merge them.",
                                epilog=INGEST_HELP, formatter_class=raw)
    ingest.add_argument("design", metavar="DESIGN_DIR", help="the --out folder of `study make` (or its design.json)")
    ingest.add_argument("answers", nargs="+", metavar="ANSWERS_CSV", help="answer files downloaded by participants")
    ingest.add_argument("--out", required=True, help="merged answers CSV to write")
    ingest.set_defaults(func=run_ingest)

    analyze = actions.add_parser("analyze", help="exact binomial tests and tables (CSV, Markdown, LaTeX)",
                                 description="Tables and exact binomial tests (Holm-corrected) of a study's answers.",
                                 epilog=ANALYZE_HELP, formatter_class=raw)
    analyze.add_argument("design", metavar="DESIGN_DIR", help="the --out folder of `study make` (or its design.json)")
    analyze.add_argument("answers", nargs="+", metavar="ANSWERS_CSV", help="merged (or raw) answer files")
    analyze.add_argument("--out", required=True, help="folder for the tables")
    analyze.set_defaults(func=run_analyze)
    return p


def run_make(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.labels import TARGET_EMOTIONS
    from emobench.study.make import make_study

    out = Path(args.out)
    design = make_study([Path(p) for p in args.paths], out, args.kind, seed=args.seed, n=args.n,
                        methods=args.methods, targets=args.targets or TARGET_EMOTIONS, embed=args.embed,
                        overwrite=args.overwrite)
    for note in design.notes:
        print(f"note: {note}")
    print(f"study {design.study_id}: {len(design.items)} items over {len(design.comparisons)} "
          f"{'comparisons' if design.kind == 'realism' else 'methods'}")
    print(f"questionnaire: {out / 'questionnaire' / 'index.html'} (send the questionnaire/ folder)")
    print(f"design: {out / 'design.json'} (keep it: answers are scored against it)")
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.study.design import load_design
    from emobench.study.ingest import read_answers, write_answers

    answers = read_answers(load_design(Path(args.design)), [Path(p) for p in args.answers])
    path = write_answers(answers, Path(args.out))
    for participant, count in answers.incomplete().items():
        print(f"note: participant {participant!r} answered {count} of {len(answers.design.items)} items")
    print(f"{len(answers.rows)} answers of {len(answers.participants())} participants from "
          f"{len(args.answers)} files -> {path}")
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.study.design import load_design
    from emobench.study.ingest import read_answers
    from emobench.study.results import analyze_study

    answers = read_answers(load_design(Path(args.design)), [Path(p) for p in args.answers])
    out = Path(args.out)
    result = analyze_study(answers)
    files = result.write(out)
    answers.frame().to_csv(out / "answers_joined.csv", index=False)
    for table in result.tables:
        print(table.markdown())
    print(f"{result.summary}; {len(files) + 1} files in {out}")
    return 0
