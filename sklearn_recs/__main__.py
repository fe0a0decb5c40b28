"""Command line: ``python -m sklearn_recs evaluate``.

Loads a MovieLens data set, evaluates the chosen recommenders under one
protocol, prints two leaderboards (rating prediction for the models that
predict ratings, top-k ranking for every model), each under a legend line,
and optionally writes them as JSON or CSV. A usage error (a bad option, an
unknown model, a data set that cannot be loaded) exits with status 2 and a
one-line message.

Examples
--------
``python -m sklearn_recs evaluate`` runs every registered model on the
embedded ml-latest-small with a per-user 80/20 holdout::

    python -m sklearn_recs evaluate --dataset ml-100k --protocol folds \\
        --models bias,popularity --data-home ~/data --output board.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from ._leaderboard import PROTOCOLS, TASKS, leaderboard, legend
from ._registry import MODELS, fit_param_names, make_model

_DATASETS = {"ml-latest-small": "latest-small", "ml-100k": "100k"}
# The item metadata a content model learns from, per data set.
_ITEM_FEATURES = {"ml-latest-small": ["genres", "tags", "title"],
                  "ml-100k": ["genres", "year"]}
_TITLES = {"rating": "Rating prediction (models that predict ratings)",
           "ranking": "Ranking (every model)"}


class UsageError(Exception):
    """A mistake in the command line: exit status 2, one line, no traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line naming the problem and where help is, then exit status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: pass a whole number >= 1, e.g. --k 10")
    return value


def _output_path(text: str) -> Path:
    path = Path(text)
    if path.suffix not in (".csv", ".json"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither .csv nor .json: name the file board.json (both "
            "tables, each row with a 'task' field) or board.csv (board_rating.csv "
            "and board_ranking.csv)")
    if not path.parent.is_dir():  # fail now, not after the evaluation
        raise argparse.ArgumentTypeError(
            f"{text!r}: no folder {str(path.parent)!r}; create it or write elsewhere")
    return path


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m sklearn_recs",
        description="scikit-learn-compatible recommenders: evaluate them on MovieLens.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser(
        "evaluate", help="print a leaderboard of recommenders",
        description="Fit each model on the same splits and print two tables: rating "
                    "prediction (RMSE, MAE) for the models that predict ratings, and "
                    "top-k ranking (NDCG, MAP, precision, recall, coverage) for every "
                    "model.")
    run.add_argument("--dataset", choices=sorted(_DATASETS), default="ml-latest-small",
                     help="ml-latest-small ships with the package; ml-100k is read "
                          "from --data-home or downloaded there (default: %(default)s)")
    run.add_argument("--data-home", default=None,
                     help="folder holding ml-100k/ (default: $SKLEARN_RECS_DATA or "
                          "~/sklearn_recs_data)")
    run.add_argument("--protocol", choices=PROTOCOLS, default="holdout",
                     help="holdout: per-user random 80/20; folds: ml-100k's u1..u5 "
                          "(per-user 5-fold elsewhere); leave-last-out: each user's "
                          "latest rating (default: %(default)s)")
    run.add_argument("--models", default=",".join(MODELS),
                     help=f"comma-separated, from: {', '.join(MODELS)} (default: all)")
    run.add_argument("-k", "--k", type=_positive_int, default=10,
                     help="list length of the ranking metrics (default: 10)")
    run.add_argument("--relevance-threshold", type=float, default=None,
                     help="rating from which a test item is relevant (default: all)")
    run.add_argument("--random-state", type=int, default=0)
    run.add_argument("--output", type=_output_path, default=None,
                     help="also write the tables: FILE.json (one list, each row with a "
                          "'task' field) or FILE.csv (FILE_rating.csv and "
                          "FILE_ranking.csv)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bar (there is none when stderr is not a terminal)")
    return parser


def _models(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise UsageError(f"unknown model(s) {', '.join(unknown) or repr(text)}; pass "
                         f"--models with names from: {', '.join(MODELS)}")
    return names


def _load(args):
    """The data set, or a UsageError that says where it was looked for."""
    from .datasets import fetch_movielens

    try:
        return fetch_movielens(_DATASETS[args.dataset], data_home=args.data_home,
                               folds=args.protocol == "folds" and args.dataset == "ml-100k")
    except OSError as exc:  # missing, unreadable or corrupted files
        raise UsageError(f"cannot load {args.dataset}: {exc} (Command line: "
                         "--data-home FOLDER.)") from None


def _write(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    if out.suffix == ".json":
        rows = [{"task": task, **row} for task, table in tables.items()
                for row in json.loads(table.reset_index().to_json(orient="records"))]
        out.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        return [out]
    paths = [out.with_name(f"{out.stem}_{task}{out.suffix}") for task in tables]
    for path, table in zip(paths, tables.values()):
        table.to_csv(path)
    return paths


def _run(args) -> None:
    names = _models(args.models)
    data = _load(args)
    estimators = {name: make_model(name) for name in names}
    item_features = data.item_info[_ITEM_FEATURES[args.dataset]]
    fit_params = {name: {"item_features": item_features} for name in names
                  if "item_features" in fit_param_names(name)}
    print(f"{args.dataset}: {len(data.data):,} ratings, "
          f"{data.data['user_id'].nunique():,} users, {data.data['item_id'].nunique():,} "
          f"items; protocol {args.protocol}; k={args.k}", file=sys.stderr)
    tables = leaderboard(estimators, data.data, data.target.to_numpy(),
                         protocol=args.protocol, k=args.k, folds=data.get("folds"),
                         relevance_threshold=args.relevance_threshold,
                         random_state=args.random_state, fit_params=fit_params,
                         progress=not args.quiet and sys.stderr.isatty())
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.4f}".format):
        for task in TASKS:
            print(f"\n{_TITLES[task]}")
            print(legend(task, protocol=args.protocol, k=args.k,
                         relevance_threshold=args.relevance_threshold))
            table = tables[task]
            print(table.to_string() if len(table) else "(none of the chosen models "
                  "predicts ratings)")
    if args.output:
        try:
            paths = _write(tables, args.output)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}; pass "
                             "--output a path in an existing, writable folder") from None
        print(f"wrote {', '.join(map(str, paths))}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _run(args)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
