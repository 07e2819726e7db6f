"""Training from the prior: every drawn network trained on a training set S, and the posterior.

:mod:`counting.training.data` (S, its inputs and labels, "agrees with the target on S"),
:mod:`counting.training.fit` (a batch of networks trained with optax, each stopping on its own),
:mod:`counting.training.source` (the engine's parameter source of trained networks),
:mod:`counting.training.tally` (how many runs fitted S and their steps, beside any tally) and
:mod:`counting.training.posterior` (the P(f | S) columns of a census restricted to S).

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec("[model]\\nn_inputs=3\\nwidths=[4]\\n[target]\\nname='and'\\n[training]\\nm=2")
    >>> spec.training.optimizer, spec.training.m
    ('adam', 2)
"""
