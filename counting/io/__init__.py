"""Results on disk: atomic files (:mod:`~counting.io.files`), provenance manifests
(:mod:`~counting.io.manifest`), figures (:mod:`~counting.io.figures`) and reports of a results
folder (:mod:`~counting.io.report`).

Example:
    >>> from counting.io import files, manifest
    >>> callable(files.write_parquet) and callable(manifest.manifest)
    True
"""
