from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Input, Model

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def export_model(bundle: Input[Model], evaluation: Input[Artifact], model_store_uri: str,
                 version: str) -> NamedTuple("ExportOutputs", [("version_uri", str)]):
    """Publish the bundle to the model store (S3 or a local directory): every file of the version,
    then LATEST. An existing version is never overwritten.

    Args:
        bundle: The model bundle to publish (train_classifier's output).
        evaluation: evaluate's JSON result, stored with the bundle.
        model_store_uri: `s3://bucket/models/twitter-sentiment` or a local directory.
        version: the version name; empty makes `<UTC time>-<data fingerprint>`.

    Returns:
        version_uri: Where the version was published, `<model_store_uri>/<version>/`.
    """
    import json
    from collections import namedtuple

    from twitter_sentiment import logs, training

    logs.setup()
    with open(evaluation.path, encoding="utf-8") as handle:
        result = json.load(handle)
    uri = training.export(bundle.path, result, model_store_uri, version)
    print(f"published {uri}")
    return namedtuple("ExportOutputs", ["version_uri"])(uri)
