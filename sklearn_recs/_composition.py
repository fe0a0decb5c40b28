"""Parameters of the recommenders built from named members (``estimators``)."""

from sklearn.utils.metaestimators import _BaseComposition


class MemberParams(_BaseComposition):
    """``get_params`` / ``set_params`` over a list of ``(name, estimator)`` members.

    The list is the parameter named by ``_members`` (``estimators`` for
    :class:`~sklearn_recs.hybrid.RankingBlend` and
    :class:`~sklearn_recs.hybrid.SwitchRecommender`,
    ``feature_recommenders`` for
    :class:`~sklearn_recs.hybrid.TwoStageRecommender`), so that a member's
    parameters are grid-searchable as ``<name>__<param>``.
    """

    _members = "estimators"

    def get_params(self, deep=True):
        """Get the parameters, with the members' as ``<name>__<param>``.

        Parameters
        ----------
        deep : bool, default=True
            Whether to include the members and their parameters.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params(self._members, deep=deep)

    def set_params(self, **params):
        """Set the parameters, members included (by name).

        Parameters
        ----------
        **params : keyword arguments
            Parameters, with a member's as ``<name>__<param>``.

        Returns
        -------
        self : object
            This estimator.
        """
        self._set_params(self._members, **params)
        return self
