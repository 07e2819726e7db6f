"""Analytic volumes: the infinite-width (NNGP) kernel (:mod:`~counting.analytic.kernel`) and Gaussian
orthant probabilities (:mod:`~counting.analytic.orthant`); the ``nngp`` estimator combines them.

Example:
    >>> from counting.analytic import kernel, orthant
    >>> callable(kernel.nngp_kernel) and callable(orthant.orthant_probability)
    True
"""
