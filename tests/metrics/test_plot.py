"""RankingMetricDisplay: values equal the metric functions, one recommend call."""

import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from sklearn_recs.baselines import Popularity
from sklearn_recs.datasets import make_interactions
from sklearn_recs.metrics import (
    RankingMetricDisplay,
    hit_rate_at_k_score,
    make_ranking_scorer,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
)
from sklearn_recs.model_selection import train_test_split


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

# Two users; user 0 likes {1, 2}, user 1 likes {3}.
Y_TRUE = [[1, 2], [3]]
Y_PRED = [[1, 5, 2, 7], [4, 3, 6, 8]]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_from_predictions_hand_computed_ndcg():
    display = RankingMetricDisplay.from_predictions(Y_TRUE, Y_PRED, metric="ndcg",
                                                    ks=[1, 2, 3])
    # user 0: hits at ranks 1 and 3; user 1: a hit at rank 2
    d = 1 / np.log2(np.arange(2, 5))
    user0 = [1.0, 1.0 / (d[0] + d[1]), (d[0] + d[2]) / (d[0] + d[1])]
    user1 = [0.0, d[1], d[1]]
    np.testing.assert_allclose(display.values, (np.array(user0) + user1) / 2)
    np.testing.assert_array_equal(display.ks, [1, 2, 3])


@pytest.mark.parametrize("metric, function", [
    ("precision", precision_at_k_score), ("recall", recall_at_k_score),
    ("ndcg", ndcg_at_k_score), ("hit_rate", hit_rate_at_k_score)])
def test_values_equal_metric_functions(metric, function):
    ks = range(1, 6)
    display = RankingMetricDisplay.from_predictions(Y_TRUE, Y_PRED, metric=metric, ks=ks)
    assert display.values.tolist() == [function(Y_TRUE, Y_PRED, k=k) for k in ks]
    assert display.metric == metric


def test_callable_metric_and_label():
    display = RankingMetricDisplay.from_predictions(
        Y_TRUE, Y_PRED, metric=recall_at_k_score, ks=[2])
    assert display.values.tolist() == [recall_at_k_score(Y_TRUE, Y_PRED, k=2)]
    assert display.ax_.get_ylabel() == "recall_at_k_score@k"


class CountingPopularity(Popularity):
    """Popularity that counts its recommend calls and their list lengths."""

    def recommend(self, users, top_n=10, **kwargs):
        self.calls_ = [*getattr(self, "calls_", []), top_n]
        return super().recommend(users, top_n=top_n, **kwargs)


def _interactions():
    X, y = make_interactions(30, 40, 600, random_state=0, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    return X_train, y_train, X_test, y_test


def test_from_estimator_equals_scorer_and_recommends_once():
    X_train, y_train, X_test, y_test = _interactions()
    model = CountingPopularity().fit(X_train, y_train)
    ks = [1, 3, 5, 10]
    display = RankingMetricDisplay.from_estimator(
        model, X_test, y_test, metric="ndcg", ks=ks, relevance_threshold=4)
    assert model.calls_ == [10]
    expected = [make_ranking_scorer("ndcg", k=k, relevance_threshold=4)(model, X_test, y_test)
                for k in ks]
    assert display.values.tolist() == expected
    assert display.name == "CountingPopularity"


def test_several_models_on_one_axes():
    X_train, y_train, X_test, y_test = _interactions()
    fig, ax = plt.subplots()
    first = RankingMetricDisplay.from_estimator(
        Popularity().fit(X_train), X_test, metric="recall", ks=range(1, 11),
        name="popularity", ax=ax)
    second = RankingMetricDisplay.from_predictions(
        [[1]], [[1, 2]], metric="recall", ks=range(1, 3), name="perfect", ax=ax,
        linestyle="--")
    assert first.ax_ is ax and second.ax_ is ax and second.figure_ is fig
    assert [line.get_label() for line in ax.get_lines()] == ["popularity", "perfect"]
    np.testing.assert_array_equal(first.line_.get_ydata(), first.values)
    assert second.line_.get_linestyle() == "--"
    assert ax.get_ylabel() == "Recall@k"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["popularity", "perfect"]


def test_plot_redraws_with_new_name():
    display = RankingMetricDisplay(ks=[1, 2], values=[0.5, 0.25], metric="map")
    display.plot(name="again")
    assert display.line_.get_label() == "again"
    assert display.ax_.get_ylabel() == "MAP@k"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"metric": "auc"}, ValueError, "metric='auc' is not a ranking metric"),
    ({"metric": 3}, TypeError, "metric must be a name"),
    ({"ks": []}, ValueError, "ks is empty"),
    ({"ks": 5}, TypeError, "ks=5 is invalid"),
    ({"ks": [0, 1]}, ValueError, "ks"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        RankingMetricDisplay.from_predictions(Y_TRUE, Y_PRED, **kwargs)


def test_from_estimator_without_relevant_rows():
    X_train, y_train, X_test, y_test = _interactions()
    model = Popularity().fit(X_train)
    with pytest.raises(ValueError, match="nothing to plot"), \
            pytest.warns(UserWarning, match="nothing to score"):
        RankingMetricDisplay.from_estimator(model, X_test, y_test, relevance_threshold=99)


def test_from_estimator_needs_a_recommender():
    class NoRecommend(BaseEstimator):
        pass

    with pytest.raises(TypeError, match="recommend"):
        RankingMetricDisplay.from_estimator(NoRecommend(), [[1, 2]])


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails
    with pytest.raises(ImportError, match="from_predictions requires matplotlib"):
        RankingMetricDisplay.from_predictions(Y_TRUE, Y_PRED)
