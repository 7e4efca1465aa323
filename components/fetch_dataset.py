from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def fetch_dataset(dataset_uri: str, sample_rows: int, seed: int, dataset: Output[Dataset]) -> NamedTuple(
        "FetchOutputs", [("fingerprint", str), ("rows", int), ("skipped", int)]):
    """Read the training CSV into a normalised Dataset (id, text, sentiment).

    Args:
        dataset_uri: `s3://bucket/key` (plain, .gz or .zip), a local path, or `sample` (the embedded tweets).
        sample_rows: keep a seeded random slice of this many rows; 0 keeps all.
        seed: seed of that slice.

    Returns:
        dataset: The rows as a normalised CSV (id, text, sentiment).
        fingerprint: SHA-256 of the rows read, recorded in the bundle.
        rows: Rows kept.
        skipped: Rows that could not be read (malformed or unlabelled).
    """
    from collections import namedtuple

    from twitter_sentiment import logs, training

    logs.setup()
    report = training.fetch(dataset_uri, dataset.path, sample_rows, seed)
    dataset.metadata.update({"source": dataset_uri, "format": report.format, "rows": report.rows,
                             "skipped": report.skipped, "sha256": report.fingerprint,
                             "sample_rows": sample_rows, "sample_seed": seed})
    return namedtuple("FetchOutputs", ["fingerprint", "rows", "skipped"])(report.fingerprint, report.rows,
                                                                           report.skipped)
