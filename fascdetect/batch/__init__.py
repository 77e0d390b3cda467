"""Cohorts: many recordings analysed on this machine or on a Dask cluster, into Parquet.

- ``discover`` turns paths, directories and globs into recording files;
- ``task`` is what a worker does with one recording: hash it, analyse it
  with ``analyze_path`` (a large one foot by foot, then merged), return
  plain data (never raises for a bad file);
- ``store`` keeps one part per recording under ``OUT/parts/`` and compacts
  them into ``OUT/recordings.parquet`` and ``OUT/events.parquet``;
- ``runner`` plans what needs doing, runs the tasks on Dask and streams the
  outcomes into the store as each finishes.

Dask and pyarrow are imported only when a batch runs, so the rest of the
tool starts as fast without them.
"""

from fascdetect.batch.runner import SPLIT_BYTES, BatchReport, run_batch

__all__ = ["SPLIT_BYTES", "BatchReport", "run_batch"]
