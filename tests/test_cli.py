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
    table = pd.read_csv(out, index_col="model")
    # Classic reference for the bias baseline on u1..u5: RMSE 0.944.
    assert table.loc["bias", "rmse"] <= 0.945
    assert np.isnan(table.loc["popularity", "rmse"])  # implicit: no rating metric
    assert table.loc["popularity", "ndcg@10"] > 0.2
    # The content model got the genres and years: it ranks above chance (~0.007).
    assert table.loc["content", "ndcg@10"] > 0.01
    assert (table["coverage@10"] > 0).all() and (table["fit_s"] > 0).all()


def test_evaluate_embedded_dataset_writes_json(tmp_path):
    out = tmp_path / "board.json"
    assert main(["evaluate", "--models", "popularity", "--protocol", "leave-last-out",
                 "-k", "5", "--quiet", "--output", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert rows[0]["model"] == "popularity"
    assert 0 < rows[0]["hit_rate@5"] <= 1


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["evaluate", "--models", "nope", "--quiet"]) == 2
    assert "unknown model(s) nope" in capsys.readouterr().err


def test_evaluate_split_matches_metric_by_hand(ml100k_folds):
    train, test = ml100k_folds[0]
    cols = ["user_id", "item_id", "timestamp"]
    scores = evaluate_split(Popularity(), train[cols], train["rating"], test[cols],
                            test["rating"], k=10)
    model = Popularity().fit(train[cols])
    truth = test.groupby("user_id")["item_id"].agg(list)
    recs = model.recommend(truth.index.to_numpy(), n_items=10)
    assert scores["ndcg@10"] == pytest.approx(ndcg_at_k_score(truth.tolist(), recs, k=10))
    assert "rmse" not in scores
    rating_scores = evaluate_split(BiasBaseline(), train[cols], train["rating"],
                                   test[cols], test["rating"])
    assert 0.9 < rating_scores["rmse"] < 1.0


def test_make_splits_rejects_unknown_protocol():
    X = pd.DataFrame({"u": [1, 1, 2, 2], "i": [1, 2, 1, 2], "t": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="unknown protocol 'bogus'"):
        make_splits(X, "bogus")
