"""Benchmark ``partial_fit`` against refitting, and skrecsys's ``partial_fit``, in one run.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_partial_fit.py --data-home ../shared/datasets

ml-100k sorted by time: the model is fit on the oldest rows, then updated
with the newest 0.1%, 1% and 10% of the rows (new users, new items and new
ratings of known users, as a stream brings them). For each estimator, with
its defaults (ratings as ``y`` for the rating models, ``y=None`` for the
implicit ones):

- ``refit_seconds``: ``fit`` on all the rows;
- ``partial_fit_seconds``: ``partial_fit`` of the newest rows after ``fit``
  on the others (each time the fastest of 3 runs);
- ``max_score_diff``: the largest absolute difference between the two
  models' top-10 scores for every user, and ``same_top10``: the share of
  users whose top-10 lists are identical.

Peers, in the same run where installed (defaults, implicit feedback):
skrecsys's ``ItemKNNRecommender``, ``EASE`` and ``MostPopularRecommender``,
whose ``partial_fit`` recomputes the similarity rows a batch can change
and updates EASE's inverse Gram matrix by the Woodbury identity.

``--scale``: the same for ``EASE`` (and skrecsys's) on ``make_interactions``
data with 5000 items (300k interactions), updated with the newest 100 and
1000 rows: where the ``O(n_items^3)`` solve dominates a fit, and the
Woodbury update of ``partial_fit`` avoids it.

Results go to ``benchmarks/results/partial_fit.json`` and ``partial_fit.md``.
Timings are wall-clock on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone

from sklearn_recs.baselines import BiasBaseline, Popularity
from sklearn_recs.datasets import fetch_movielens, make_interactions
from sklearn_recs.linear_model import EASE
from sklearn_recs.neighbors import ItemKNN, UserKNN

from _report import machine, markdown_table, write_results

SHARES = (0.001, 0.01, 0.1)
OURS = {
    "ItemKNN (implicit)": (ItemKNN(feedback="implicit"), False),
    "UserKNN (implicit)": (UserKNN(feedback="implicit"), False),
    "ItemKNN (ratings)": (ItemKNN(), True),
    "EASE": (EASE(), False),
    "Popularity": (Popularity(), False),
    "BiasBaseline": (BiasBaseline(), True),
}


def _peers():
    """skrecsys's incremental models, or none where it is not installed."""
    try:
        from skrecsys.recommendation import EASE as PeerEASE
        from skrecsys.recommendation import ItemKNNRecommender, MostPopularRecommender
    except ImportError:
        return {}
    return {"skrecsys ItemKNNRecommender": ItemKNNRecommender(),
            "skrecsys EASE": PeerEASE(), "skrecsys MostPopularRecommender":
            MostPopularRecommender()}


def _timed(fn, repeats=3):
    """The fastest of ``repeats`` runs of ``fn()`` (seconds) and its last result."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _update_seconds(estimator, old, new, repeats=3):
    """The fastest of ``repeats`` ``partial_fit(*new)`` after ``fit(*old)`` (untimed),
    and the updated model."""
    best = np.inf
    for _ in range(repeats):
        model = clone(estimator).fit(*old)
        start = time.perf_counter()
        model.partial_fit(*new)
        best = min(best, time.perf_counter() - start)
    return best, model


def _compare(updated, refitted):
    users = refitted.users_
    top, scores = updated.recommend(users, 10, return_scores=True)
    ref_top, ref_scores = refitted.recommend(users, 10, return_scores=True)
    finite = np.isfinite(ref_scores)
    return {"max_score_diff": float(np.abs(scores[finite] - ref_scores[finite]).max()),
            "same_top10": float((top == ref_top).all(axis=1).mean())}


def _batches(X, y, shares):
    """(share, old part, new part, batch description) for the newest ``shares`` of the rows."""
    for share in shares:
        cut = len(X) - int(len(X) * share)
        X_a, X_b = X.iloc[:cut], X.iloc[cut:]
        yield share, (X_a, y[:cut]), (X_b, y[cut:]), {
            "batch_rows": len(X_b),
            "new_users": int((~X_b["user_id"].isin(X_a["user_id"])).sum()),
            "new_items": int((~X_b["item_id"].isin(X_a["item_id"])).sum())}


def _rows(data, X, y, shares, ours, peers):
    rows = []
    for share, (X_a, y_a), (X_b, y_b), batch in _batches(X, y, shares):
        for name, (estimator, ratings) in ours.items():
            ya, yb, y_all = (y_a, y_b, y) if ratings else (None, None, None)
            refit_seconds, refitted = _timed(lambda: clone(estimator).fit(X, y_all))
            seconds, updated = _update_seconds(estimator, (X_a, ya), (X_b, yb))
            rows.append({"data": data, "share": share, "model": name, **batch,
                         "refit_seconds": refit_seconds, "partial_fit_seconds": seconds,
                         "partial_over_refit": seconds / refit_seconds,
                         **_compare(updated, refitted)})
            print(rows[-1], flush=True)
        for name, peer in peers.items():
            a, b = X_a.to_numpy(), X_b.to_numpy()
            refit_seconds, _ = _timed(lambda: clone(peer).fit(X.to_numpy()))
            seconds, _ = _update_seconds(peer, (a,), (b,))
            rows.append({"data": data, "share": share, "model": name, **batch,
                         "refit_seconds": refit_seconds, "partial_fit_seconds": seconds,
                         "partial_over_refit": seconds / refit_seconds})
            print(rows[-1], flush=True)
    return rows


def run(data_home, scale):
    data = fetch_movielens("100k", data_home=data_home, download_if_missing=False)
    order = np.argsort(data.data["timestamp"].to_numpy(), kind="stable")
    X = data.data[["user_id", "item_id"]].iloc[order].reset_index(drop=True)
    y = np.asarray(data.target, dtype=float)[order]
    rows = _rows("ml-100k", X, y, SHARES, OURS, _peers())
    if scale:
        X, _ = make_interactions(n_users=20000, n_items=5000, n_interactions=300_000,
                                 implicit=True, random_state=0, return_X_y=True)
        X = X.sort_values("timestamp", kind="stable")[["user_id", "item_id"]]
        peers = {name: peer for name, peer in _peers().items() if "EASE" in name}
        rows += _rows("synthetic 5000 items", X.reset_index(drop=True), np.ones(len(X)),
                      (100 / len(X), 1000 / len(X)), {"EASE": (EASE(), False)}, peers)
    header = ["data", "batch", "rows", "rows of new users", "rows of new items", "model", "refit s",
              "partial_fit s", "partial / refit", "max |score diff|", "same top-10"]
    table = [[r["data"], f"{r['share']:.2%}", r["batch_rows"], r["new_users"], r["new_items"], r["model"],
              r["refit_seconds"], r["partial_fit_seconds"], r["partial_over_refit"],
              None if "max_score_diff" not in r else f"{r['max_score_diff']:.1e}",
              r.get("same_top10")] for r in rows]
    markdown = ("## partial_fit against refitting (newest rows as the batch)\n\n"
                f"Machine: {machine()}. Defaults everywhere; `max |score diff|` and "
                "`same top-10` compare the updated model with a fit on all the rows "
                "(every user's top-10).\n\n" + markdown_table(header, table))
    write_results("partial_fit", {"machine": machine(), "rows": rows}, markdown)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--scale", action="store_true",
                        help="also EASE on 5000 synthetic items")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        run(args.data_home, args.scale)
