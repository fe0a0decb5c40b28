"""Command line: ``python -m sklearn_recs evaluate``.

Loads a MovieLens data set, evaluates the chosen recommenders under one
protocol, prints a leaderboard and optionally writes it as CSV or JSON.

Examples
--------
``python -m sklearn_recs evaluate`` runs every registered model on the
embedded ml-latest-small with a per-user 80/20 holdout::

    python -m sklearn_recs evaluate --dataset ml-100k --protocol folds \\
        --models bias,popularity --data-home ../shared/datasets --output board.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ._leaderboard import PROTOCOLS, leaderboard
from ._registry import MODELS, fit_param_names, make_model

_DATASETS = {"ml-latest-small": "latest-small", "ml-100k": "100k"}
# The item metadata a content model learns from, per data set.
_ITEM_FEATURES = {"ml-latest-small": ["genres", "tags", "title"],
                  "ml-100k": ["genres", "year"]}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_recs",
        description="scikit-learn-compatible recommenders: evaluate them on MovieLens.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("evaluate", help="print a leaderboard of recommenders")
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
    run.add_argument("-k", "--k", type=int, default=10, help="list length (default: 10)")
    run.add_argument("--relevance-threshold", type=float, default=None,
                     help="rating from which a test item is relevant (default: all)")
    run.add_argument("--random-state", type=int, default=0)
    run.add_argument("--output", default=None,
                     help="also write the table to this .csv or .json file")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    from .datasets import fetch_movielens

    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        print(f"error: unknown model(s) {', '.join(unknown)}; choose from "
              f"{', '.join(MODELS)}", file=sys.stderr)
        return 2
    data = fetch_movielens(_DATASETS[args.dataset], data_home=args.data_home,
                           folds=args.protocol == "folds" and args.dataset == "ml-100k")
    estimators = {name: make_model(name) for name in names}
    item_features = data.item_info[_ITEM_FEATURES[args.dataset]]
    fit_params = {name: {"item_features": item_features} for name in names
                  if "item_features" in fit_param_names(name)}
    print(f"{args.dataset}: {len(data.data):,} ratings, "
          f"{data.data['user_id'].nunique():,} users, {data.data['item_id'].nunique():,} "
          f"items; protocol {args.protocol}; k={args.k}", file=sys.stderr)
    table = leaderboard(estimators, data.data, data.target.to_numpy(),
                        protocol=args.protocol, k=args.k, folds=data.get("folds"),
                        relevance_threshold=args.relevance_threshold,
                        random_state=args.random_state, fit_params=fit_params,
                        progress=not args.quiet)
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.4f}".format):
        print(table.to_string())
    if args.output:
        out = Path(args.output)
        if out.suffix == ".json":
            table.reset_index().to_json(out, orient="records", indent=2)
        else:
            table.to_csv(out)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
