"""What every experiment shares: config files, work folders, result files, share and volume columns.

* :mod:`~counting.experiments.base.config`: TOML text to a dict, ``[[table]]`` lists, distinct names,
  the ``[experiment] kind`` that picks the experiment (one-line :class:`SpecError` on bad input);
* :mod:`~counting.experiments.base.shares`: a share ``k / n`` with its interval and its cost in bits,
  and a volume's columns (the point, log10 and its 95% interval);
* :mod:`~counting.experiments.base.work`: one checkpoint subfolder per counting pass under ``work``;
* :mod:`~counting.experiments.base.writer`: tables, raw counts, figures and the manifest, atomically;
* :mod:`~counting.experiments.base.redraw`: figures drawn from a results folder's stored tables, each
  stamped with digests of its code and of its tables;
* :mod:`~counting.experiments.base.run`: the :class:`~counting.experiments.base.run.Kind` protocol an
  experiment implements, and the loop that runs its passes and writes its results.

Example:
    >>> from counting.experiments.base import config, shares
    >>> config.experiment_kind(config.read_toml("[experiment]\\nn_inputs = 3"), ("llamaizer",))
    'llamaizer'
    >>> float(shares.share_columns([3], 4, exact=True)["cost_bits"][0])
    0.4150374992788438
"""
