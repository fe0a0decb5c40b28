"""explain(): the terms of each score, against brute-force references."""

import io
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sklearn.base import clone
from sklearn.utils import get_tags

from sklearn_recs.baselines import BiasBaseline, GlobalMean, Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.decomposition import ImplicitALS
from sklearn_recs.hybrid import RankingBlend, SwitchRecommender
from sklearn_recs.linear_model import EASE, SLIM, SparseEASE
from sklearn_recs.neighbors import ItemKNN, RP3Beta, UserKNN
from sklearn_recs.neural import GMF, MatrixFactorization
from sklearn_recs.serving import load_npz, save_npz
from sklearn_recs.utils._testing import tiny_ratings

# u0: a b, u1: a b c, u2: b c. Item columns over the users: a = (1, 1, 0),
# b = (1, 1, 1), c = (0, 1, 1): cos(a, b) = cos(b, c) = 2 / sqrt(6),
# cos(a, c) = 1 / 2.
TOY = [["u0", "a"], ["u0", "b"], ["u1", "a"], ["u1", "b"], ["u1", "c"],
       ["u2", "b"], ["u2", "c"]]


def _sums(frame, users, items):
    """The sum of each pair's exact rows (0 for a pair without any)."""
    exact = frame[frame["exact"]]
    sums = exact.groupby(["user", "item"])["contribution"].sum()
    return np.array([sums.get((u, i), 0.0) for u, i in zip(users, items)])


def _pairs(users, items):
    return pd.DataFrame({"user_id": users, "item_id": items})


def _dense(X, y=None):
    """The users x items matrix of X (tiny_ratings ids), rows and columns sorted."""
    frame = pd.DataFrame({"u": X["user_id"], "i": X["item_id"],
                          "v": 1.0 if y is None else y})
    return frame.pivot_table(index="u", columns="i", values="v", fill_value=0.0)


def test_item_knn_history_items_by_hand():
    model = ItemKNN(feedback="implicit", similarity="cosine", shrinkage=0.0, weighting=None,
                    amplification=1.0, n_neighbors=2).fit(TOY)
    why = model.explain("u0", "c")
    assert why["source"].tolist() == ["b", "a"]  # largest first
    assert (why["kind"] == "item").all() and why["exact"].all()
    np.testing.assert_allclose(why["contribution"], [2 / np.sqrt(6), 0.5], rtol=1e-6)
    np.testing.assert_allclose(why["contribution"].sum(), model.predict([["u0", "c"]]),
                               rtol=1e-6)
    assert model.explain("u0", "c", n_contributions=1)["source"].tolist() == ["b"]


def test_ease_contributions_equal_closed_form():
    X, _ = tiny_ratings()
    model = EASE(alpha=10.0, dtype="float64").fit(X)
    R = _dense(X).to_numpy()
    P = np.linalg.inv(R.T @ R + 10.0 * np.eye(R.shape[1]))
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    users, items = model.users_[[0, 3, 7]], model.items_[[2, 5, 19]]
    why = model.explain(users, items)
    for (u, i), rows in why.groupby(["user", "item"], sort=False):
        uc, ic = model._user_index.get_loc(u), model._item_index.get_loc(i)
        history = np.flatnonzero(R[uc])
        expected = {model.items_[j]: R[uc, j] * B[j, ic] for j in history if j != ic}
        assert dict(zip(rows["source"], rows["contribution"])) == pytest.approx(expected)
    np.testing.assert_allclose(_sums(why, users, items), (R @ B)[[0, 3, 7], [2, 5, 19]],
                               rtol=1e-8)


@pytest.mark.parametrize("estimator", [
    EASE(alpha=10.0), SparseEASE(alpha=10.0, n_neighbors=5), SLIM(alpha=0.01),
    RP3Beta(n_neighbors=5), ItemKNN(feedback="implicit"), UserKNN(feedback="implicit"),
    Popularity(), BiasBaseline()])
def test_contributions_sum_to_recommend_scores(estimator):
    X, y = tiny_ratings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimator.fit(X, y if isinstance(estimator, BiasBaseline) else None)
    user = model.users_[4]
    items, scores = model.recommend([user], top_n=model.n_items_, exclude_seen=False,
                                    return_scores=True)
    why = model.explain(user, items[0])
    np.testing.assert_allclose(_sums(why, [user] * len(scores[0]), items[0]), scores[0],
                               rtol=1e-5, atol=1e-6)
    if not isinstance(estimator, (Popularity, BiasBaseline)):
        # item-item models: each source is an item of the user's history
        kinds = set(why["kind"])
        history = set(X.loc[X["user_id"] == user, "item_id"])
        assert kinds <= {"item", "user"}
        if kinds == {"item"}:
            assert set(why["source"]) <= history


def test_user_knn_implicit_neighbours_by_brute_force():
    X, y = tiny_ratings()
    y = y * 1.37  # weights (not on the ratings' grid), so that similarities rarely tie
    n_neighbors = 4
    model = UserKNN(feedback="implicit", shrinkage=0.0, amplification=1.0, weighting=None,
                    n_neighbors=n_neighbors).fit(X, y)
    R = _dense(X, y).to_numpy()
    unit = R / np.linalg.norm(R, axis=1, keepdims=True)
    S = unit @ unit.T
    np.fill_diagonal(S, 0.0)
    S[S < 0] = 0.0
    for u in range(0, 30, 7):
        top = np.argsort(-S[u], kind="stable")[:n_neighbors]
        for i in (0, 9, 13):
            why = model.explain(model.users_[u], model.items_[i])
            expected = {model.users_[v]: S[u, v] * R[v, i] for v in top if R[v, i] > 0}
            assert dict(zip(why["source"], why["contribution"])) == pytest.approx(
                expected, rel=1e-5)
            assert (why["kind"] == "user").all()


def test_user_knn_ratings_neighbours_by_brute_force():
    X, y = tiny_ratings()
    model = UserKNN(similarity="pearson", centering="mean", n_neighbors=3,
                    shrinkage=0.0, damping=0.5).fit(X, y)
    R = _dense(X, y).to_numpy()
    rated = R > 0
    means = R.sum(1) / rated.sum(1)
    S = model.similarity_.toarray().astype(np.float64)  # the similarity is tested elsewhere
    users, items, expected_scores = [], [], []
    for u in range(0, 30, 3):
        for i in (1, 8, 15):
            raters = np.flatnonzero(rated[:, i] & (S[u] > 0))
            top = raters[np.argsort(-S[u, raters], kind="stable")][:3]
            weights = S[u, top]
            shares = weights * (R[top, i] - means[top]) / (weights.sum() + 0.5)
            why = model.explain(model.users_[u], model.items_[i])
            assert why["source"].iloc[0] == "user mean"
            assert why["contribution"].iloc[0] == pytest.approx(means[u])
            neighbours = why[why["kind"] == "user"]
            assert dict(zip(neighbours["source"], neighbours["contribution"])) == (
                pytest.approx(dict(zip(model.users_[top], shares)), rel=1e-5))
            users.append(model.users_[u])
            items.append(model.items_[i])
            expected_scores.append(np.clip(means[u] + shares.sum(), 1, 5))
    why = model.explain(users, items)
    assert (why["kind"] == "user").sum() > 2 * len(users)  # neighbours found
    np.testing.assert_allclose(_sums(why, users, items), expected_scores, rtol=1e-5)
    np.testing.assert_allclose(_sums(why, users, items), model.predict(_pairs(users, items)), rtol=1e-10)


def test_item_knn_ratings_baseline_terms_and_clipping():
    X, y = tiny_ratings()
    # One neighbour and no damping: some predictions leave the 1-5 range.
    model = ItemKNN(n_neighbors=1, damping=0.0, shrinkage=0.0).fit(X, y)
    baseline = BiasBaseline(alpha_user=5.0, alpha_item=2.0, max_iter=10).fit(X, y)
    users = np.repeat(model.users_, model.n_items_)
    items = np.tile(model.items_, model.n_users_)
    why = model.explain(users, items)
    np.testing.assert_allclose(_sums(why, users, items), model.predict(_pairs(users, items)),
                               rtol=1e-10)
    bias = why[why["kind"] == "bias"]
    reference = baseline.explain(users, items)
    for name in ("global mean", "user bias", "item bias"):
        np.testing.assert_allclose(bias.loc[bias["source"] == name, "contribution"],
                                   reference.loc[reference["source"] == name,
                                                 "contribution"], rtol=1e-10)
    clip = why[why["kind"] == "clip"]
    assert len(clip) > 0 and (clip["source"] == "rating range").all()
    assert ((why["kind"] == "item").groupby([why["user"], why["item"]]).sum() <= 1).all()


def test_bias_baseline_and_popularity_by_hand():
    X = [[1, "a"], [1, "b"], [2, "a"]]
    model = BiasBaseline(alpha_user=0.0, alpha_item=0.0, max_iter=50).fit(X, [4.0, 2.0, 5.0])
    why = model.explain([1, 2], ["b", "a"])
    assert why["source"].tolist() == ["global mean", "user bias", "item bias"] * 2
    np.testing.assert_allclose(_sums(why, [1, 2], ["b", "a"]), [2.0, 5.0], atol=1e-6)
    assert why["contribution"].iloc[0] == pytest.approx(11 / 3)
    popular = Popularity().fit(X).explain(2, ["a", "b"])
    assert popular["contribution"].tolist() == [2.0, 1.0]  # interactions per item
    assert popular["source"].tolist() == ["popularity", "popularity"]


def test_factor_models_exact_terms_and_nearest_history_items():
    X, y = tiny_ratings()
    als = ImplicitALS(n_factors=4, max_iter=3, random_state=0).fit(X)
    user, item = als.users_[2], als.items_[6]
    why = als.explain(user, item)
    exact = why[why["exact"]]
    assert exact["kind"].tolist() == ["factors"]
    np.testing.assert_allclose(exact["contribution"], als.predict([[user, item]]),
                               rtol=1e-6)
    approx = why[~why["exact"]]
    assert (approx["kind"] == "similar_item").all()
    history = set(X.loc[X["user_id"] == user, "item_id"]) - {item}
    assert set(approx["source"]) == history
    unit = als.item_factors_ / np.linalg.norm(als.item_factors_, axis=1, keepdims=True)
    cosine = unit[approx["source"].to_numpy(dtype=int)] @ unit[6]
    np.testing.assert_allclose(approx["contribution"], cosine, rtol=1e-5, atol=1e-6)
    assert (np.diff(approx["contribution"].abs()) <= 1e-12).all()

    mf = MatrixFactorization(n_factors=4, max_epochs=2, random_state=0).fit(X, y)
    why = mf.explain(user, [0, 1, 2])
    terms = why[why["exact"]]
    first = terms[terms["item"] == 0]
    assert first["source"].tolist()[:4] == ["global mean", "user bias", "item bias",
                                             "factors"]
    assert first["contribution"].iloc[0] == pytest.approx(mf.global_mean_)
    u = mf._user_index.get_loc(user)
    assert first["contribution"].iloc[1] == pytest.approx(mf.user_bias_[u])
    np.testing.assert_allclose(_sums(why, [user] * 3, [0, 1, 2]),
                               mf.predict([[user, 0], [user, 1], [user, 2]]),
                               rtol=1e-6)


def test_n_contributions_keeps_the_largest_and_the_fixed_terms():
    X, y = tiny_ratings()
    model = ItemKNN(n_neighbors=10).fit(X, y)
    users, items = model.users_[:5], model.items_[5:10]
    full = model.explain(users, items)
    cut = model.explain(users, items, n_contributions=2)
    for (u, i), rows in full.groupby(["user", "item"], sort=False):
        kept = cut[(cut["user"] == u) & (cut["item"] == i)]
        sources = rows[rows["kind"] == "item"]
        expected = sources.iloc[np.argsort(-sources["contribution"].abs().to_numpy(),
                                           kind="stable")[:2]]
        assert kept.loc[kept["kind"] == "item", "source"].tolist() == (
            expected["source"].tolist())
        assert kept.loc[kept["kind"] != "item", "source"].tolist() == (
            rows.loc[rows["kind"] != "item", "source"].tolist())


def test_broadcast_and_bad_input():
    model = ItemKNN(feedback="implicit").fit(TOY)
    one = model.explain("u1", ["a", "c"])
    pairs = model.explain(["u1", "u1"], ["a", "c"])
    pd.testing.assert_frame_equal(one, pairs)
    assert list(one.columns) == ["user", "item", "source", "kind", "contribution", "exact"]
    with pytest.raises(ValueError, match="2 users and 3 items"):
        model.explain(["u0", "u1"], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"user id\(s\) were not seen at fit.*nobody"):
        model.explain("nobody", "a")
    with pytest.raises(ValueError, match=r"item id\(s\) were not seen at fit.*'z'"):
        model.explain("u0", "z")
    with pytest.raises(ValueError, match="n_contributions=0"):
        model.explain("u0", "a", n_contributions=0)


def test_unsupported_estimators_have_no_explain():
    assert not hasattr(GMF(), "explain")
    # a switch explains by its routed member, so every member must explain
    switch = SwitchRecommender(estimators=[("cold", Popularity()), ("warm", GMF())])
    assert not hasattr(switch, "explain")
    assert not hasattr(switch.fit(tiny_ratings()[0]), "explain")
    assert hasattr(EASE(), "explain") and hasattr(MatrixFactorization(), "explain")
    # a blend's score is the sum of its members' parts, whatever the members
    blend = RankingBlend(estimators=[("gmf", GMF()), ("pop", Popularity())])
    assert hasattr(blend, "explain")


def test_sparse_right_operand_and_empty_history():
    # A user whose history shares nothing with the item: no rows, score 0.
    model = RP3Beta(n_neighbors=1).fit(TOY + [["u3", "d"]])
    why = model.explain("u3", "a")
    assert why.empty and list(why.columns)[-1] == "exact"
    assert model.predict([["u3", "a"]])[0] == 0.0
    assert sp.issparse(model.similarity_)


def _item_features(items):
    """Genres and a year for the items of tiny_ratings."""
    genres = ["Action", "Drama", "Comedy", "Romance", "Sci-Fi"]
    return pd.DataFrame({"genres": [[genres[i % 5], genres[(i * 3 + 1) % 5]] for i in items],
                         "year": [1980 + 2 * i for i in items]}, index=items)


def _user_features(users):
    return pd.DataFrame({"age": [20 + (i * 7) % 40 for i in range(len(users))],
                         "occupation": [["a", "b", "c"][i % 3] for i in range(len(users))]},
                        index=users)


@pytest.mark.parametrize("make, kind", [
    (lambda: ContentRecommender(profile="centroid"), "ratings"),
    (lambda: ContentRecommender(profile="centroid", similarity="dot", centering="mean"),
     "ratings"),
    (lambda: ContentRecommender(profile="centroid", feedback="implicit"), "implicit"),
    (lambda: ContentRecommender(), "ratings"),
    (lambda: ItemKNN(centering="mean", similarity="pearson"), "ratings"),
    (lambda: ItemKNN(n_neighbors=10, n_stored_neighbors=5, min_neighbors=2), "ratings"),
    (lambda: UserKNN(n_neighbors=3), "ratings"),
    (lambda: ItemKNN(feedback="implicit", weighting="tfidf"), "weights"),
    (lambda: Popularity(n_neighbors=5), "users"),
    (lambda: MatrixFactorization(n_factors=3, max_epochs=2, clip=False, random_state=0),
     "ratings"),
])
def test_exact_terms_sum_to_predict_in_other_settings(make, kind):
    X, y = tiny_ratings()
    fit_kw = {}
    if isinstance(make(), ContentRecommender):
        fit_kw["item_features"] = _item_features(np.sort(X["item_id"].unique()))
    if kind == "users":
        fit_kw["user_features"] = _user_features(np.sort(X["user_id"].unique()))
    target = {"ratings": y, "weights": y * 1.37}.get(kind)
    model = make().fit(X, target, **fit_kw)
    users = np.repeat(model.users_, 4)
    items = np.resize(model.items_, len(users))
    why = model.explain(users, items)
    np.testing.assert_allclose(_sums(why, users, items), model.predict(_pairs(users, items)),
                               rtol=1e-6, atol=1e-8)
    assert why["kind"].isin(["item", "user", "feature", "bias", "factors", "clip",
                             "similar_item"]).all()


def _content_fit(X):
    return {"item_features": _item_features(np.sort(X["item_id"].unique()))}


@pytest.mark.parametrize("estimator, fit_kw", [
    (EASE(alpha=10.0), None), (SLIM(alpha=0.01), None), (RP3Beta(n_neighbors=5), None),
    (UserKNN(feedback="implicit"), None),
    (ImplicitALS(n_factors=4, max_iter=3, random_state=0), None),
    (MatrixFactorization(n_factors=3, max_epochs=2, random_state=0), None),
    # the families served without explain before: content (with the
    # features' names in the file) and the baselines
    (ContentRecommender(), _content_fit),
    (ContentRecommender(profile="centroid", feedback="implicit"), _content_fit),
    (BiasBaseline(), None), (GlobalMean(), None), (Popularity(), None),
    (Popularity(n_neighbors=5),
     lambda X: {"user_features": _user_features(np.sort(X["user_id"].unique()))}),
], ids=lambda p: type(p).__name__ if hasattr(p, "fit") else "")
def test_served_model_explains_as_the_estimator(estimator, fit_kw):
    X, y = tiny_ratings()
    implicit = get_tags(estimator).target_tags.required is False and not isinstance(
        estimator, (BiasBaseline, GlobalMean))
    model = clone(estimator).fit(X, None if implicit else y,
                                 **({} if fit_kw is None else fit_kw(X)))
    buffer = io.BytesIO()
    save_npz(model, buffer)
    served = load_npz(io.BytesIO(buffer.getvalue()))
    users, items = np.repeat(model.users_[:6], 2), np.resize(model.items_[::2], 12)
    live, out = model.explain(users, items), served.explain(users, items)
    np.testing.assert_allclose(_sums(out, users, items), served.predict(_pairs(users, items)),
                               rtol=1e-6, atol=1e-8)
    if isinstance(estimator, MatrixFactorization):  # mu + b_u exported summed
        np.testing.assert_allclose(_sums(out, users, items), _sums(live, users, items),
                                   rtol=1e-10)
        assert "user offset" in set(out["source"])
        live, out = (frame[frame["kind"] != "bias"].reset_index(drop=True)
                     for frame in (live, out))
    pd.testing.assert_frame_equal(out, live)


def test_served_content_model_from_an_older_file_names_features_by_position():
    X, y = tiny_ratings()
    model = ContentRecommender().fit(X, y, **_content_fit(X))
    buffer = io.BytesIO()
    save_npz(model, buffer)
    flat = dict(np.load(io.BytesIO(buffer.getvalue())))
    del flat["feature_names"]
    older = io.BytesIO()
    np.savez(older, **flat)
    served = load_npz(io.BytesIO(older.getvalue()))
    user, item = model.users_[0], model.items_[1]
    live, out = model.explain(user, item), served.explain(user, item)
    features = live["kind"] == "feature"
    names = list(model._feature_names())
    np.testing.assert_array_equal(out["source"][features],
                                  [f"x{names.index(n)}" for n in live["source"][features]])
    np.testing.assert_allclose(out["contribution"], live["contribution"])


# -- composites: RankingBlend and SwitchRecommender ---------------------------------
def _blend_data():
    X, _ = tiny_ratings()
    return X


@pytest.mark.parametrize("normalization", ["zscore", "minmax"])
def test_blend_member_parts_and_scaled_terms_by_hand(normalization):
    X = _blend_data()
    blend = RankingBlend(estimators=[("ease", EASE(alpha=10.0, dtype="float64")),
                                     ("pop", Popularity())],
                         weights=[3.0, 1.0], normalization=normalization).fit(X)
    ease, pop = blend.named_estimators_["ease"], blend.named_estimators_["pop"]
    user, items = blend.users_[2], blend.items_[[0, 3, 7]]
    why = blend.explain(user, items)
    np.testing.assert_allclose(_sums(why, [user] * 3, items),
                               blend.predict(_pairs([user] * 3, items)), rtol=1e-9)
    for name, member, weight in (("ease", ease, 0.75), ("pop", pop, 0.25)):
        # the member's scores of the whole catalogue, normalised by hand
        scores = member.predict(_pairs([user] * member.n_items_, member.items_))
        centre, spread = ((scores.mean(), scores.std()) if normalization == "zscore"
                          else (scores.min(), scores.max() - scores.min()))
        part = why[(why["kind"] == "member") & (why["source"] == name)]
        assert not part["exact"].any()  # split into the member's own terms below
        expected = weight * (scores[member._item_index.get_indexer(items)] - centre) / spread
        np.testing.assert_allclose(part["contribution"], expected, rtol=1e-9)
        shift = why[why["source"] == f"{name}: normalisation"]
        np.testing.assert_allclose(shift["contribution"], -weight * centre / spread,
                                   rtol=1e-9)
        if name == "ease":  # EASE's history items, scaled by weight / spread
            for item in items:
                own = ease.explain(user, item)
                mine = why[(why["item"] == item) & (why["kind"] == "item")]
                np.testing.assert_allclose(
                    mine.set_index("source")["contribution"].sort_index(),
                    own.set_index("source")["contribution"].sort_index() * weight / spread,
                    rtol=1e-9)


def test_blend_merges_a_history_item_both_members_give():
    X = _blend_data()
    members = [("ease", EASE(alpha=10.0, dtype="float64")),
               ("knn", ItemKNN(feedback="implicit", weighting=None))]
    blend = RankingBlend(estimators=members).fit(X)
    user, item = blend.users_[0], blend.items_[5]
    why = blend.explain(user, item)
    rows = why[why["kind"] == "item"]
    assert rows["source"].is_unique
    parts = []
    for name, member in blend.named_estimators_.items():
        scores = member.predict(_pairs([user] * member.n_items_, member.items_))
        own = member.explain(user, item).set_index("source")["contribution"]
        parts.append(own * 0.5 / scores.std())
    expected = parts[0].add(parts[1], fill_value=0.0)
    expected = expected[expected != 0]
    np.testing.assert_allclose(rows.set_index("source")["contribution"].sort_index(),
                               expected.sort_index(), rtol=1e-9)


def test_blend_rrf_terms_are_the_reciprocal_ranks():
    X = _blend_data()
    blend = RankingBlend(estimators=[("ease", EASE(alpha=10.0)), ("pop", Popularity())],
                         weights=[1.0, 3.0], normalization="rrf", rank_constant=5).fit(X)
    user = blend.users_[1]
    lists = {name: member.recommend([user], top_n=member.n_items_)[0]
             for name, member in blend.named_estimators_.items()}
    items = lists["ease"][[0, 2, 5]]  # unseen items (of 8): ranked by the lists
    why = blend.explain(user, items)
    assert (why["kind"] == "member").all() and why["exact"].all()
    for name, weight in (("ease", 0.25), ("pop", 0.75)):
        rank = np.array([list(lists[name]).index(item) + 1 for item in items])
        np.testing.assert_allclose(why.loc[why["source"] == name, "contribution"],
                                   weight / (5 + rank), rtol=1e-12)
    np.testing.assert_allclose(_sums(why, [user] * 3, items),
                               blend.predict(_pairs([user] * 3, items)), rtol=1e-12)


@pytest.mark.parametrize("normalization", ["zscore", "rrf"])
def test_blend_pairs_of_many_users_in_blocks(monkeypatch, normalization):
    # Pairs of several users in mixed order, their members' scores taken two
    # users at a time: the same terms as in one block, summing to predict.
    from sklearn_recs import hybrid

    X = _blend_data()
    blend = RankingBlend(estimators=[("ease", EASE(alpha=10.0, dtype="float64")),
                                     ("pop", Popularity())],
                         normalization=normalization).fit(X)
    pairs = np.random.default_rng(0).choice(blend.n_users_ * blend.n_items_, 30, replace=False)
    users, items = blend.users_[pairs // blend.n_items_], blend.items_[pairs % blend.n_items_]
    whole = blend.explain(users, items)
    monkeypatch.setattr(hybrid, "block_size", lambda n_items: 2)
    blocks = blend.explain(users, items)
    pd.testing.assert_frame_equal(blocks, whole)
    np.testing.assert_allclose(_sums(blocks, users, items),
                               blend.predict(_pairs(users, items)), rtol=1e-9)


def test_blend_member_whose_terms_do_not_sum_to_its_ranked_score():
    # ContentRecommender ranks without the user's mean rating that predict
    # (and its explanation) adds: its part is one exact row, no feature rows
    X, y = tiny_ratings()
    blend = RankingBlend(estimators=[("content", ContentRecommender()),
                                     ("bias", BiasBaseline())]).fit(
        X, y, **_content_fit(X))
    user, items = blend.users_[0], blend.items_[:4]
    why = blend.explain(user, items)
    content = why[why["source"] == "content"]
    assert len(content) == 4 and content["exact"].all()
    assert not (why["kind"] == "feature").any()
    assert not why.loc[why["source"] == "bias", "exact"].any()  # BiasBaseline's terms sum
    np.testing.assert_allclose(_sums(why, [user] * 4, items),
                               blend.predict(_pairs([user] * 4, items)), rtol=1e-9)


def test_switch_gives_the_route_and_the_routed_members_terms():
    X = _blend_data()
    switch = SwitchRecommender(estimators=[("cold", Popularity()),
                                           ("warm", EASE(alpha=10.0, dtype="float64"))],
                               thresholds=[10]).fit(X)
    assert set(switch.user_estimator_) == {0, 1}
    users = np.repeat(switch.users_, 2)
    items = np.resize(switch.items_[::3], len(users))
    why = switch.explain(users, items)
    np.testing.assert_allclose(_sums(why, users, items), switch.predict(_pairs(users, items)),
                               rtol=1e-9)
    routes = why[why["kind"] == "member"].set_index("user")["source"]
    names = np.array(["cold", "warm"])[switch.user_estimator_]
    for user, name in zip(switch.users_, names):
        assert set(routes.loc[[user]]) == {name}
    for user, item in zip(users[:6], items[:6]):
        name = names[switch._user_index.get_loc(user)]
        own = switch.named_estimators_[name].explain(user, item)
        mine = why[(why["user"] == user) & (why["item"] == item) & (why["kind"] != "member")]
        expected = own["source"].where(own["kind"].isin(["item", "user"]),
                                       name + ": " + own["source"].astype(str))
        assert mine["source"].tolist() == expected.tolist()
        np.testing.assert_allclose(mine["contribution"], own["contribution"], rtol=1e-12)
