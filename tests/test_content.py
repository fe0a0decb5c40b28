"""Tests of ContentRecommender: profiles, cold-start items, explanations, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_recs.baselines import BiasBaseline
from sklearn_recs.content import ContentRecommender, make_default_transformer
from sklearn_recs.exceptions import ColdStartWarning, DataWarning
from sklearn_recs.metrics import make_ranking_scorer


@pytest.fixture
def catalogue():
    """Two tastes (action vs romance), item 60 never rated."""
    items = pd.DataFrame(
        {"genres": [["Action"], ["Action", "Sci-Fi"], ["Romance"], ["Romance", "Drama"],
                    ["Action", "Thriller"], ["Romance", "Comedy"]],
         "tags": ["explosions car chase", "space explosions", "love paris",
                  "love tears", "car chase heist", None],
         "year": [1990, 2000, 1995, 2005, 2010, np.nan]},
        index=[10, 20, 30, 40, 50, 60])
    X = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2, 3, 3],
                      "item_id": [10, 30, 20, 30, 40, 10, 50, 40],
                      "timestamp": [1, 2, 3, 1, 2, 3, 1, 2]})
    y = np.array([5.0, 1.0, 4.0, 5.0, 4.0, 1.0, 5.0, 2.0])
    return X, y, items


def test_cold_start_items_are_scored_and_recommended(catalogue):
    X, y, items = catalogue
    model = ContentRecommender(centering="mean").fit(X, y, item_features=items)
    assert 60 in model.items_ and model.interactions_[:, model.n_items_ - 1].nnz == 0
    # user 2 loves romance: the never-rated romance item 60 comes first
    assert model.recommend([2], top_n=1)[0, 0] == 60
    assert model.recommend([1], top_n=1, items=[50, 60])[0, 0] == 50
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a catalogue item is not a cold pair
        pred = model.predict([[2, 60], [1, 60]])
    np.testing.assert_allclose(
        pred, model.user_mean_[[1, 0]] + model.beta_ * model._score_users(
            np.array([1, 0]), np.array([5]))[:, 0])


def test_centroid_profile_is_mean_centred_weighted_average(catalogue):
    X, y, items = catalogue
    model = ContentRecommender(profile="centroid", similarity="dot", centering="mean").fit(
        X, y, item_features=items)
    V = model.item_vectors_.toarray()
    rows = (X["user_id"] == 1).to_numpy()
    w = y[rows] - y[rows].mean()
    codes = np.searchsorted(model.items_, X["item_id"][rows])
    expected = (w[:, None] * V[codes]).sum(0) / np.abs(w).sum()
    np.testing.assert_allclose(model.user_profiles_[0].toarray().ravel(), expected)


def test_ridge_profiles_match_closed_form(catalogue):
    X, y, items = catalogue
    model = ContentRecommender(profile="ridge", alpha=0.5, centering="mean").fit(
        X, y, item_features=items)
    V = model.item_vectors_.toarray()
    for code, user in enumerate(model.users_):
        rows = (X["user_id"] == user).to_numpy()
        Vu = V[np.searchsorted(model.items_, X["item_id"][rows])]
        r = y[rows] - y[rows].mean()
        exact = np.linalg.solve(Vu.T @ Vu + 0.5 * np.eye(V.shape[1]), Vu.T @ r)
        np.testing.assert_allclose(model.user_profiles_[code].toarray().ravel(), exact,
                                   atol=1e-6)


def test_leave_one_out_beta(catalogue):
    """beta_ is the least-squares scale of the leave-one-out cosines."""
    X, y, items = catalogue
    model = ContentRecommender(profile="centroid", centering="mean").fit(X, y, item_features=items)
    V = model.item_vectors_.toarray()
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    loo, target = [], []
    for user in model.users_:
        rows = np.flatnonzero((X["user_id"] == user).to_numpy())
        w = y[rows] - y[rows].mean()
        codes = np.searchsorted(model.items_, X["item_id"].to_numpy()[rows])
        for j in range(len(rows)):
            rest = np.delete(y[rows], j)
            p = (rest - rest.mean()) @ np.delete(V[codes], j, axis=0)
            norm = np.linalg.norm(p)
            loo.append(p @ V[codes[j]] / norm if norm > 1e-12 else 0.0)
            target.append(w[j])
    loo, target = np.array(loo), np.array(target)
    assert model.beta_ == pytest.approx(loo @ target / (loo @ loo))


def test_time_decay_favours_recent_tastes(catalogue):
    X, y, items = catalogue
    X = X.copy()
    X.loc[X["user_id"] == 2, "timestamp"] = [0, 1000, 1001]  # romance is old news
    y = y.copy()
    y[(X["user_id"] == 2).to_numpy()] = [5.0, 1.0, 5.0]      # recent: action liked
    # (the profiles alone: the popularity of centering="baseline" would rank first here)
    plain = ContentRecommender(feedback="implicit", centering="mean").fit(
        X, None, item_features=items)
    decayed = ContentRecommender(feedback="implicit", centering="mean", half_life=10.0).fit(
        X, None, item_features=items)
    assert plain.recommend([2], top_n=1)[0, 0] != decayed.recommend([2], top_n=1)[0, 0]
    assert decayed.recommend([2], top_n=1)[0, 0] in (20, 50)


def test_similar_items_and_explain(catalogue):
    X, y, items = catalogue
    model = ContentRecommender().fit(X, y, item_features=items[["genres", "tags"]])
    assert model.similar_items([10], top_n=1)[0, 0] == 50  # action, car chase
    why = model.explain(1, 20, n_contributions=3)
    features = why[why["kind"] == "feature"]
    assert len(features) <= 3
    assert features["source"].iloc[0] in ("genres__Action", "tags__explosions")
    assert (np.diff(features["contribution"].abs()) <= 0).all()
    with pytest.raises(ValueError, match="not seen at fit"):
        model.explain("nobody", 20)


def test_any_transformer_cloned_and_grid_searchable(catalogue):
    X, y, items = catalogue
    text = ColumnTransformer([("tags", TfidfVectorizer(), "tags")])
    filled = items.fillna({"tags": ""})
    model = ContentRecommender(transformer=text).fit(X, y, item_features=filled)
    assert model.transformer_ is not text and not hasattr(text, "transformers_")
    svd = make_pipeline(text, TruncatedSVD(n_components=2, random_state=0))
    assert ContentRecommender(transformer=svd).fit(
        X, y, item_features=filled).item_vectors_.shape == (6, 2)
    search = GridSearchCV(ContentRecommender(transformer=text),
                          {"transformer__tags__min_df": [1, 2]},
                          cv=[(np.arange(6), np.arange(6, 8))],
                          scoring=make_ranking_scorer("ndcg", k=3), error_score="raise")
    with pytest.warns(ColdStartWarning, match="users were unseen at fit"):  # a test user
        search.fit(X, y, item_features=filled)
    assert search.best_params_["transformer__tags__min_df"] in (1, 2)


def test_metadata_routing_through_pipeline_and_grid_search(catalogue):
    X, y, items = catalogue
    with sklearn.config_context(enable_metadata_routing=True):
        model = ContentRecommender().set_fit_request(item_features=True)
        pipe = make_pipeline(model).fit(X, y, item_features=items)
        assert 60 in pipe[-1].items_
        search = GridSearchCV(model, {"similarity": ["cosine", "dot"]},
                              cv=[(np.arange(6), np.arange(6, 8))],
                              scoring="neg_root_mean_squared_error", error_score="raise")
        with pytest.warns(ColdStartWarning, match="unseen at fit"):  # the test pairs
            search.fit(X, y, item_features=items)
        assert 60 in search.best_estimator_.items_
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_default_transformer_and_missing_text(catalogue):
    _, _, items = catalogue
    vectors = make_default_transformer(items).fit_transform(items)
    assert np.isfinite(vectors.toarray()).all()  # missing tags, year imputed
    with pytest.raises(TypeError, match="'released'.*Drop the column"):
        make_default_transformer(items.assign(released=pd.Timestamp("2000-01-01")))


def test_without_item_features_is_documented_fallback(catalogue):
    X, y, _ = catalogue
    with pytest.warns(DataWarning, match="without item_features"):
        model = ContentRecommender(profile="centroid", centering="mean").fit(X, y)
    np.testing.assert_allclose(model.predict(X), model.user_mean_[
        np.searchsorted(model.users_, X["user_id"])])


@pytest.mark.parametrize("mutate, error, match", [
    (lambda f: f.drop(index=[30]), ValueError, r"1 item id\(s\) of X have no row"),
    (lambda f: f.reset_index(names="item_id"), ValueError, "set_index\\('item_id'\\)"),
    (lambda f: f.set_axis(f.index.astype(str)), ValueError, "holds strings"),
    (lambda f: pd.concat([f, f.iloc[:1]]), ValueError, "duplicate item id"),
    (lambda f: f.to_numpy(), TypeError, "must be a pandas DataFrame"),
])
def test_bad_item_features(catalogue, mutate, error, match):
    X, y, items = catalogue
    with pytest.raises(error, match=match):
        ContentRecommender().fit(X, y, item_features=mutate(items))


def test_transformer_nan_and_missing_text_errors(catalogue):
    X, y, items = catalogue
    nan_out = FunctionTransformer(lambda f: np.full((len(f), 2), np.nan))
    with pytest.raises(ValueError, match="output 12 NaN"):
        ContentRecommender(transformer=nan_out).fit(X, y, item_features=items[["year"]])
    text = ColumnTransformer([("tags", TfidfVectorizer(), "tags")])
    with pytest.raises(ValueError, match=r"columns \['tags', 'year'\] hold missing"):
        ContentRecommender(transformer=text).fit(X, y, item_features=items)


def test_movielens_quality(tmp_path):
    """RMSE and cold-start NDCG ranges on ml-latest-small (embedded)."""
    from sklearn_recs.datasets import fetch_movielens
    from sklearn_recs.metrics import ndcg_at_k_score

    bunch = fetch_movielens()
    X, y = bunch.data, bunch.target.to_numpy()
    features = bunch.item_info[["genres", "title"]]
    rng = np.random.default_rng(0)
    held = rng.choice(np.unique(X["item_id"]), size=1000, replace=False)
    test = np.isin(X["item_id"], held)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ContentRecommender(profile="ridge", alpha=5.0).fit(
            X[~test], y[~test], item_features=features)
        bias = BiasBaseline().fit(X[~test], y[~test])
        rmse = root_mean_squared_error(y[test], model.predict(X[test]))
        assert rmse < root_mean_squared_error(y[test], bias.predict(X[test])) + 0.05
    liked = X[test & (y >= 4)].groupby("user_id")["item_id"].apply(list)
    users = liked.index[np.isin(liked.index, model.users_)]
    lists = model.recommend(users, top_n=10, items=held)
    random_lists = np.array([rng.permutation(held)[:10] for _ in users])
    ndcg = ndcg_at_k_score(liked[users].tolist(), lists)
    assert ndcg > 2 * ndcg_at_k_score(liked[users].tolist(), random_lists)


def test_baseline_centering_is_the_mean_model_of_the_rating_less_item_bias(catalogue):
    """centering="baseline": BiasBaseline's item biases out, then the user-mean model."""
    X, y, items = catalogue
    model = ContentRecommender().fit(X, y, item_features=items)
    bias = BiasBaseline().fit(X, y)
    np.testing.assert_allclose(model.item_bias_[np.searchsorted(model.items_, bias.items_)],
                               bias.item_bias_)
    b = model.item_bias_[np.searchsorted(model.items_, X["item_id"])]
    residual = ContentRecommender(centering="mean").fit(X, y - b, item_features=items)
    np.testing.assert_allclose(model.user_profiles_.toarray(),
                               residual.user_profiles_.toarray(), atol=1e-10)
    np.testing.assert_allclose(model.predict(X), residual.predict(X) + b)
    # recommend ranks by the prediction
    users = np.unique(X["user_id"])
    top, scores = model.recommend(users, top_n=3, exclude_seen=False, return_scores=True)
    assert np.isfinite(scores).all()
    pairs = np.column_stack([np.repeat(users, 3), top.ravel()])
    np.testing.assert_allclose(model.predict(pairs).reshape(top.shape) - model.user_mean_[
        np.searchsorted(model.users_, users)][:, None], scores)


@pytest.mark.parametrize("half_life", [None, 10.0])
def test_implicit_baseline_is_popularity_plus_a_ridge_on_the_whole_catalogue(catalogue,
                                                                            half_life):
    """Implicit centering="baseline": b_i = mean of y_ui over users (0 off the
    interactions) and p_u = (V'V + alpha I)^-1 V'(y_u - b), by a dense solve."""
    X, _, items = catalogue
    X = X.assign(timestamp=[1, 2, 30, 1, 2, 3, 1, 20])
    weights = np.array([1.0, 2.0, 1.0, 1.0, 6.0, 1.0, 1.0, 1.0])  # counts
    model = ContentRecommender(feedback="implicit", alpha=0.5, half_life=half_life).fit(
        X, weights, item_features=items)
    users = np.searchsorted(model.users_, X["user_id"])
    codes = np.searchsorted(model.items_, X["item_id"])
    target = weights.copy()
    if half_life is not None:
        latest = X.groupby("user_id")["timestamp"].transform("max").to_numpy()
        target *= 0.5 ** ((latest - X["timestamp"].to_numpy()) / half_life)
    Y = np.zeros((model.n_users_, model.n_items_))
    np.add.at(Y, (users, codes), target)
    V = model.item_vectors_.toarray()
    b = Y.mean(axis=0)
    P = np.linalg.solve(V.T @ V + 0.5 * np.eye(V.shape[1]), V.T @ (Y - b).T).T
    np.testing.assert_allclose(model.item_bias_, b, atol=1e-12)
    np.testing.assert_allclose(model.user_profiles_.toarray(), P, atol=1e-6)
    scores = b + P @ V.T
    np.testing.assert_allclose(model.predict(X), scores[users, codes], atol=1e-6)
    top, got = model.recommend(model.users_, top_n=6, exclude_seen=False, return_scores=True)
    np.testing.assert_allclose(got, -np.sort(-scores, axis=1), atol=1e-6)
    assert (model.user_mean_ == 0).all() and model.beta_ == 1.0


def test_implicit_baseline_ranks_above_popularity_on_movielens():
    """The catalogue ridge adds the genres to the popularity it starts from."""
    from sklearn_recs._leaderboard import evaluate_split, make_splits
    from sklearn_recs.baselines import Popularity
    from sklearn_recs.datasets import fetch_movielens

    bunch = fetch_movielens()
    X = bunch.data
    (train, test), = make_splits(X, "holdout")
    ndcg = {}
    for name, model, params in [
            ("popularity", Popularity(), None),
            ("content", ContentRecommender(feedback="implicit"),
             {"item_features": bunch.item_info[["genres"]]})]:
        ndcg[name] = evaluate_split(model, X.iloc[train], None, X.iloc[test], None,
                                    fit_params=params)["ndcg@10"]
    assert ndcg["content"] > ndcg["popularity"]
