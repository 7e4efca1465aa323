"""Model quality and training cost, in one run: the default classifier, the original notebook's preset,
and the TF-IDF reference, on the held-out split of the embedded sample and on sentiment140's 359
hand-labelled positive/negative tweets.

    python -m bench.training [--sentiment140 ../shared/data/sentiment140_testdata.manual.2009.06.14.csv]
                             [--presets default,fixed-length,original] [--seeds 3]

Each model is trained once per seed (the classifier's seed; the split and Word2vec are shared) and
reported as the mean and spread (max - min) over the seeds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from twitter_sentiment import dataset, evaluation, logs, training
from twitter_sentiment.bundle import SentimentModel
from twitter_sentiment.classifier import preset
from twitter_sentiment.embeddings import Word2VecParams

# `--sweep`: one change at a time from a frozen embedding at batch 256 (how the default was chosen).
SWEEP_BASE = {"trainable_embedding": False, "batch_size": 256, "learning_rate": 0.001}
SWEEP = [  # (name, Word2vec overrides, classifier overrides)
    ("sequence length 50, frozen embedding, batch 256", {}, {}),
    ("+ Word2vec min_count 5", {"min_count": 5}, {}),
    ("+ class weights", {}, {"balanced": True}),
    ("+ bidirectional LSTM", {}, {"bidirectional": True}),
    ("+ batch 512, learning rate 0.002", {}, {"batch_size": 512, "learning_rate": 0.002}),
    ("+ fine-tuned embedding", {}, {"trainable_embedding": True}),
    ("+ fine-tuned embedding, batch 512, learning rate 0.002 (default)", {},
     {"trainable_embedding": True, "batch_size": 512, "learning_rate": 0.002}),
]
DEFAULT_S140 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment140_testdata.manual.2009.06.14.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentiment140", default=str(DEFAULT_S140))
    parser.add_argument("--presets", default="default,original",
                        help="comma-separated; 'fixed-length' is the default padded to 50 steps, as before issue 14")
    parser.add_argument("--seeds", type=int, default=1, help="train each model with this many seeds")
    parser.add_argument("--sample-rows", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="train the SWEEP variants instead of the presets")
    args = parser.parse_args()
    logs.setup("WARNING")
    work = Path(tempfile.mkdtemp(prefix="bench-training-"))
    f = lambda name: str(work / name)  # noqa: E731

    training.fetch("sample", f("raw.csv"), args.sample_rows)
    training.preprocess(f("raw.csv"), f("train.csv"), f("val.csv"), f("test.csv"))
    started = time.monotonic()
    training.word2vec(f("train.csv"), f("w2v.bin"), Word2VecParams())
    w2v_seconds = time.monotonic() - started

    test = dataset.load(f("test.csv"))
    s140 = None
    if os.path.isfile(args.sentiment140):
        frame, _ = dataset.read_dataset(args.sentiment140)
        s140, _ = dataset.prepare(frame)  # positive/negative only

    rows = []
    train = dataset.load(f("train.csv"))
    started = time.monotonic()
    reference = evaluation.tfidf_reference(train["clean"].tolist(), train["label"].to_numpy())
    tfidf_seconds = time.monotonic() - started
    row = {"model": "TF-IDF + logistic regression", "train_s": tfidf_seconds, "epochs": "-",
           "split_acc": evaluation.metrics(test["label"],
                                           evaluation.reference_scores(reference, test["clean"].tolist()))}
    if s140 is not None:
        row["s140_acc"] = evaluation.metrics(s140["label"],
                                             evaluation.reference_scores(reference, s140["clean"].tolist()))
    rows.append(row)

    if args.sweep:
        runs = [(name, w2v, preset("default", **{**SWEEP_BASE, **over})) for name, w2v, over in SWEEP]
    else:
        runs = [(f"Word2vec + LSTM, preset '{name}'", {},
                 preset("default", length_aware=False) if name == "fixed-length" else preset(name))
                for name in args.presets.split(",")]
    runs = [(name, w2v, replace(params, seed=params.seed + k)) for name, w2v, params in runs for k in range(args.seeds)]
    for number, (name, w2v, params) in enumerate(runs):
        vectors = f("w2v.bin")
        if w2v:
            vectors = f(f"w2v-{number}.bin")
            training.word2vec(f("train.csv"), vectors, Word2VecParams(**w2v))
        bundle = f(f"bundle-{number}")
        summary = training.classifier(f("train.csv"), f("val.csv"), vectors, bundle, params)
        model = SentimentModel.load(bundle)
        row = {"model": name, "train_s": summary["train_seconds"], "epoch_s": summary["epoch_seconds"],
               "epochs": summary["epochs_run"],
               "split_acc": evaluation.metrics(test["label"], model.score_clean(test["clean"].tolist()))}
        if s140 is not None:
            row["s140_acc"] = evaluation.metrics(s140["label"], model.score_clean(s140["clean"].tolist()))
        rows.append(row)

    print(f"\nembedded sample: {len(train)} train / {len(test)} held-out tweets; word2vec (shared) {w2v_seconds:.1f}s; "
          f"sentiment140 test: {0 if s140 is None else len(s140)} tweets")
    print(f"{args.seeds} seed(s) per model: mean ± spread (max - min)")
    print("| model | classifier training | time per epoch | epochs | held-out accuracy | held-out ROC AUC "
          "| sentiment140 accuracy | sentiment140 ROC AUC |")
    print("|---|---|---|---|---|---|---|---|")
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        by_name.setdefault(row["model"], []).append(row)
    for name, runs_of in by_name.items():
        column = lambda get, runs_of=runs_of: [get(r) for r in runs_of]  # noqa: E731
        s140 = "s140_acc" in runs_of[0]
        print(f"| {name} | {spread(column(lambda r: r['train_s']), '.1f')} s "
              f"| {spread(column(lambda r: r.get('epoch_s', float('nan'))), '.1f')} s "
              f"| {'/'.join(str(r['epochs']) for r in runs_of)} "
              f"| {spread(column(lambda r: r['split_acc']['accuracy']))} "
              f"| {spread(column(lambda r: r['split_acc']['roc_auc']))} "
              f"| {spread(column(lambda r: r['s140_acc']['accuracy'])) if s140 else '-'} "
              f"| {spread(column(lambda r: r['s140_acc']['roc_auc'])) if s140 else '-'} |")
    mean = lambda name, key: float(np.mean([r[key] for r in by_name.get(name, [])] or [np.nan]))  # noqa: E731
    d, o, f = ("Word2vec + LSTM, preset 'default'", "Word2vec + LSTM, preset 'original'",
               "Word2vec + LSTM, preset 'fixed-length'")
    if d in by_name and o in by_name:
        print(f"\ndefault trains {mean(o, 'train_s') / mean(d, 'train_s'):.1f}x faster than the original preset")
    if d in by_name and f in by_name:
        print(f"length-aware epochs are {mean(f, 'epoch_s') / mean(d, 'epoch_s'):.2f}x faster than fixed-length ones")
    return 0


def spread(values: list[float], fmt: str = ".4f") -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(float(np.mean(values)), fmt)} ± {format(max(values) - min(values), fmt)}"


if __name__ == "__main__":
    sys.exit(main())
