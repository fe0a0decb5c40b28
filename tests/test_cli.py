"""The leaderboard command, end to end."""

import json

import numpy as np
import pandas as pd
import pytest

from sklearn_recs.__main__ import main
from sklearn_recs._leaderboard import evaluate_split, make_splits
from sklearn_recs.baselines import BiasBaseline, Popularity
from sklearn_recs.metrics import ndcg_at_k_score


def test_evaluate_ml100k_folds_bias_baseline(data_home, tmp_path, capsys):
    out = tmp_path / "board.csv"
    status = main(["evaluate", "--dataset", "ml-100k", "--data-home", str(data_home),
                   "--protocol", "folds", "--models", "bias,popularity,content", "--quiet",
                   "--output", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "ndcg@10" in printed and "bias" in printed
    rating = pd.read_csv(tmp_path / "board_rating.csv", index_col="model")
    ranking = pd.read_csv(tmp_path / "board_ranking.csv", index_col="model")
    # Classic reference for the bias baseline on u1..u5: RMSE 0.944.
    assert rating.loc["bias", "rmse"] <= 0.945
    # Rating models only in the rating table; every model ranks.
    assert set(rating.index) == {"bias", "content"}
    assert set(ranking.index) == {"bias", "popularity", "content"}
    assert ranking["feedback"].to_dict() == {"bias": "explicit", "popularity": "implicit",
                                             "content": "explicit"}
    assert not rating.isna().any().any() and not ranking.isna().any().any()
    assert ranking.loc["popularity", "ndcg@10"] > 0.2
    # The content model got the genres and years: it ranks above chance (~0.007).
    assert ranking.loc["content", "ndcg@10"] > 0.01
    assert (ranking["coverage@10"] > 0).all() and (ranking["fit_s"] > 0).all()
    assert list(ranking["ndcg@10"]) == sorted(ranking["ndcg@10"], reverse=True)


def test_evaluate_prints_two_tables_with_legends_and_writes_json(tmp_path, capsys):
    out = tmp_path / "board.json"
    assert main(["evaluate", "--models", "popularity,bias", "--protocol", "leave-last-out",
                 "-k", "5", "--output", str(out)]) == 0
    printed, log = capsys.readouterr()
    lines = printed.splitlines()
    rating_legend = next(line for line in lines if line.startswith("Rating prediction:"))
    ranking_legend = next(line for line in lines if line.startswith("Top-5 ranking"))
    assert "leave-last-out" in rating_legend and "RMSE ↓ MAE ↓" in rating_legend
    assert "NDCG@5 ↑" in ranking_legend and "coverage@5 ↑" in ranking_legend
    assert "feedback=explicit rows are rating models" in ranking_legend
    # The rating table comes first and holds no implicit model.
    rating_part = printed[printed.index(rating_legend):printed.index(ranking_legend)]
    assert "bias" in rating_part and "popularity" not in rating_part
    # Not a terminal: no progress bar, no escape codes.
    assert "\x1b[" not in printed + log and "\r" not in log
    rows = json.loads(out.read_text())
    assert sorted((row["task"], row["model"]) for row in rows) == [
        ("ranking", "bias"), ("ranking", "popularity"), ("rating", "bias")]
    ranking = {row["model"]: row for row in rows if row["task"] == "ranking"}
    assert 0 < ranking["popularity"]["precision@5"] <= 1
    assert ranking["bias"]["feedback"] == "explicit"
    rating = next(row for row in rows if row["task"] == "rating")
    assert set(rating) == {"task", "model", "rmse", "mae", "fit_s", "predict_s"}


def test_a_table_without_rating_models_says_so(capsys):
    assert main(["evaluate", "--models", "popularity", "--quiet"]) == 0
    assert "(none of the chosen models predicts ratings)" in capsys.readouterr().out


def _missing_download(url, path):
    raise OSError("no network")


@pytest.mark.parametrize("argv, message", [
    (["--k", "0"], "invalid value '0': pass a whole number >= 1"),
    (["-k", "ten"], "invalid value 'ten': pass a whole number >= 1"),
    (["--models", "nope"], "unknown model(s) nope; pass --models with names from: "),
    (["--models", " , "], "unknown model(s)"),
    (["--protocol", "bogus"], "invalid choice: 'bogus'"),
    (["--output", "board.txt"], "'board.txt' is neither .csv nor .json"),
    (["--output", "no/such/folder/board.csv"], "no folder 'no/such/folder'"),
    (["--dataset", "ml-100k", "--data-home", "EMPTY"], "ml-100k was not found in"),
    (["--dataset", "ml-100k", "--data-home", "FILE"], "It cannot be downloaded there"),
])
def test_usage_errors_exit_2_with_one_line_and_no_traceback(argv, message, tmp_path,
                                                            capsys, monkeypatch):
    monkeypatch.setattr("sklearn_recs.datasets._movielens._download", _missing_download)
    (tmp_path / "file").write_text("not a folder")
    argv = [{"EMPTY": str(tmp_path / "empty"), "FILE": str(tmp_path / "file")}.get(a, a)
            for a in argv]
    try:
        status = main(["evaluate", "--quiet", *argv])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    assert status == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("python -m sklearn_recs") and message in err
    if "--data-home" in argv:
        assert "--data-home FOLDER" in err


def test_evaluate_split_matches_metric_by_hand(ml100k_folds):
    train, test = ml100k_folds[0]
    cols = ["user_id", "item_id", "timestamp"]
    scores = evaluate_split(Popularity(), train[cols], train["rating"], test[cols],
                            test["rating"], k=10)
    model = Popularity().fit(train[cols])
    truth = test.groupby("user_id")["item_id"].agg(list)
    recs = model.recommend(truth.index.to_numpy(), top_n=10)
    assert scores["ndcg@10"] == pytest.approx(ndcg_at_k_score(truth.tolist(), recs, k=10))
    assert "rmse" not in scores
    rating_scores = evaluate_split(BiasBaseline(), train[cols], train["rating"],
                                   test[cols], test["rating"])
    assert 0.9 < rating_scores["rmse"] < 1.0


def test_make_splits_rejects_unknown_protocol():
    X = pd.DataFrame({"u": [1, 1, 2, 2], "i": [1, 2, 1, 2], "t": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="unknown protocol 'bogus'"):
        make_splits(X, "bogus")
