"""What every benchmark script writes: markdown tables, ratios to the best peer, results files.

The scripts import it as ``from _report import ...`` (they run as
``python benchmarks/bench_<name>.py``, which puts this folder on the path).
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """One line describing the machine the benchmark ran on."""
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
            f"Python {platform.python_version()}")


def best_time(fn, repeat: int = 1):
    """Best wall-clock seconds of ``repeat`` calls of ``fn``, and the last result."""
    import time

    best, out = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_child(args: list[str], timeout: float) -> tuple[str | None, str | None]:
    """Run ``python *args`` in a fresh interpreter (its own peak memory).

    Returns ``(stdout, None)``, or ``(None, error)`` where ``error`` says
    why it failed: the timeout, or the last line the child wrote to stderr.
    """
    try:
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                             timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    except subprocess.CalledProcessError as exc:
        lines = exc.stderr.strip().splitlines() or [f"exit status {exc.returncode}"]
        return None, lines[-1][:200]
    return out.stdout, None


def cell(value, digits: int = 4) -> str:
    """A table cell: floats rounded to ``digits`` significant decimals, NaN and None blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub markdown table of ``rows`` (lists of cells, formatted by :func:`cell`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def add_peer_ratios(rows: list[dict], *, metric: str, times: tuple[str, ...], is_peer,
                    greater_is_better: bool = True) -> str | None:
    """Add ``<metric> / best peer`` and ``<time> / best peer`` to each row; return the peer.

    The best peer is the row of ``rows`` with ``is_peer(row)`` true and the
    best ``metric`` (the highest, or the lowest for an error such as RMSE
    with ``greater_is_better=False``); every row (peers included) gets its
    metric and each of its ``times`` divided by that peer's. A time ratio
    below 1 is faster. Rows that failed (no ``metric``) get no ratio.
    Returns the best peer's ``model``, or None when no peer ran.
    """
    peers = [row for row in rows if is_peer(row) and row.get(metric) is not None]
    if not peers:
        return None
    sign = 1 if greater_is_better else -1
    best = max(peers, key=lambda row: sign * row[metric])
    for row in rows:
        if row.get(metric) is None:
            continue
        row[f"{metric} / best peer"] = row[metric] / best[metric]
        for key in times:
            if row.get(key) is not None and best.get(key):
                row[f"{key} / best peer"] = row[key] / best[key]
    return best["model"]


def write_results(stem: str, report: dict, markdown: str) -> None:
    """Write ``results/<stem>.json`` and ``results/<stem>.md``, and print the markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / f"{stem}.md").write_text(markdown)
    print(markdown, flush=True)
