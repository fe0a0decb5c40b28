"""Peak memory of fit and of top-10 for every user, per estimator family, at 10M interactions.

Usage::

    flock /tmp/bench.lock python benchmarks/bench_memory.py [--only NAME ...] [--size 10M|1M]

The data (``make_interactions``, implicit; 10M: 500,000 users x 50,000
items, 1M: 50,000 users x 5,000 items) is generated once and saved to an
``.npz`` under ``/tmp``, with synthetic item features for
``ContentRecommender`` (eight numbers and a 20-level category per item).
Each estimator then runs two fresh child processes, so that one phase's
memory cannot hide in another's:

- ``fit``: load the data, fit, save the model with joblib;
- ``recommend``: load the model, ``recommend(users, top_n=10)`` in one
  call, for every user or (``--users N``) the first ``N``: scoring is
  blocked, so the peak does not grow with the number of users beyond the
  output itself (16 bytes per list entry, 80 MB for 500,000 top-10 lists),
  while the time grows linearly; at 10M, dense-scoring models take about
  10 minutes per 500,000 users on 2 cores, so the table says how many users
  each run ranked and projects the time for all of them.

The peak is the kernel's high-water mark of the child's resident memory
(``VmHWM``), reset through ``/proc/self/clear_refs`` right before the
phase, minus the resident memory at that point (``VmRSS``): the memory the
phase itself added. It is printed beside the size of one dense users x
items float32 array, which no estimator may allocate. The peers (the
``implicit`` library's ALS and cosine item-item, behind the same
``fit``/``recommend`` calls) run the same way in the same invocation.

Runs append to ``benchmarks/results/memory.json`` (an estimator and size
run again replaces its rows) and rewrite ``memory.md``; ``--only`` runs a
few estimators, to keep each invocation short. Neural models train one
epoch (``max_epochs=1``), ALS one iteration: memory does not grow with
epochs, only time does.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _report import RESULTS, machine, markdown_table, run_child, write_results

SIZES = {"10M": (500_000, 50_000, 10_000_000), "1M": (50_000, 5_000, 1_000_000)}
WORK = Path("/tmp/sklearn_recs_bench_memory")
# name: ("module:Class", keyword arguments, fit needs the item features)
ESTIMATORS = {
    "Popularity": ("sklearn_recs.baselines:Popularity", {}, False),
    "ItemKNN": ("sklearn_recs.neighbors:ItemKNN", {"feedback": "implicit"}, False),
    "UserKNN": ("sklearn_recs.neighbors:UserKNN", {"feedback": "implicit"}, False),
    "SparseEASE": ("sklearn_recs.linear_model:SparseEASE", {}, False),
    "ImplicitMatrixFactorization": ("sklearn_recs.neural:ImplicitMatrixFactorization",
                                    {"max_epochs": 1, "random_state": 0}, False),
    "TwoTower": ("sklearn_recs.neural:TwoTower", {"max_epochs": 1, "random_state": 0}, False),
    "ContentRecommender": ("sklearn_recs.content:ContentRecommender",
                           {"feedback": "implicit"}, True),
    "implicit ALS (peer)": ("implicit.als:AlternatingLeastSquares",
                            {"factors": 64, "iterations": 1, "random_state": 0}, False),
    "implicit CosineRecommender (peer)": ("implicit.nearest_neighbours:CosineRecommender",
                                          {"K": 100}, False),
}


def data_path(size: str) -> Path:
    return WORK / f"interactions_{size}.npz"


def make_data(size: str) -> Path:
    """Generate the interactions and item features of ``size`` once; return the file."""
    path = data_path(size)
    if path.exists():
        return path
    from sklearn_recs.datasets import make_interactions

    n_users, n_items, n = SIZES[size]
    X, _ = make_interactions(n_users, n_items, n, implicit=True, random_state=0,
                             as_frame=False, return_X_y=True, with_timestamps=False)
    rng = np.random.default_rng(0)
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=np.ascontiguousarray(X[:, :2], dtype=np.int32),
             numbers=rng.normal(size=(n_items, 8)), category=rng.integers(20, size=n_items))
    return path


def _item_features(data) -> pd.DataFrame:
    frame = pd.DataFrame(data["numbers"], columns=[f"x{j}" for j in range(8)])
    frame["genre"] = pd.Categorical([f"g{c}" for c in data["category"]])
    return frame


def _build(name):
    path, params, _ = ESTIMATORS[name]
    module, cls = path.split(":")
    model = getattr(importlib.import_module(module), cls)(**params)
    if module.startswith("implicit"):
        from _peers import ImplicitPeer

        return ImplicitPeer(model)
    return model


def _memory_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process, in KiB."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _reset_peak() -> int:
    """Reset the high-water mark to the current resident memory; return it (KiB)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _memory_kib()[0]


def child(name: str, phase: str, size: str, n_users: int | None) -> dict:
    """Run one phase of one estimator in this (fresh) process; return its measures."""
    import joblib

    model_path = WORK / f"{name.replace(' ', '_')}_{size}.joblib"
    if phase == "fit":
        data = np.load(data_path(size))
        X = data["X"]
        fit_params = {"item_features": _item_features(data)} if ESTIMATORS[name][2] else {}
        model = _build(name)
        start_kib = _reset_peak()
        start = time.perf_counter()
        model.fit(X, **fit_params)
    else:
        model = joblib.load(model_path)
        start_kib = _reset_peak()
        start = time.perf_counter()
        users = model.users_[:n_users]
        recommended = model.recommend(users, top_n=10)
        assert recommended.shape == (len(users), 10)
    seconds = time.perf_counter() - start
    peak_kib = _memory_kib()[1]
    if phase == "fit":
        joblib.dump(model, model_path)
    return {"seconds": seconds, "start_rss_gib": start_kib / 2**20,
            "peak_above_start_gib": (peak_kib - start_kib) / 2**20,
            **({} if phase == "fit" else {"users": len(users),
                                          "all_users": len(model.users_)})}


def run_phase(name: str, phase: str, size: str, n_users: int | None, timeout: float) -> dict:
    """Run ``child`` in a fresh interpreter; its measures or an ``error``."""
    args = [__file__, "--child", name, phase, "--size", size]
    args += [] if n_users is None else ["--users", str(n_users)]
    out, error = run_child(args, timeout)
    return {"error": error} if error else json.loads(out.strip().splitlines()[-1])


def dense_gib(size: str) -> float:
    n_users, n_items, _ = SIZES[size]
    return n_users * n_items * 4 / 2**30


def to_markdown(report: dict) -> str:
    lines = ["# Memory under load", "", f"Machine: {report['machine']}", "",
             "Each phase runs in a fresh process: `fit` from the loaded data, `recommend` "
             "(top-10 for the users ranked, one call) from the model saved by `fit`. Peak = the "
             "kernel's high-water mark of resident memory (`VmHWM`, reset right before the "
             "phase) minus the resident memory at that moment. `dense` is the size of one "
             "users x items float32 array. Neural models: one epoch; ALS: one iteration.", "",
             "Only at 1M: UserKNN, whose fit compares every user with every user (about "
             "2.5e11 pairs at 10M, 100 times ItemKNN's item pairs: over 20 minutes on 2 "
             "cores); TwoTower, whose default Adam updates the whole embedding tables on "
             "every step (one 10M epoch did not finish in 800 s on the CPU). Recommending "
             "for all users is projected from the users ranked where a run for all of "
             "them would exceed this script's time limit.", ""]
    rows = []
    for r in report["runs"]:
        users, items, n = SIZES[r["size"]]
        base = [r["estimator"], f"{n:,} ({users:,} x {items:,})", r["phase"]]
        if "error" in r:
            rows.append(base + [r["error"], None, None, None, None, None, None])
            continue
        dense = dense_gib(r["size"])
        users = f"{r['users']:,}" if "users" in r else None
        projected = r["seconds"] * r["all_users"] / r["users"] if "users" in r else None
        rows.append(base + [users, r["seconds"], projected, r["peak_above_start_gib"],
                            r["start_rss_gib"], dense, r["peak_above_start_gib"] / dense])
    for size in SIZES:
        done = [r for r in report["runs"] if r["size"] == size and "error" not in r]
        if done:
            top = max(done, key=lambda r: r["peak_above_start_gib"])
            lines += [f"Largest peak at {size}: {top['peak_above_start_gib']:.2f} GiB "
                      f"({top['estimator']}, {top['phase']}), "
                      f"{top['peak_above_start_gib'] / dense_gib(size):.1%} of one dense "
                      f"users x items array ({dense_gib(size):.1f} GiB).", ""]
    lines.append(markdown_table(
        ["estimator", "interactions (users x items)", "phase", "users ranked", "wall (s)",
         "wall, all users (s, projected)", "peak above start (GiB)", "RSS at start (GiB)",
         "dense users x items (GiB)", "peak / dense"], rows))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(ESTIMATORS), default=list(ESTIMATORS))
    parser.add_argument("--size", choices=list(SIZES), default="10M")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds allowed to each phase")
    parser.add_argument("--users", type=int, default=None,
                        help="recommend for the first USERS users only (default: all)")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "PHASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.size, args.users)), flush=True)
        return
    start = time.perf_counter()
    make_data(args.size)
    print(f"data {args.size}: {time.perf_counter() - start:.0f} s", flush=True)
    previous = RESULTS / "memory.json"
    report = json.loads(previous.read_text()) if previous.exists() else {"runs": []}
    report["machine"] = machine()
    for name in args.only:
        report["runs"] = [r for r in report["runs"]
                          if (r["estimator"], r["size"]) != (name, args.size)]
        for phase in ("fit", "recommend"):
            result = run_phase(name, phase, args.size, args.users, args.timeout)
            report["runs"].append({"estimator": name, "size": args.size, "phase": phase,
                                   **result})
            print(f"  {name} {phase}: {result}", flush=True)
            if "error" in result:
                break
        (WORK / f"{name.replace(' ', '_')}_{args.size}.joblib").unlink(missing_ok=True)
    order = list(ESTIMATORS)
    report["runs"].sort(key=lambda r: (order.index(r["estimator"]), r["size"] != "10M",
                                       r["phase"]))
    write_results("memory", report, to_markdown(report))


if __name__ == "__main__":
    main()
