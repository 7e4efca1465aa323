"""The training pipeline: fetch → preprocess → word2vec → classifier → evaluate → [gate] → export."""

from kfp import dsl, kubernetes

from components import evaluate, export_model, fetch_dataset, preprocess, train_classifier, train_word2vec
from components.image import COMPONENT_GPU_IMAGE
from twitter_sentiment.classifier import ClassifierParams
from twitter_sentiment.contract import NEGATIVE_MAX, POSITIVE_MIN
from twitter_sentiment.embeddings import Word2VecParams

# Each training default has one home, the core's parameter classes; the pipeline's parameters start there.
W2V, CLASSIFIER = Word2VecParams(), ClassifierParams()

PIPELINE_NAME = "twitter-sentiment-training"
from twitter_sentiment.contract import EXPERIMENT  # noqa: E402,F401  (imported from here by the CLI and tests)

S3_SECRET = "aws-credentials"  # keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; optional so IRSA works too
S3_SECRET_KEYS = {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY"}
# dev's model store is Kubeflow's own S3 (SeaweedFS behind minio-service): manifests/training/dev sets
# AWS_ENDPOINT_URL_S3 in this ConfigMap; optional, so prod (no ConfigMap) talks to AWS S3.
S3_ENDPOINT_CONFIG_MAP = "twitter-sentiment-s3"
# The components image is private in the GitLab registry: ci/deploy.sh writes this Secret (a deploy token).
IMAGE_PULL_SECRET = "gitlab-registry"

# Requests that fit a t3.large worker (2 vCPU) next to everything else the cluster runs
# (tests/infra/test_capacity.py packs them); limits let a step use a node's idle CPU.
STEP_RESOURCES = {  # task name: (CPU request, memory request, CPU limit, memory limit)
    "fetch-dataset": ("250m", "1Gi", "1", "4Gi"),
    "preprocess": ("500m", "1Gi", "2", "4Gi"),
    "train-word2vec": ("500m", "2Gi", "2", "6Gi"),
    "train-classifier": ("500m", "2Gi", "2", "6Gi"),
    "evaluate": ("500m", "1Gi", "2", "4Gi"),
    "export-model": ("250m", "512Mi", "1", "1Gi"),
    "monitor-drift": ("250m", "1Gi", "1", "4Gi"),  # the monitor pipeline's steps
    "start-training": ("100m", "256Mi", "500m", "512Mi"),
}

# The same step in the image whose Keras runs on JAX with CUDA (components-gpu/Dockerfile).
train_classifier_gpu = dsl.component(base_image=COMPONENT_GPU_IMAGE,
                                     install_kfp_package=False)(train_classifier.python_func)


def _on_cluster(task: dsl.PipelineTask, name: str, s3: bool = False) -> dsl.PipelineTask:
    """Requests and limits, the registry's pull secret and, for steps that touch S3, its credentials."""
    cpu, memory, cpu_limit, memory_limit = STEP_RESOURCES[name]
    task.set_cpu_request(cpu).set_memory_request(memory).set_cpu_limit(cpu_limit).set_memory_limit(memory_limit)
    kubernetes.set_image_pull_secrets(task, [IMAGE_PULL_SECRET])
    if s3:
        kubernetes.use_secret_as_env(task, secret_name=S3_SECRET, secret_key_to_env=S3_SECRET_KEYS, optional=True)
        kubernetes.use_config_map_as_env(task, config_map_name=S3_ENDPOINT_CONFIG_MAP,
                                         config_map_key_to_env={"AWS_ENDPOINT_URL_S3": "AWS_ENDPOINT_URL_S3"},
                                         optional=True)
    return task


def build(gpu: bool = False):
    """The pipeline function; `gpu` asks for one NVIDIA GPU on the classifier step (a compile-time choice)."""

    @dsl.pipeline(name=PIPELINE_NAME, description="Word2vec + Keras tweet sentiment, gated and published "
                                                  "as a versioned model bundle.")
    def training_pipeline(
        dataset_uri: str = "sample",
        model_store_uri: str = "",
        sample_rows: int = 0,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = CLASSIFIER.seed,
        w2v_vector_size: int = W2V.vector_size,
        w2v_window: int = W2V.window,
        w2v_min_count: int = W2V.min_count,
        w2v_epochs: int = W2V.epochs,
        w2v_workers: int = W2V.workers,
        sequence_length: int = CLASSIFIER.sequence_length,
        units: int = CLASSIFIER.units,
        recurrent_dropout: float = CLASSIFIER.recurrent_dropout,
        dropout: float = CLASSIFIER.dropout,
        trainable_embedding: bool = CLASSIFIER.trainable_embedding,
        bidirectional: bool = CLASSIFIER.bidirectional,
        balanced: bool = CLASSIFIER.balanced,
        batch_size: int = CLASSIFIER.batch_size,
        epochs: int = CLASSIFIER.epochs,
        learning_rate: float = CLASSIFIER.learning_rate,
        patience: int = CLASSIFIER.patience,
        monitor: str = CLASSIFIER.monitor,
        reduce_lr_patience: int = CLASSIFIER.reduce_lr_patience,
        length_aware: bool = CLASSIFIER.length_aware,
        lexicon_weight: float = CLASSIFIER.lexicon_weight,
        max_words: int = 0,
        negative_max: float = NEGATIVE_MAX,
        positive_min: float = POSITIVE_MIN,
        min_accuracy: float = 0.75,
        version: str = "",
        public_test_uri: str = "",
        tolerance: float = 0.01,
        force: bool = False,
    ):
        """Train a Word2vec + Keras tweet sentiment model, evaluate it, and publish it if it passes the gate.

        Args:
            dataset_uri: Training CSV: s3://bucket/key (plain, .gz or .zip; sentiment140's six columns or
                sentiment,text), a local path, or `sample` for the tweets embedded in the image.
            model_store_uri: Where a passing model is published, s3://<model bucket>/models/twitter-sentiment
                (the stack's ModelStoreUri output); LATEST there then names the new version.
            sample_rows: Train on a seeded random slice of this many rows; 0 uses every row.
            validation_fraction: Share of the rows held out for early stopping.
            test_fraction: Share of the rows held out for the evaluation and the accuracy gate.
            seed: Seed of the slice, the split, Word2vec and Keras: the same seed and data give the same model.
            w2v_vector_size: Dimensions of each Word2vec word vector.
            w2v_window: Word2vec context window, in words on each side.
            w2v_min_count: Words seen fewer times than this get no vector.
            w2v_epochs: Passes of Word2vec over the training tweets.
            w2v_workers: Word2vec training threads (the step's CPU limit is 2).
            sequence_length: Words per tweet the classifier reads; longer tweets are cut, shorter padded.
            units: Units of the LSTM layer.
            recurrent_dropout: LSTM recurrent dropout; above 0 it disables the fast cuDNN kernel.
            dropout: Dropout before the output layer.
            trainable_embedding: Fine-tune the Word2vec vectors while training the classifier.
            bidirectional: Read each tweet in both directions (a bidirectional LSTM).
            balanced: Weight the classes so that each counts equally in the loss.
            batch_size: Tweets per training step.
            epochs: Most passes over the training split; early stopping may end sooner.
            learning_rate: Adam's learning rate.
            patience: Epochs without a better `monitor` before training stops.
            monitor: What early stopping watches: val_loss or val_accuracy.
            reduce_lr_patience: Above 0, the learning rate drops tenfold after this many epochs without a
                better validation loss.
            lexicon_weight: Weight of the sentiment lexicon's column in the embedding (VADER's ratings);
                0 leaves the lexicon out.
            length_aware: Mask the padding and batch tweets of similar length (faster; a score does not
                depend on the padding); false trains the fixed-length model of earlier versions.
            max_words: Vocabulary size kept for the classifier, most frequent first; 0 keeps every word.
            negative_max: A score at or below this is labelled NEGATIVE (stored in the bundle).
            positive_min: A score at or above this is labelled POSITIVE; between the two is NEUTRAL.
            min_accuracy: The floor for a first model: with no comparable champion, it is published only if
                its test accuracy reaches this.
            version: Name of the published version; empty makes <UTC time>-<dataset fingerprint>.
            public_test_uri: A fixed public test set (sentiment140's hand-labelled CSV, S3 or local) on which the
                challenger and the champion are also compared; empty skips it, with a warning.
            tolerance: How much lower than the champion's (LATEST's) accuracy the new model's may be, on each
                set, and still be published.
            force: Publish the new model whatever the comparison says; the report records it.
        """
        fetched = fetch_dataset(dataset_uri=dataset_uri, sample_rows=sample_rows, seed=seed)
        fetched.set_display_name("Fetch dataset").set_caching_options(False)  # a schedule must see new data
        _on_cluster(fetched, "fetch-dataset", s3=True)

        split = preprocess(raw=fetched.outputs["dataset"], validation_fraction=validation_fraction,
                           test_fraction=test_fraction, seed=seed)
        _on_cluster(split.set_display_name("Clean and split"), "preprocess")

        vectors = train_word2vec(train=split.outputs["train"], vector_size=w2v_vector_size, window=w2v_window,
                                 min_count=w2v_min_count, epochs=w2v_epochs, workers=w2v_workers, seed=seed)
        _on_cluster(vectors.set_display_name("Train Word2vec"), "train-word2vec")

        trained = (train_classifier_gpu if gpu else train_classifier)(
            train=split.outputs["train"], validation=split.outputs["validation"], vectors=vectors.outputs["vectors"],
            dataset_uri=dataset_uri, dataset_fingerprint=fetched.outputs["fingerprint"],
            sequence_length=sequence_length, units=units, recurrent_dropout=recurrent_dropout, dropout=dropout,
            trainable_embedding=trainable_embedding, bidirectional=bidirectional, balanced=balanced,
            batch_size=batch_size, epochs=epochs,
            learning_rate=learning_rate, patience=patience, monitor=monitor, reduce_lr_patience=reduce_lr_patience,
            length_aware=length_aware, lexicon_weight=lexicon_weight, max_words=max_words,
            negative_max=negative_max, positive_min=positive_min, seed=seed)
        _on_cluster(trained.set_display_name("Train classifier"), "train-classifier")
        if gpu:
            trained.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
            # GPU nodes are tainted so that only GPU work lands there (infra/userdata/worker.sh).
            kubernetes.add_toleration(trained, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")

        evaluated = evaluate(bundle=trained.outputs["bundle"], train=split.outputs["train"],
                             validation=split.outputs["validation"], test=split.outputs["test"],
                             min_accuracy=min_accuracy, model_store_uri=model_store_uri,
                             public_test_uri=public_test_uri, tolerance=tolerance, force=force)
        # Caching off: the champion may have changed since an identical run.
        _on_cluster(evaluated.set_display_name("Champion vs challenger").set_caching_options(False), "evaluate",
                    s3=True)

        with dsl.If(evaluated.outputs["Output"] == True, name="champion-gate"):  # noqa: E712 (a KFP condition)
            exported = export_model(bundle=trained.outputs["bundle"], evaluation=evaluated.outputs["evaluation"],
                                    model_store_uri=model_store_uri, version=version)
            exported.set_display_name("Publish model").set_caching_options(False)
            _on_cluster(exported, "export-model", s3=True)

    return training_pipeline


training_pipeline = build()
