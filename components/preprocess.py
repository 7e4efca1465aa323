from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.image import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def preprocess(raw: Input[Dataset], validation_fraction: float, test_fraction: float, seed: int,
               train: Output[Dataset], validation: Output[Dataset], test: Output[Dataset], stats: Output[Metrics]):
    """Clean tweets (the same `clean_tweet` serving uses), drop neutral, empty and duplicate texts, and
    split stratified and seeded into train/validation/test.

    Args:
        raw: The normalised dataset fetch_dataset wrote.
        validation_fraction: Share of the rows held out for early stopping.
        test_fraction: Share of the rows held out for the evaluation.
        seed: Seed of the split.

    Returns:
        train: The training split.
        validation: The validation split.
        test: The test split.
        stats: Row counts: read, dropped (neutral, empty, duplicate) and kept in each split.
    """
    from twitter_sentiment import logs, training

    logs.setup()
    counts = training.preprocess(raw.path, train.path, validation.path, test.path, validation_fraction,
                                 test_fraction, seed)
    for name, value in counts.items():
        stats.log_metric(name, value)
    # What the bundle's metadata records of its data: the row limit, the split and the seeds of both.
    train.metadata.update({
        "sample_rows": raw.metadata.get("sample_rows", 0), "sample_seed": raw.metadata.get("sample_seed"),
        "split": {"fractions": {"validation": validation_fraction, "test": test_fraction}, "seed": seed,
                  "sizes": {name: counts[name] for name in ("train", "validation", "test")}}})
