"""The census as a mergeable exact count, and its restricted form."""

import re

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


def _np_unique_rows(rows, weights):
    """The census's distinct-row count as it was first written: ``np.unique(axis=0)``."""
    if rows.shape[0] == 0:
        return rows, weights.astype(np.int64)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    return uniq, np.bincount(inv.reshape(-1), weights=weights, minlength=len(uniq)).astype(np.int64)


def _rows(rng, n, words, pool=None):
    """``n`` rows drawn from a pool of tables that share words (ties on the first sort keys) and use
    all 32 bits of a word (the sign bit: unsigned order), so with many duplicates."""
    pool = pool or max(1, n // 3)
    t = rng.integers(0, 2**32, (pool, words), dtype=np.uint64).astype(np.uint32)
    t[rng.random(pool) < 0.5, : (words + 1) // 2] = 0xFFFFFFFF
    t[rng.random(pool) < 0.3, : words // 2] = 0
    return t[rng.integers(0, pool, n)]


@pytest.mark.parametrize("words", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 3000])
def test_distinct_rows_are_those_of_np_unique(words, n):
    """Same tables in the same (lexicographic, unsigned) order and the same summed weights."""
    from counting.engine.census import key_rows, row_keys, unique_rows

    rng = np.random.default_rng(n * 10 + words)
    rows = _rows(rng, n, words)
    w = rng.integers(1, 1000, n).astype(np.int64)
    t, c = unique_rows(rows, w)
    t0, c0 = _np_unique_rows(rows, w)
    assert t.dtype == np.uint32 and c.dtype == np.int64 and t.shape == (len(t0), words)
    assert (t == t0).all() and (c == c0).all()
    assert (key_rows(row_keys(rows), words) == rows).all()


@pytest.mark.parametrize("words", [1, 4])
def test_merges_in_any_order_and_any_runs_give_one_census(words):
    """Censuses of the parts merged in any order or tree, or pushed as runs of any sizes, are the
    census of the whole (tables, counts and order)."""
    from counting.engine.census import CensusRuns, key_rows

    rng = np.random.default_rng(words)
    rows = _rows(rng, 5000, words, pool=900)
    whole = Census.from_rows(rows, 7)
    for trial in range(4):
        cuts = np.sort(rng.integers(0, len(rows) + 1, rng.integers(1, 12)))
        parts = [Census.from_rows(p, 7) for p in np.split(rows, cuts)]
        order = rng.permutation(len(parts))
        merged = Census.empty(7, words)
        for k in order:  # one growing census, the parts in a random order
            merged = parts[k].merge(merged) if trial % 2 else merged.merge(parts[k])
        while len(parts) > 1:  # a random tree of pairwise merges
            i, j = sorted(rng.choice(len(parts), 2, replace=False))
            parts.append(parts.pop(j).merge(parts.pop(i)))
        runs = CensusRuns(words)
        for p in np.split(rows, cuts):
            runs.add_rows(p)
        k, c = runs.collapse()
        for m in (merged, parts[0], Census(key_rows(k, words), c, 7)):
            assert (m.tables == whole.tables).all() and (m.counts == whole.counts).all()


def _tally_feed(tally, rows, chunk, keep=None, devices=2):
    """Feed ``rows`` to a tally as the engine does: steps of two chunks, the last chunk partly valid
    (``keep``: a restricted census's where-holds), each device's chunks sorted into one run by the
    census's own on-device reduction (:func:`counting.engine.dedup.step_runs`)."""
    import jax

    from counting.engine.dedup import Runs, step_runs

    per_step = jax.jit(step_runs)
    step = 2 * chunk
    for s in range(0, len(rows), step):
        part = rows[s:s + step]
        valid = np.clip(len(part) - np.arange(2) * chunk, 0, chunk)
        pad = np.zeros((step, rows.shape[1]), np.uint32)
        pad[: len(part)] = part
        k = np.zeros(step, bool)
        k[: len(part)] = True if keep is None else keep[s:s + step]
        tables, k = pad.reshape(2, 1, chunk, -1), k.reshape(2, 1, chunk)
        runs = [per_step((t, w)) for t, w in zip(np.split(tables, devices), np.split(k, devices))]
        tally.add(Runs(*(np.concatenate(x) for x in zip(*runs))), valid)


@pytest.mark.parametrize("restricted", [False, True])
def test_census_tally_is_the_same_whatever_the_memory_and_chunks(tmp_path, restricted):
    """In memory or spilled to disk after every step (a budget of 1 byte) or every few, in chunks of
    any size on one or two devices: the census of ``np.unique(axis=0)``, tables, counts and order."""
    from counting.engine.tally import CensusTally

    rng = np.random.default_rng(3)
    rows = _rows(rng, 4000, 4, pool=700)
    keep = rng.random(len(rows)) < 0.7 if restricted else None
    ref = Census.from_rows(rows if keep is None else rows[keep], 7)
    for i, (memory, chunk, devices) in enumerate(((1 << 30, 512, 2), (1, 64, 1), (20_000, 100, 2))):
        t = CensusTally(7, chunk, len(rows), memory=memory, folder=tmp_path / str(i))
        _tally_feed(t, rows, chunk, keep, devices)
        assert (t.spilled > 0) == (memory < 1 << 30)
        c = t.finalize()
        assert (np.asarray(c.tables) == ref.tables).all() and (np.asarray(c.counts) == ref.counts).all()
        assert c.samples == len(rows) and c.kept == ref.kept
        t.cleanup()
        assert not (tmp_path / str(i)).exists()


def test_census_tally_resumes_from_its_state_with_spilled_runs(tmp_path):
    """``state()`` mid-way (runs spilled before it), through a checkpoint file, into a fresh tally
    while the first one goes on spilling runs the checkpoint does not know: both end with the
    census of the whole, and the resumed one removes the runs written after its checkpoint."""
    import counting.engine.checkpoint as checkpoint
    from counting.engine.tally import CensusTally

    rng = np.random.default_rng(4)
    rows = _rows(rng, 3000, 4, pool=500)
    ref = Census.from_rows(rows, 7)
    folder = tmp_path / "census-runs"
    a = CensusTally(7, 64, len(rows), memory=3000, folder=folder)
    _tally_feed(a, rows[:1664], 64)
    assert a.spilled > 0
    checkpoint.save(tmp_path, "{}", a.kind, 13, 1.0, a.state())
    held = set(a.files.names)
    _tally_feed(a, rows[1664:], 64)  # the tally goes on after its checkpoint, spilling more runs
    assert a.spilled > len(held)
    c = a.finalize()
    assert (np.asarray(c.tables) == ref.tables).all() and (np.asarray(c.counts) == ref.counts).all()
    b = CensusTally(7, 64, len(rows), memory=3000, folder=folder)
    b.load(checkpoint.load(tmp_path, "{}", b.kind).state)
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert on_disk == held  # what was written after the checkpoint is gone, nothing half-written is left
    _tally_feed(b, rows[1664:], 64)
    c = b.finalize()
    assert (np.asarray(c.tables) == ref.tables).all() and (np.asarray(c.counts) == ref.counts).all()
    assert c.samples == len(rows)
    b.cleanup()
    assert not folder.exists()


def test_census_tally_merges_the_states_of_parts_with_spilled_runs(tmp_path):
    """Parts of one job (each its own census, spilling into its own subfolder of the job's) merged
    by their states: the census of the whole."""
    from counting.engine.tally import CensusTally

    rng = np.random.default_rng(6)
    rows = _rows(rng, 2048, 4, pool=400)
    ref = Census.from_rows(rows, 7)
    parts = [CensusTally(7, 128, len(rows), memory=2000 if i else 1 << 30, folder=tmp_path) for i in range(2)]
    for p, r in zip(parts, np.split(rows, [768])):
        _tally_feed(p, r, 128)
    assert parts[0].spilled == 0 and parts[1].spilled > 0
    m = CensusTally(7, 128, len(rows), folder=tmp_path)
    m.load(m.merge_states([p.state() for p in parts]))
    c = m.finalize()
    assert (np.asarray(c.tables) == ref.tables).all() and (np.asarray(c.counts) == ref.counts).all()


def test_census_tally_without_a_folder_checkpoints_the_whole_census(tmp_path):
    """Spilled to a temporary folder (no job folder), a checkpoint holds every count itself."""
    from counting.engine.tally import CensusTally

    rng = np.random.default_rng(7)
    rows = _rows(rng, 1024, 4, pool=300)
    a = CensusTally(7, 128, len(rows), memory=1)
    _tally_feed(a, rows, 128)
    assert a.spilled > 0
    b = CensusTally(7, 128, len(rows))
    b.load(a.state())
    ref = Census.from_rows(rows, 7)
    c = b.finalize()
    assert (b.spilled, c.tables.tolist(), c.counts.tolist()) == (0, ref.tables.tolist(), ref.counts.tolist())


@pytest.mark.parametrize("n", range(13))
def test_rows_to_hex_is_to_hex_of_each_row(n):
    """The vectorised hex of many rows is the per-row ``to_hex``, and refuses what it refuses."""
    from counting.boolean.tables import n_words, rows_to_hex, to_hex, words_to_int

    rng = np.random.default_rng(n)
    for words in {n_words(n), n_words(n) + 1}:
        rows = rng.integers(0, 2**32, (40, words), dtype=np.uint64).astype(np.uint32)
        for j in range(words):  # clear every bit at or above point 2**n
            rows[:, j] &= np.uint32(0 if 32 * j >= 2**n else (1 << min(32, 2**n - 32 * j)) - 1)
        assert rows_to_hex(rows, n) == [to_hex(words_to_int(r), n) for r in rows]
        if 32 * words > 2**n:  # a bit at point 2**n: refused by both, with the same message
            rows[7, 2**n // 32] |= np.uint32(1 << (2**n % 32))
            with pytest.raises(ValueError) as per_row:
                to_hex(words_to_int(rows[7]), n)
            with pytest.raises(ValueError, match=re.escape(str(per_row.value))):
                rows_to_hex(rows, n)
    assert rows_to_hex(np.zeros((0, n_words(n)), np.uint32), n) == []


def test_frame_is_the_row_by_row_table():
    """Ranks, hex tables, counts, volumes and intervals, each interval computed for its own row."""
    import pandas as pd

    from counting.boolean.tables import to_hex, words_to_int
    from counting.stats import clopper_pearson_many

    rng = np.random.default_rng(6)
    c = Census.from_rows(_rows(rng, 3000, 4, pool=600), 7)
    order = np.lexsort((np.arange(c.distinct), -c.counts))
    k, n = c.counts[order], c.samples
    lo, hi = clopper_pearson_many(k, n)
    ref = pd.DataFrame({"rank": np.arange(1, c.distinct + 1),
                        "truth_table": [to_hex(words_to_int(r), 7) for r in c.tables[order]],
                        "count": k, "volume": k / n, "log10_volume": np.log10(k / n),
                        "ci95_lo": np.log10(lo), "ci95_hi": np.log10(hi)})
    pd.testing.assert_frame_equal(c.frame(), ref, check_exact=True)
