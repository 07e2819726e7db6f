"""How often is every function a linear readout of a hidden layer? (README, "Llamaizers".)

Draws 2000 networks of each architecture of experiments/llamaizer.toml (seed 0) and prints, per
hidden layer, the fraction whose activations on the 32 inputs, with a bias column, have full rank,
with a 95% Clopper-Pearson interval:

    python experiments/readout_rank.py
"""

import jax
import jax.numpy as jnp

from counting.boolean.cube import cube
from counting.engine.priors import sample_params
from counting.mechanisms.sites import decodes_everything
from counting.models import forward
from counting.spec import MLPSpec, ScaledPrior
from counting.stats import clopper_pearson

N = 2000
for widths in [(32, 32), (32, 32, 32, 32)]:
    m = MLPSpec(n_inputs=5, widths=widths)
    fwd = forward(m, sample_params(jax.random.key(0), m, ScaledPrior(), N), jnp.asarray(cube(5)))
    for layer in range(1, len(widths) + 1):
        k = int(jnp.sum(decodes_everything(f"layer{layer}", "relu")(fwd)))
        lo, hi = clopper_pearson(k, N)
        print(f"5-{'-'.join(map(str, widths))}-1 layer {layer}: {k}/{N} = {k / N:.3f} [{lo:.3f}, {hi:.3f}]")
