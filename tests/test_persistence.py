"""Persistence: every estimator round-trips through pickle and joblib unchanged.

A fitted model, pickled and loaded back (in this process, through a file
with joblib, or in a fresh interpreter), must predict, recommend and find
similar items exactly as before: same ids, same scores to the last bit.
A new estimator is covered by adding it to ``ESTIMATORS``
(``tests/_estimators.py``).
"""

import os
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from _estimators import ESTIMATORS, is_neural

from sklearn_recs.baselines import Popularity
from sklearn_recs.content import ContentRecommender
from sklearn_recs.exceptions import ColdStartWarning
from sklearn_recs.neighbors import ItemKNN, UserKNN
from sklearn_recs.serving import ExportedRecommender, load_npz, save_npz
from sklearn_recs.utils._testing import tiny_ratings

IDS = {e: f"{i}-{type(e).__name__}" for i, e in enumerate(ESTIMATORS)}


def _explicit(estimator):
    return estimator.__sklearn_tags__().target_tags.required


def make_data(estimator, id_kind):
    """tiny_ratings with string ("u00", "i07") or int user and item ids."""
    X, y = tiny_ratings()
    if id_kind == "str":
        X = X.assign(item_id="i" + X["item_id"].astype(str).str.zfill(2))
    else:
        X = X.assign(user_id=X["user_id"].str[1:].astype(int))
    return X, (y if _explicit(estimator) else None)


def fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # DataWarning of content models
        return clone(estimator).fit(X, y)


def _unknown(ids):
    return "nobody" if ids.dtype == object else 10**6


def outputs(model, X):
    """Everything a served model answers: predictions, lists, scores, similar items.

    Unknown users and items included (the fallbacks).
    """
    user, item = _unknown(model.users_), _unknown(model.items_)
    cold = pd.DataFrame({"user_id": [user, user, model.users_[0]],
                         "item_id": [model.items_[0], item, item]})
    users = np.concatenate([model.users_[::2], model.users_[:1], [user]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        ids, scores = model.recommend(users, top_n=7, return_scores=True)
        cold_predictions = model.predict(cold)
        sub_ids, sub_scores = model.recommend(users, top_n=4, items=model.items_[::3],
                                              exclude_seen=False, return_scores=True)
    result = {"predict": model.predict(X), "cold_predict": cold_predictions,
              "ids": ids, "scores": scores,
              "candidate_ids": sub_ids, "candidate_scores": sub_scores}
    if hasattr(model, "similar_items"):
        result["similar"], result["similar_scores"] = model.similar_items(
            model.items_[:5], top_n=3, return_scores=True)
    return result


def assert_same_outputs(expected, actual, name):
    assert expected.keys() == actual.keys(), name
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=f"{name}: {key}")


def assert_same_params(original, restored):
    """get_params agree (estimator values compared by their own params)."""
    left, right = original.get_params(), restored.get_params()
    assert left.keys() == right.keys()
    for key, value in left.items():
        if hasattr(value, "get_params"):
            assert type(value) is type(right[key]), key
            assert value.get_params() == right[key].get_params(), key
        elif key != "estimators":  # (members compared through their own keys)
            assert value == right[key], key


@pytest.fixture(scope="module")
def fitted():
    """Fitted models by (estimator index, id kind), fitted once for the module."""
    cache = {}

    def get(estimator, id_kind):
        key = (ESTIMATORS.index(estimator), id_kind)
        if key not in cache:
            X, y = make_data(estimator, id_kind)
            cache[key] = X, fit(estimator, X, y)
        return cache[key]

    return get


def _pickle(model, tmp_path):
    return pickle.loads(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def _joblib(model, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    return joblib.load(path)


def _joblib_compressed(model, tmp_path):
    path = tmp_path / "model.joblib.gz"
    joblib.dump(model, path, compress=3)
    return joblib.load(path)


FORMATS = {"pickle": _pickle, "joblib": _joblib, "joblib-compressed": _joblib_compressed}


@pytest.mark.parametrize("id_kind", ["str", "int"])
@pytest.mark.parametrize("round_trip", list(FORMATS.values()), ids=list(FORMATS))
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS.get)
def test_round_trip_gives_identical_outputs(estimator, round_trip, id_kind, fitted, tmp_path):
    X, model = fitted(estimator, id_kind)
    expected = outputs(model, X)
    restored = round_trip(model, tmp_path)
    assert type(restored) is type(model)
    np.testing.assert_array_equal(restored.users_, model.users_)
    np.testing.assert_array_equal(restored.items_, model.items_)
    assert_same_params(model, restored)
    assert_same_outputs(expected, outputs(restored, X), IDS[estimator])
    # The original is untouched by pickling it.
    assert_same_outputs(expected, outputs(model, X), IDS[estimator])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS.get)
def test_unfitted_round_trip_then_fit(estimator, tmp_path):
    """An unfitted estimator survives joblib and fits to the same model."""
    X, y = make_data(estimator, "str")
    restored = _joblib(clone(estimator), tmp_path)
    assert_same_params(estimator, restored)
    assert_same_outputs(outputs(fit(estimator, X, y), X), outputs(fit(restored, X, y), X),
                        IDS[estimator])


_SUBPROCESS = """
import pickle, sys, warnings
import numpy as np
sys.path.insert(0, {tests!r})
from test_persistence import outputs
warnings.simplefilter("ignore", UserWarning)
with open({models!r}, "rb") as f:
    fitted = pickle.load(f)
for i, (model, X) in enumerate(fitted):
    np.savez({out!r} + str(i), **outputs(model, X))
"""


def test_neural_pickles_load_in_a_fresh_interpreter(tmp_path):
    """No state lives in globals: a new process serves the pickled models identically.

    The neural models (fitted with ``device="cpu"``) are pickled together and
    loaded by one fresh interpreter, which writes their outputs back.
    """
    fitted = []
    for estimator in filter(is_neural, ESTIMATORS):
        X, y = make_data(estimator, "str")
        fitted.append((fit(clone(estimator).set_params(device="cpu"), X, y), X))
    with open(tmp_path / "models.pkl", "wb") as f:
        pickle.dump(fitted, f)
    script = _SUBPROCESS.format(tests=os.path.dirname(__file__),
                                models=str(tmp_path / "models.pkl"), out=str(tmp_path / "out"))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120,
                   env={**os.environ, "PYTHONHASHSEED": "123"})
    for i, (model, X) in enumerate(fitted):
        with np.load(tmp_path / f"out{i}.npz", allow_pickle=True) as data:  # (ids: objects)
            assert_same_outputs(outputs(model, X), dict(data), type(model).__name__)


# -- the safe .npz export ---------------------------------------------------------

# Models whose scores are no formula of stored arrays (a network, a blend of
# models, per-pair neighbour selection): save_npz must refuse them clearly.
NOT_EXPORTABLE = {"GMF", "MLP", "NeuMF", "RankingBlend", "TwoStageRecommender",
                  "SwitchRecommender", "ItemKNN-explicit", "UserKNN-explicit"}


def _export_name(model):
    name = type(model).__name__
    if isinstance(model, (ItemKNN, UserKNN)):
        name += "-" + model.feedback_
    return name


def _export_round_trip(model, tmp_path, **kwargs):
    path = tmp_path / "model.npz"
    save_npz(model, path, **kwargs)
    with np.load(path, allow_pickle=False) as data:  # nothing in it needs pickle
        assert all(data[key].dtype != object for key in data.files)
    return load_npz(path)


def _with_side_information(id_kind):
    """Popularity with demographics and content with item features, fitted."""
    X, y = make_data(ContentRecommender(), id_kind)
    users = np.unique(X["user_id"])
    items = np.unique(X["item_id"])
    demographics = pd.DataFrame({"group": [f"g{i % 3}" for i in range(len(users))]},
                                index=users)
    genres = pd.DataFrame({"genres": [[f"genre{i % 4}", f"genre{i % 3}"]
                                      for i in range(len(items))]}, index=items)
    return X, [
        Popularity(n_neighbors=5).fit(X, user_features=demographics),
        ContentRecommender().fit(X, y, item_features=genres),
        ContentRecommender(profile="ridge", feedback="implicit").fit(X, item_features=genres),
    ]


@pytest.mark.parametrize("id_kind", ["str", "int"])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS.get)
def test_npz_export_serves_identical_outputs(estimator, id_kind, fitted, tmp_path):
    X, model = fitted(estimator, id_kind)
    if _export_name(model) in NOT_EXPORTABLE:
        with pytest.raises(TypeError, match="does not support the .npz export.*joblib"):
            save_npz(model, tmp_path / "model.npz")
        return
    served = _export_round_trip(model, tmp_path)
    assert isinstance(served, ExportedRecommender)
    assert served.estimator_name_ == type(model).__name__
    np.testing.assert_array_equal(served.users_, model.users_)
    assert served.users_.dtype == model.users_.dtype
    assert hasattr(served, "similar_items") == hasattr(model, "similar_items")
    assert_same_outputs(outputs(model, X), outputs(served, X), IDS[estimator])


@pytest.mark.parametrize("id_kind", ["str", "int"])
def test_npz_export_of_models_with_side_information(id_kind, tmp_path):
    X, models = _with_side_information(id_kind)
    for model in models:
        served = _export_round_trip(model, tmp_path, compressed=False)
        assert_same_outputs(outputs(model, X), outputs(served, X), repr(model))


def test_npz_export_stores_string_ids_as_unicode(fitted, tmp_path):
    X, model = fitted(ESTIMATORS[-1], "str")
    save_npz(model, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz") as data:
        assert data["users"].dtype.kind == data["items"].dtype.kind == "U"
        np.testing.assert_array_equal(data["users"], model.users_.astype(str))
        assert str(data["estimator"]) == type(model).__name__
        assert int(data["format_version"]) == 1  # no version-2 member: the oldest version


def test_npz_export_with_version_2_members_says_version_2(tmp_path):
    X = pd.DataFrame({"user": [0, 0, 1, 2], "item": [0, 1, 1, 2]})
    features = pd.DataFrame({"drama": [1.0, 0.0, 1.0], "comedy": [0.0, 1.0, 1.0]},
                            index=[0, 1, 2])
    model = ContentRecommender(feedback="implicit").fit(X, item_features=features)
    save_npz(model, tmp_path / "content.npz")
    with np.load(tmp_path / "content.npz") as data:
        assert int(data["format_version"]) == 2
        np.testing.assert_array_equal(data["feature_names"], ["drama__drama", "comedy__comedy"])
    served = load_npz(tmp_path / "content.npz")
    np.testing.assert_allclose(served.recommend([0], top_n=3, return_scores=True)[1],
                               model.recommend([0], top_n=3, return_scores=True)[1],
                               rtol=1e-6)


def test_load_npz_checks_the_format(fitted, tmp_path):
    X, model = fitted(ESTIMATORS[-1], "str")
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with pytest.raises(ValueError, match="not a recommender exported by"):
        load_npz(tmp_path / "other.npz")
    save_npz(model, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz") as data:
        arrays = dict(data)
    np.savez(tmp_path / "newer.npz", **{**arrays, "format_version": np.array(99)})
    with pytest.raises(ValueError, match="format version 99.*reads versions up to 2"):
        load_npz(tmp_path / "newer.npz")
    np.savez(tmp_path / "kind.npz", **{**arrays, "kind": np.array("graph")})
    with pytest.raises(ValueError, match="'graph' is unknown"):
        load_npz(tmp_path / "kind.npz")


def test_exported_model_is_read_only(fitted, tmp_path):
    X, model = fitted(ESTIMATORS[-1], "str")
    served = _export_round_trip(model, tmp_path)
    with pytest.raises(TypeError, match="cannot be refitted"):
        served.fit(X)
    assert repr(served) == f"ExportedRecommender(estimator='{type(model).__name__}')"


def test_save_npz_needs_a_fitted_model(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save_npz(ItemKNN(), tmp_path / "model.npz")


def _cuda_available():
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS if is_neural(e)],
                         ids=lambda e: type(e).__name__)
def test_cuda_trained_model_loads_on_a_cpu_only_machine(estimator, monkeypatch):
    """A model trained on CUDA unpickles where CUDA is unavailable, with the same outputs."""
    import torch

    X, y = make_data(estimator, "str")
    model = fit(clone(estimator).set_params(device="cuda"), X, y)
    expected = outputs(model, X)
    payload = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch's DeviceWarning: loaded on the CPU
        restored = pickle.loads(payload)
    assert_same_outputs(expected, outputs(restored, X), type(estimator).__name__)
    tensors = [t for t in restored.net_.module_.state_dict().values()]
    assert all(t.device.type == "cpu" for t in tensors)
