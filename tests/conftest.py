"""Test setup: every test runs with JAX's key-reuse checker on, on the CPU."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["JAX_DEBUG_KEY_REUSE"] = "true"  # also inherited by CLI subprocesses

import jax  # noqa: E402

jax.config.update("jax_debug_key_reuse", True)
