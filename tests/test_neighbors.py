"""ItemKNN / UserKNN against brute-force dense references, and their error handling."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn

from sklearn_recs.base import _fit_biases
from sklearn_recs.exceptions import ColdStartWarning
from sklearn_recs.neighbors import EXPLICIT_SIMILARITIES, ItemKNN, UserKNN
from sklearn_recs.utils._similarity import bm25_weight, tfidf_weight


# Implicit models get small integer weights on purpose here (counts, or
# ratings read as weights against a reference), which the ratings check flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*y looks like explicit ratings:sklearn_recs.exceptions.DataWarning")

N_USERS, N_ITEMS = 24, 16


@pytest.fixture(scope="module")
def ratings():
    """Dense mask and real-valued ratings (no ties), every user and item rated."""
    rng = np.random.default_rng(42)
    mask = rng.random((N_USERS, N_ITEMS)) < 0.5
    mask[np.arange(N_USERS), np.arange(N_USERS) % N_ITEMS] = True
    mask[np.arange(N_USERS), (np.arange(N_USERS) + 5) % N_ITEMS] = True
    values = np.where(mask, rng.uniform(1, 5, size=mask.shape), 0.0)
    users, items = np.nonzero(mask)
    X = np.column_stack([users, items])
    return mask, values, X, values[users, items]


def _orient(model_cls, mask, values):
    """(entity x rater) mask and values: items x users for ItemKNN."""
    return (mask, values) if model_cls is UserKNN else (mask.T, values.T)


def _biases(mask, values, model):
    users, items = np.nonzero(mask)
    mu, bu, bi = _fit_biases(users, items, values[users, items], N_USERS, N_ITEMS,
                             alpha_user=model.alpha_user, alpha_item=model.alpha_item, max_iter=10)
    return mu, bu, bi


def _centred(model, mask, values, similarity):
    """The entity x rater values the similarity compares, as in the docs."""
    ent_mask, ent_values = _orient(type(model), mask, values)
    mu, bu, bi = _biases(mask, values, model)
    b_ent, b_rat = (bu, bi) if isinstance(model, UserKNN) else (bi, bu)
    entity_mean = ent_values.sum(1) / ent_mask.sum(1)
    rater_mean = ent_values.sum(0) / ent_mask.sum(0)
    centre = {
        "cosine": 0.0, "msd": 0.0,
        "pearson": entity_mean[:, None],
        "adjusted_cosine": rater_mean[None, :],
        "pearson_baseline": mu + b_ent[:, None] + b_rat[None, :],
    }[similarity]
    return ent_mask, np.where(ent_mask, ent_values - centre, 0.0)


def _settings(model):
    """The similarity settings of a fitted model, for the reference."""
    return {"shrinkage": model.shrinkage_, "min_support": model.min_support,
            "amplification": model.amplification_}


def _reference_similarity(mask, v, kernel, *, shrinkage, min_support, amplification):
    n = len(v)
    sim = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            common = mask[a] & mask[b]
            n_common = common.sum()
            if kernel == "cosine":
                den = np.linalg.norm(v[a]) * np.linalg.norm(v[b])
                s = v[a] @ v[b] / den if den > 0 else 0.0
            elif kernel == "dot":
                s = v[a] @ v[b]
            elif kernel == "msd":
                s = 1.0 / (1.0 + np.mean((v[a, common] - v[b, common]) ** 2)) if n_common else 0.0
            else:
                den = np.sqrt((v[a, common] ** 2).sum() * (v[b, common] ** 2).sum())
                s = (v[a, common] @ v[b, common]) / den if den > 0 else 0.0
            if shrinkage:
                s *= n_common / (n_common + shrinkage)
            if n_common < min_support:
                s = 0.0
            sim[a, b] = max(s, 0.0) ** amplification
    np.fill_diagonal(sim, 0.0)
    return sim


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("similarity", EXPLICIT_SIMILARITIES)
@pytest.mark.parametrize("options", [{}, {"shrinkage": 5.0, "min_support": 4, "amplification": 2.5}])
def test_explicit_similarity_matches_dense_reference(ratings, model_cls, similarity, options):
    mask, values, X, y = ratings
    model = model_cls(similarity=similarity, **options).fit(X, y)
    ent_mask, v = _centred(model, mask, values, similarity)
    kernel = "msd" if similarity == "msd" else "co_cosine"
    expected = _reference_similarity(ent_mask, v, kernel, **_settings(model))
    assert expected.max() > 0
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("weighting", [None, "tfidf", "bm25"])
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_implicit_similarity_and_scores_match_dense_reference(ratings, model_cls, weighting,
                                                              similarity):
    mask, values, X, y = ratings
    weights = np.round(y)  # non-negative weights
    model = model_cls(feedback="implicit", similarity=similarity, weighting=weighting,
                      n_neighbors=N_USERS + N_ITEMS).fit(X, weights)
    dense = np.zeros((N_USERS, N_ITEMS))
    dense[X[:, 0], X[:, 1]] = weights
    ent_mask, ent = _orient(model_cls, mask, dense)
    import scipy.sparse as sp

    weigh = {None: lambda m: m, "tfidf": tfidf_weight, "bm25": bm25_weight}[weighting]
    ent = weigh(sp.csr_matrix(ent)).toarray()
    expected = _reference_similarity(ent_mask, ent, similarity, **_settings(model))
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-4, atol=1e-5)
    scores = (dense @ expected.T if model_cls is ItemKNN else expected @ dense)
    np.testing.assert_allclose(model.predict(X), scores[X[:, 0], X[:, 1]], rtol=1e-4, atol=1e-5)
    users = np.arange(N_USERS)
    _, top = model.recommend(users, top_n=3, exclude_seen=False, return_scores=True)
    np.testing.assert_allclose(top, -np.sort(-scores, axis=1)[:, :3], rtol=1e-4, atol=1e-5)


def _reference_predictions(model, mask, values, users, items):
    """Weighted mean over the top-k rated neighbours, by brute force."""
    sim = model.similarity_.toarray()
    mu, bu, bi = _biases(mask, values, model)
    item_mean = values.sum(0) / mask.sum(0)
    user_mean = values.sum(1) / mask.sum(1)
    out = []
    for u, i in zip(users, items):
        if isinstance(model, ItemKNN):
            target, rated = i, np.flatnonzero(mask[u])
            entity_mean, residual_of = item_mean, lambda j: values[u, j]
            base_of = (lambda j: mu + bu[u] + bi[j]) if model.centering == "baseline" \
                else (lambda j: item_mean[j])
        else:
            target, rated = u, np.flatnonzero(mask[:, i])
            entity_mean, residual_of = user_mean, lambda v: values[v, i]
            base_of = (lambda v: mu + bu[v] + bi[i]) if model.centering == "baseline" \
                else (lambda v: user_mean[v])
        del entity_mean
        neighbours = [j for j in rated if sim[target, j] > 0]
        neighbours = sorted(neighbours, key=lambda j: -sim[target, j])[:model.n_neighbors_]
        pred = base_of(target)
        if len(neighbours) >= model.min_neighbors:
            weights = np.array([sim[target, j] for j in neighbours])
            resid = np.array([residual_of(j) - base_of(j) for j in neighbours])
            pred += weights @ resid / (model.damping + weights.sum())
        out.append(np.clip(pred, values[mask].min(), values[mask].max()))
    return np.array(out)


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("centering", ["mean", "baseline"])
@pytest.mark.parametrize("k, min_neighbors, damping", [(3, 1, 0.0), (5, 4, 0.5), (40, 1, 0.0)])
def test_explicit_prediction_matches_dense_reference(ratings, model_cls, centering, k, min_neighbors,
                                                     damping):
    mask, values, X, y = ratings
    model = model_cls(n_neighbors=k, min_neighbors=min_neighbors, centering=centering, similarity="pearson",
                      damping=damping).fit(X, y)
    users, items = np.meshgrid(np.arange(N_USERS), np.arange(N_ITEMS), indexing="ij")
    users, items = users.ravel(), items.ravel()
    expected = _reference_predictions(model, mask, values, users, items)
    np.testing.assert_allclose(model.predict(np.column_stack([users, items])), expected,
                               rtol=1e-5, atol=1e-5)
    # The full-catalogue scores of recommend are the same predictions.
    _, scores = model.recommend(np.arange(N_USERS), top_n=N_ITEMS, exclude_seen=False,
                                return_scores=True)
    np.testing.assert_allclose(scores, -np.sort(-expected.reshape(N_USERS, N_ITEMS), axis=1),
                               rtol=1e-5, atol=1e-5)


def test_prediction_is_chunked_identically(ratings):
    mask, values, X, y = ratings
    model = ItemKNN(n_neighbors=4).fit(X, y)
    expected = model.predict(X)
    with sklearn.config_context(working_memory=1e-4):
        np.testing.assert_allclose(model.predict(X), expected)
        # Blocks of other sizes round the BLAS products differently.
        np.testing.assert_allclose(ItemKNN(n_neighbors=4).fit(X, y).similarity_.toarray(),
                                   model.similarity_.toarray(), rtol=1e-5)


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
def test_pruning_keeps_each_rows_top_neighbours(ratings, model_cls):
    mask, values, X, y = ratings
    full = model_cls(similarity="pearson").fit(X, y).similarity_.toarray()
    pruned = model_cls(similarity="pearson", n_stored_neighbors=3).fit(X, y).similarity_.toarray()
    expected = np.where(full >= -np.sort(-full, axis=1)[:, [2]], full, 0.0)
    np.testing.assert_allclose(pruned, expected)
    assert ((pruned > 0).sum(axis=1) <= 3).all()
    implicit = model_cls(feedback="implicit", n_neighbors=2).fit(X).similarity_
    assert (np.diff(implicit.indptr) <= 2).all()


def test_user_knn_is_item_knn_on_the_transpose(ratings):
    mask, values, X, y = ratings
    # (The bias baseline alternates item then user updates, so it is not
    # symmetric under transposition; mean centring is.)
    params = dict(similarity="pearson", centering="mean", shrinkage=3.0, n_neighbors=5)
    user = UserKNN(**params).fit(X, y)
    item = ItemKNN(**params).fit(X[:, ::-1], y)
    np.testing.assert_allclose(user.similarity_.toarray(), item.similarity_.toarray(), rtol=1e-6)
    np.testing.assert_allclose(user.predict(X), item.predict(X[:, ::-1]), rtol=1e-6)


def test_similar_items_and_users_follow_the_similarity(ratings):
    mask, values, X, y = ratings
    item = ItemKNN(similarity="pearson").fit(X, y)
    ids, scores = item.similar_items([0, 1], top_n=3, return_scores=True)
    dense = item.similarity_.toarray()
    np.testing.assert_allclose(scores, -np.sort(-dense[[0, 1]], axis=1)[:, :3], rtol=1e-6)
    user = UserKNN(similarity="pearson").fit(X, y)
    ids, scores = user.similar_users([3], top_n=2, return_scores=True)
    assert scores[0, 0] == pytest.approx(user.similarity_[3].max())
    assert not hasattr(user, "similar_items")
    with pytest.raises(ValueError, match="not seen at fit"):
        user.similar_users([999])


# -- bad input ------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({"n_neighbors": 0}, r"'n_neighbors' parameter of ItemKNN must be an int in the range \[1, inf\) "
                         r"or a str among {'auto'}. Got 0"),
    ({"shrinkage": "big"}, r"'shrinkage' parameter of ItemKNN .* or a str among {'auto'}. Got 'big'"),
    ({"min_neighbors": 5, "n_neighbors": 3}, "min_neighbors=5 is larger than n_neighbors=3.*Set min_neighbors <= n_neighbors"),
    ({"similarity": "jaccard"}, "'similarity' parameter .*'pearson_baseline'"),
    ({"shrinkage": -1.0}, r"'shrinkage' parameter of ItemKNN .* range \[0.0, inf\) or .*Got -1.0"),
    ({"weighting": "bm25"}, "weighting='bm25' applies to implicit feedback only"),
    ({"similarity": "dot"}, "similarity='dot' is not available for ratings; choose from "
                            "'cosine', 'pearson'"),
])
def test_bad_parameters_are_named_with_the_fix(ratings, params, match):
    _, _, X, y = ratings
    with pytest.raises(ValueError, match=match):
        ItemKNN(**params).fit(X, y)


def test_rating_similarity_without_ratings_is_a_clear_error(ratings):
    _, _, X, _ = ratings
    with pytest.raises(ValueError, match="similarity='msd' compares ratings.*choose from "
                                         "'cosine', 'dot'"):
        ItemKNN(similarity="msd").fit(X)
    with pytest.raises(ValueError, match="requires y to be passed.*feedback='implicit'"):
        ItemKNN(feedback="explicit").fit(X)


def test_unknown_user_gets_the_fallback(ratings):
    _, _, X, y = ratings
    model = ItemKNN().fit(X, y)
    with pytest.warns(ColdStartWarning, match="1 of 2 rows"):
        pred = model.predict([[999, 0], [0, 0]])
    assert np.isfinite(pred).all()
    mu, _, item_bias = model._fallback
    assert pred[0] == pytest.approx(mu + item_bias[0])


def test_single_rating_items_get_no_pearson_neighbours():
    # Item 2 has a single rating: its centred rating is 0, pearson is undefined.
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1], [2, 2]])
    y = np.array([5.0, 4.0, 1.0, 2.0, 3.0, 3.5, 4.0])
    model = ItemKNN(similarity="pearson", centering="mean").fit(X, y)
    sim = model.similarity_.toarray()
    assert sim[2].sum() == 0 and sim[:, 2].sum() == 0
    assert sim[0, 1] > 0
    # Its prediction is its mean (the baseline of centering="mean").
    assert model.predict([[0, 2]])[0] == pytest.approx(4.0)


def test_constant_ratings_give_baseline_predictions():
    X = np.array([[u, i] for u in range(5) for i in range(4)])
    y = np.full(len(X), 3.0)
    for similarity in EXPLICIT_SIMILARITIES:
        model = ItemKNN(similarity=similarity).fit(X, y)
        pred = model.predict(X)
        np.testing.assert_allclose(pred, 3.0)
    # Zero variance: pearson has no neighbours at all.
    assert ItemKNN(similarity="pearson").fit(X, y).similarity_.nnz == 0


def test_string_ids_and_dataframe(ratings):
    _, _, X, y = ratings
    frame = pd.DataFrame({"user": [f"u{u}" for u in X[:, 0]], "item": [f"i{i}" for i in X[:, 1]]})
    model = UserKNN(feedback="implicit", n_neighbors=5).fit(frame)
    recs = model.recommend(["u0", "u1"], top_n=2)
    assert recs.shape == (2, 2) and str(recs[0, 0]).startswith("i")


# -- ml-100k (skipped without the data) --------------------------------------------
def test_ml100k_item_knn_rmse(ml100k_folds):
    train, test = ml100k_folds[0]
    model = ItemKNN(shrinkage=100, n_stored_neighbors=400).fit(train[["user_id", "item_id"]],
                                                          train["rating"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        pred = model.predict(test[["user_id", "item_id"]])
    rmse = np.sqrt(np.mean((pred - test["rating"]) ** 2))
    # u1 is the hardest fold; LensKit item-item gets about 0.94 on it.
    assert 0.90 < rmse < 0.935


def test_ml100k_item_knn_bm25_ndcg(ml100k_folds):
    from sklearn_recs.metrics import make_ranking_scorer

    train, test = ml100k_folds[0]
    model = ItemKNN(feedback="implicit", weighting="bm25", n_neighbors=100).fit(train[["user_id", "item_id"]])
    scorer = make_ranking_scorer("ndcg", k=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        ndcg = scorer(model, test[["user_id", "item_id"]], None)
    # On u1's split (not a per-user holdout) implicit's BM25 (K=100) gets 0.52.
    assert 0.45 < ndcg < 0.6


# -- computation paths ------------------------------------------------------------
@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("dense_share", [0.25, 1.0])
def test_sparse_recommend_equals_ranking_the_dense_scores(monkeypatch, ratings, model_cls,
                                                          dense_share):
    # dense_share=1: the sparse ranking path even on this dense small data.
    from sklearn_recs.utils import _sparse_topk

    monkeypatch.setattr(_sparse_topk, "_DENSE_SHARE", dense_share)
    mask, values, X, y = ratings
    model = model_cls(feedback="implicit", n_neighbors=5).fit(X, np.round(y))
    users = np.arange(N_USERS)
    for exclude_seen in (True, False):
        seen = model.interactions_ if exclude_seen else None
        # The mixin's dense path: rank _score_users.
        dense = model._recommend_codes(users, N_ITEMS, None, True, model._score_users, seen)
        sparse = model.recommend(users, top_n=N_ITEMS, exclude_seen=exclude_seen,
                                 return_scores=True)
        np.testing.assert_array_equal(sparse[0], dense[0])
        np.testing.assert_array_equal(sparse[1], dense[1])


@pytest.mark.parametrize("similarity, options", [
    ("pearson_baseline", {"shrinkage": 5.0}), ("msd", {"min_support": 3}), ("cosine", {})])
@pytest.mark.parametrize("dense_share", [0.0, 1 / 3, 1.0])
def test_dense_and_sparse_raters_split_matches_the_reference(monkeypatch, ratings, similarity,
                                                             options, dense_share):
    # Large-data path: raters holding over dense_share of the entities go to BLAS.
    from sklearn_recs.utils import _similarity

    monkeypatch.setattr(_similarity, "_DENSE_LIMIT", 0)
    monkeypatch.setattr(_similarity, "_DENSE_SHARE", dense_share)
    mask, values, X, y = ratings
    model = ItemKNN(similarity=similarity, **options).fit(X, y)
    ent_mask, v = _centred(model, mask, values, similarity)
    kernel = "msd" if similarity == "msd" else "co_cosine"
    expected = _reference_similarity(ent_mask, v, kernel, **_settings(model))
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-4, atol=1e-5)
    implicit = ItemKNN(feedback="implicit", n_neighbors=N_ITEMS, weighting=None).fit(X)
    expected = _reference_similarity(ent_mask, ent_mask.astype(float), "cosine",
                                     **_settings(implicit))
    np.testing.assert_allclose(implicit.similarity_.toarray(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
def test_n_jobs_gives_the_same_model(ratings, model_cls):
    mask, values, X, y = ratings
    with sklearn.config_context(working_memory=1e-3):  # several blocks
        one = model_cls(similarity="pearson", n_stored_neighbors=4).fit(X, y)
        two = model_cls(similarity="pearson", n_stored_neighbors=4, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(two.similarity_.toarray(), one.similarity_.toarray())
    np.testing.assert_array_equal(two.predict(X), one.predict(X))


@pytest.mark.parametrize("model_cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("min_neighbors, damping", [(1, 0.0), (3, 0.5)])
def test_explicit_recommend_by_products_equals_the_pair_predictions(ratings, model_cls, min_neighbors,
                                                                   damping):
    mask, values, X, y = ratings
    # n_stored_neighbors <= k: the catalogue is scored by sparse products.
    model = model_cls(n_neighbors=5, n_stored_neighbors=5, min_neighbors=min_neighbors, damping=damping).fit(X, y)
    users, items = np.meshgrid(np.arange(N_USERS), np.arange(N_ITEMS), indexing="ij")
    expected = model.predict(np.column_stack([users.ravel(), items.ravel()]))
    np.testing.assert_allclose(model._score_users(np.arange(N_USERS), None).ravel(), expected,
                               rtol=1e-12)
    np.testing.assert_allclose(model._score_users(np.arange(3), np.array([2, 7])),
                               expected.reshape(N_USERS, N_ITEMS)[:3][:, [2, 7]], rtol=1e-12)


@pytest.mark.parametrize("n_neighbors", [1, 5])
def test_group_search_keeps_each_rows_top_values(n_neighbors):
    # 400 rows: the top neighbours are searched among groups of columns first.
    import scipy.sparse as sp

    from sklearn_recs.utils._similarity import pairwise_similarity

    x = sp.random(400, 60, density=0.1, random_state=0, format="csr")
    full = pairwise_similarity(x, kernel="cosine").toarray()
    pruned = pairwise_similarity(x, kernel="cosine", n_neighbors=n_neighbors).toarray()
    expected = -np.sort(-full, axis=1)[:, :n_neighbors]
    # The pruned path sums the products in another order: float32 rounding (1e-6).
    np.testing.assert_allclose(-np.sort(-pruned, axis=1)[:, :n_neighbors], expected, rtol=1e-6)
    assert ((pruned > 0).sum(axis=1) <= n_neighbors).all()
    np.testing.assert_allclose(pruned[pruned > 0], full[pruned > 0], rtol=1e-6)
