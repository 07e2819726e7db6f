"""Manifests: the committed ones record the command that makes their folder at its own path
(``reproduce``) beside the command as it was run, and their provenance; :func:`same_code` tells
a manifest of this very code from one of other code."""

import json
import re
from pathlib import Path

import pytest

from counting.io.manifest import environment, git_commit, package_version, same_code, source_sha256

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "results").rglob("*manifest*.json"))


@pytest.mark.parametrize("path", MANIFESTS)
def test_every_committed_manifest_reproduces_its_own_folder(path):
    m = json.loads((ROOT / path).read_text())
    folder = str(Path(path).parent)
    assert m["command"] and re.search(rf"--out {re.escape(folder)}( |$)", m["reproduce"]), (path, m.get("reproduce"))
    assert m["reproduce"].split()[0] in ("counting", "python")
    assert m["kind"] and m["counting_version"] and m["created"] and m["environment"]["git"]["commit"]


def test_the_readout_width_manifest_has_its_provenance():
    m = json.loads((ROOT / "results" / "llamaizer_width-readout" / "manifest.json").read_text())
    assert (m["kind"], m["counting_version"]) == ("readings", "0.1.0")
    assert re.fullmatch(r"[0-9a-f]{40}", m["environment"]["git"]["commit"]) and m["created"].startswith("20")


def test_same_code_by_source_or_by_a_clean_commit():
    here = {"counting_version": package_version(), "environment": {"source_sha256": source_sha256()}}
    assert same_code(here) == ""
    other = {"counting_version": package_version(), "environment": {"source_sha256": "0" * 64}}
    assert same_code(other).startswith("made by counting ")
    git = git_commit()
    old = {"counting_version": package_version(), "environment": {"git": {"commit": git["commit"], "dirty": False}}}
    assert (same_code(old) == "") == (git["commit"] is not None and git["dirty"] is False)
    assert environment()["source_sha256"] == source_sha256()
