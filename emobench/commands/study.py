"""``emobench study make|serve|status|ingest|analyze``: user studies from saved edits, answers and exact binomial tests.

* ``make`` builds a self-contained questionnaire (one HTML file + images; opens from file://, no
  server) and writes its design (which item shows what, the answer keys) beside it;
* ``serve`` hosts it for participants arriving by link (Prolific, MTurk or direct), each with their
  own item order, every answer stored in SQLite as it is given; ``status`` shows the progress;
* ``ingest`` validates participants' downloaded answer files (or the server's database) against the
  design and merges them;
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
  emobench study serve study/realism --port 8000 --prolific-code C1A2B3C4
  emobench study status study/realism
  emobench study analyze study/realism study/realism/answers.sqlite --out study/realism/results

Send participants the folder OUT/questionnaire/ (or a zip of it), or serve it; keep OUT/design.json."""

SERVE_HELP = """examples:
  emobench study serve study/realism            # http://127.0.0.1:8000/, answers.sqlite beside the design
  emobench study serve study/realism --host 0.0.0.0 --port 8080 --prolific-code C1A2B3C4

Participants open http://HOST:PORT/ with ?participant=ID, Prolific's ?PROLIFIC_PID=...&STUDY_ID=...
&SESSION_ID=..., or MTurk's external-question parameters. Each gets a Latin-square item order, every
answer is stored (SQLite, WAL) as it is given, a closed tab resumes, a finished participant cannot start
again. Prolific participants are sent back with --prolific-code; MTurk assignments are submitted to
turkSubmitTo. The researcher page (/researcher?token=...) needs the token printed at start (or --token).
Binds to 127.0.0.1 unless --host says otherwise."""

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
    make.add_argument("--attention", type=int, default=0, metavar="K",
                      help="realism: K attention checks (a real photo vs its tiles shuffled), reported per "
                           "participant by `analyze` and left out of the comparisons (default 0)")
    make.add_argument("--overwrite", action="store_true", help="replace a study already in --out")
    make.set_defaults(func=run_make)

    serve = actions.add_parser("serve", help="host a questionnaire; store answers in SQLite as they are given",
                               description="Serve a study made by `study make` to participants and store every "
                                           "answer as it is given.", epilog=SERVE_HELP, formatter_class=raw)
    serve.add_argument("study", metavar="STUDY_DIR", help="the --out folder of `study make`")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    serve.add_argument("--db", default="", help="answer database (default STUDY_DIR/answers.sqlite)")
    serve.add_argument("--token", default="", help="token of the researcher page (default: a random one, printed)")
    serve.add_argument("--prolific-code", default="", help="Prolific completion code: finished participants are "
                                                           "sent to Prolific's completion URL with it")
    serve.set_defaults(func=run_serve)

    status = actions.add_parser("status", help="participants started/finished and answers per item",
                                description="Progress of a served study, from its answer database.",
                                epilog="examples:\n  emobench study status study/realism", formatter_class=raw)
    status.add_argument("study", metavar="STUDY_DIR", help="the --out folder of `study make`")
    status.add_argument("--db", default="", help="answer database (default STUDY_DIR/answers.sqlite)")
    status.set_defaults(func=run_status)

    ingest = actions.add_parser("ingest", help="validate and merge participants' answer files",
                                description="Validate answer CSVs against a study's design and merge them.",
                                epilog=INGEST_HELP, formatter_class=raw)
    ingest.add_argument("design", metavar="DESIGN_DIR", help="the --out folder of `study make` (or its design.json)")
    ingest.add_argument("answers", nargs="+", metavar="ANSWERS_CSV", help="answer files downloaded by participants, or the server's answers.sqlite")
    ingest.add_argument("--out", required=True, help="merged answers CSV to write")
    ingest.set_defaults(func=run_ingest)

    analyze = actions.add_parser("analyze", help="exact binomial tests and tables (CSV, Markdown, LaTeX)",
                                 description="Tables and exact binomial tests (Holm-corrected) of a study's answers.",
                                 epilog=ANALYZE_HELP, formatter_class=raw)
    analyze.add_argument("design", metavar="DESIGN_DIR", help="the --out folder of `study make` (or its design.json)")
    analyze.add_argument("answers", nargs="+", metavar="ANSWERS_CSV", help="merged (or raw) answer files, or the server's answers.sqlite")
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
                        attention=args.attention,
                        overwrite=args.overwrite)
    for note in design.notes:
        print(f"note: {note}")
    print(f"study {design.study_id}: {len(design.items)} items over {len(design.comparisons)} "
          f"{'comparisons' if design.kind == 'realism' else 'methods'}")
    print(f"questionnaire: {out / 'questionnaire' / 'index.html'} (send the questionnaire/ folder)")
    print(f"design: {out / 'design.json'} (keep it: answers are scored against it)")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.study.server import ServeOptions, serve

    server = serve(Path(args.study), ServeOptions(args.host, args.port, args.db, args.token, args.prolific_code))
    print("Ctrl-C stops the server (answers are already on disk).", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_status(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.errors import UserError
    from emobench.study.db import AnswerDB
    from emobench.study.design import load_design

    design = load_design(Path(args.study))
    path = Path(args.db) if args.db else Path(args.study) / "answers.sqlite"
    if not path.is_file():
        raise UserError(f"{path}: no answer database yet (start `emobench study serve {args.study}` first)")
    status = AnswerDB(path, design.study_id).status()
    print(f"study {design.study_id}: {status['participants_started']} participants started, "
          f"{status['participants_finished']} finished, {status['answer_rows']} answer rows")
    for item in design.items:
        print(f"  {item.item_id}: {status['answers_per_item'].get(item.item_id, 0)} participants")
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
