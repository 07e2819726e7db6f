"""The census as a mergeable exact count, and its restricted form."""

import numpy as np
import pytest

from counting.engine.census import Census


def test_merge_keeps_the_networks_drawn_of_restricted_censuses():
    """Two restricted censuses, each keeping 3 of 1000 networks drawn: merged, the volumes are over
    2000 networks (dropping ``drawn`` would divide by the 6 kept networks and inflate them 333x)."""
    a = Census(np.array([[3], [5]], np.uint32), np.array([2, 1], np.int64), 2, drawn=1000)
    b = Census(np.array([[5]], np.uint32), np.array([3], np.int64), 2, drawn=1000)
    m = a.merge(b)
    assert (m.samples, m.kept, m.distinct) == (2000, 6, 2)
    assert m.frame()["volume"].tolist() == pytest.approx([4 / 2000, 2 / 2000])


def test_merge_of_plain_censuses_counts_every_network():
    a = Census.from_rows(np.array([[1], [1], [2]], np.uint32), 2)
    b = Census.from_rows(np.array([[2]], np.uint32), 2)
    m = a.merge(b)
    assert (m.samples, m.drawn, m.kept) == (4, None, 4)
    assert m.merge(Census.empty(2, 1)).counts.tolist() == m.counts.tolist()
