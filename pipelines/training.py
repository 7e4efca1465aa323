"""The training pipeline: fetch → preprocess → word2vec → classifier → evaluate → [gate] → export."""


from kfp import dsl, kubernetes

from components import evaluate, export_model, fetch_dataset, preprocess, train_classifier, train_word2vec
from components.image import COMPONENT_GPU_IMAGE

PIPELINE_NAME = "twitter-sentiment-training"
S3_SECRET = "aws-credentials"  # keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; optional so IRSA works too
S3_SECRET_KEYS = {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY"}
# The same step in the image whose Keras runs on JAX with CUDA (components-gpu/Dockerfile).
train_classifier_gpu = dsl.component(base_image=COMPONENT_GPU_IMAGE,
                                     install_kfp_package=False)(train_classifier.python_func)


def _with_s3(task: dsl.PipelineTask) -> dsl.PipelineTask:
    return kubernetes.use_secret_as_env(task, secret_name=S3_SECRET, secret_key_to_env=S3_SECRET_KEYS,
                                        optional=True)


def build(gpu: bool = False):
    """The pipeline function; `gpu` asks for one NVIDIA GPU on the classifier step (a compile-time choice)."""

    @dsl.pipeline(name=PIPELINE_NAME, description="Word2vec + Keras tweet sentiment, gated and published "
                                                  "as a versioned model bundle.")
    def training_pipeline(
        dataset_uri: str = "sample",
        model_store_uri: str = "s3://twitter-sentiment-models/models/twitter-sentiment",
        sample_rows: int = 0,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 42,
        w2v_vector_size: int = 300,
        w2v_window: int = 7,
        w2v_min_count: int = 10,
        w2v_epochs: int = 32,
        w2v_workers: int = 2,
        sequence_length: int = 50,
        units: int = 100,
        recurrent_dropout: float = 0.0,
        dropout: float = 0.5,
        trainable_embedding: bool = True,
        bidirectional: bool = False,
        balanced: bool = False,
        batch_size: int = 512,
        epochs: int = 20,
        learning_rate: float = 0.002,
        patience: int = 2,
        max_words: int = 0,
        negative_max: float = 0.4,
        positive_min: float = 0.7,
        min_accuracy: float = 0.75,
        version: str = "",
    ):
        fetched = fetch_dataset(dataset_uri=dataset_uri, sample_rows=sample_rows, seed=seed)
        fetched.set_display_name("Fetch dataset").set_caching_options(False)  # a schedule must see new data
        fetched.set_cpu_request("500m").set_memory_request("2G").set_memory_limit("8G")
        _with_s3(fetched)

        split = preprocess(raw=fetched.outputs["dataset"], validation_fraction=validation_fraction,
                           test_fraction=test_fraction, seed=seed)
        split.set_display_name("Clean and split").set_cpu_request("1").set_memory_request("2G").set_memory_limit("8G")

        vectors = train_word2vec(train=split.outputs["train"], vector_size=w2v_vector_size, window=w2v_window,
                                 min_count=w2v_min_count, epochs=w2v_epochs, workers=w2v_workers, seed=seed)
        vectors.set_display_name("Train Word2vec").set_cpu_request("2").set_memory_request("4G").set_memory_limit("16G")

        trained = (train_classifier_gpu if gpu else train_classifier)(
            train=split.outputs["train"], validation=split.outputs["validation"], vectors=vectors.outputs["vectors"],
            dataset_uri=dataset_uri, dataset_fingerprint=fetched.outputs["fingerprint"],
            sequence_length=sequence_length, units=units, recurrent_dropout=recurrent_dropout, dropout=dropout,
            trainable_embedding=trainable_embedding, bidirectional=bidirectional, balanced=balanced,
            batch_size=batch_size, epochs=epochs,
            learning_rate=learning_rate, patience=patience, max_words=max_words, negative_max=negative_max,
            positive_min=positive_min, seed=seed)
        trained.set_display_name("Train classifier").set_cpu_request("2").set_memory_request("4G")
        trained.set_memory_limit("16G")
        if gpu:
            trained.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
            # GPU nodes are tainted so that only GPU work lands there (infra/userdata/worker.sh).
            kubernetes.add_toleration(trained, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")

        evaluated = evaluate(bundle=trained.outputs["bundle"], train=split.outputs["train"],
                             test=split.outputs["test"], min_accuracy=min_accuracy)
        evaluated.set_display_name("Evaluate").set_cpu_request("1").set_memory_request("2G").set_memory_limit("8G")

        with dsl.If(evaluated.outputs["Output"] == True, name="accuracy-gate"):  # noqa: E712 (a KFP condition)
            exported = export_model(bundle=trained.outputs["bundle"], evaluation=evaluated.outputs["evaluation"],
                                    model_store_uri=model_store_uri, version=version)
            exported.set_display_name("Publish model").set_caching_options(False)
            exported.set_cpu_request("250m").set_memory_request("1G").set_memory_limit("2G")
            _with_s3(exported)

    return training_pipeline


training_pipeline = build()
