"""Model quality and training cost, in one run: the default classifier, the original notebook's recipe and
the strong TF-IDF reference, trained on the same split, scored on the held-out split and on public test sets.

    python -m bench.training [--seeds 3] [--presets default,original] [--sample-rows N]
    python -m bench.training --train T.csv --validation V.csv --test X.csv [--public P.csv ...]   # your data
    python -m bench.training --sweep    # one change at a time (how the default was chosen)

Files are any format the pipeline reads (sentiment140's six columns, or sentiment,confidence,text). Without
them the embedded sample is split as the pipeline splits it, and sentiment140's 359 hand-labelled tweets
(`../shared/data`) are the public set. Each Keras model is trained once per seed (the classifier's seed; the
split and Word2vec are shared) and reported as the mean and spread (max - min) over the seeds.
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
import pandas as pd

from bench import original_recipe
from twitter_sentiment import dataset, evaluation, logs, training
from twitter_sentiment.bundle import SentimentModel
from twitter_sentiment.classifier import preset
from twitter_sentiment.embeddings import Word2VecParams

# `--sweep`: one change at a time from the default without the lexicon; each row adds to the base only.
# The base is the default before issue 15: no lexicon, batch 512 at 0.002, early stop on validation loss.
SWEEP_BASE = {"lexicon_weight": 0.0, "batch_size": 512, "learning_rate": 0.002, "monitor": "val_loss", "patience": 2}
SWEEP = [  # (name, Word2vec overrides, classifier overrides)
    ("the default before (no lexicon, batch 512, early stop on val loss)", {}, {}),
    ("+ lexicon column, weight 4", {}, {"lexicon_weight": 4.0}),
    ("+ lexicon column, weight 16", {}, {"lexicon_weight": 16.0}),
    ("+ lexicon column, weight 32", {}, {"lexicon_weight": 32.0}),
    ("+ lexicon 16, class weights", {}, {"lexicon_weight": 16.0, "balanced": True}),
    ("+ lexicon 16, bidirectional LSTM", {}, {"lexicon_weight": 16.0, "bidirectional": True}),
    ("+ lexicon 16, batch 128 at 0.001", {}, {"lexicon_weight": 16.0, "batch_size": 128, "learning_rate": 0.001}),
    ("+ lexicon 16, early stop on val accuracy", {}, {"lexicon_weight": 16.0, "monitor": "val_accuracy",
                                                      "patience": 3}),
    ("+ lexicon 16, batch 128 at 0.001, early stop on val accuracy (the default)", {},
     {"lexicon_weight": 16.0, "batch_size": 128, "learning_rate": 0.001, "monitor": "val_accuracy", "patience": 3}),
]
DEFAULT_PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment140_testdata.manual.2009.06.14.csv"
REFERENCE = "strong TF-IDF reference (words 1-2 + characters 2-5, C on validation)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", help="training file (default: the embedded sample, split)")
    parser.add_argument("--validation", help="validation file, for early stopping and the reference's C")
    parser.add_argument("--test", help="held-out test file")
    parser.add_argument("--public", action="append", help="more test files (repeatable; default: sentiment140's "
                                                          "hand-labelled tweets where ../shared/data has them)")
    parser.add_argument("--presets", default="default,original",
                        help="comma-separated: default, original (the notebook's recipe), fixed-length (the "
                             "default padded to 50 steps, as before issue 14)")
    parser.add_argument("--seeds", type=int, default=3, help="train each Keras model with this many seeds")
    parser.add_argument("--sample-rows", type=int, default=0, help="with the sample: a seeded slice of N rows")
    parser.add_argument("--sweep", action="store_true", help="train the SWEEP variants instead of the presets")
    args = parser.parse_args()
    if any((args.train, args.validation, args.test)) and not all((args.train, args.validation, args.test)):
        parser.error("--train, --validation and --test go together")
    logs.setup("WARNING")
    work = Path(tempfile.mkdtemp(prefix="bench-training-"))
    sets, split_note = _data(args, work)
    public = [path for path in (args.public or [str(DEFAULT_PUBLIC)]) if os.path.isfile(path)]
    for path in public:
        sets[Path(path).name] = training.public_set(path)

    rows = [_reference(sets)]
    candidates = _candidates(args)
    vectors = {}
    for name, cleaning, w2v, params in candidates:
        key = (cleaning, tuple(sorted(w2v.items())))
        if key not in vectors:  # Word2vec once per cleaning and its parameters, shared by the seeds
            train_file = _cleaned(sets, cleaning, work)
            started = time.monotonic()
            training.word2vec(train_file["train"], str(work / f"w2v-{len(vectors)}.bin"), Word2VecParams(**w2v))
            vectors[key] = (str(work / f"w2v-{len(vectors)}.bin"), train_file, time.monotonic() - started)
        vectors_path, files, w2v_seconds = vectors[key]
        bundle = str(work / f"bundle-{len(rows)}")
        summary = training.classifier(files["train"], files["validation"], vectors_path, bundle, params)
        model = SentimentModel.load(bundle)
        scored = {set_name: evaluation.metrics(frame["label"], model.score_clean(_clean(frame, cleaning)))
                  for set_name, frame in sets.items() if set_name not in ("train", "validation")}
        rows.append({"model": name, "train_s": summary["train_seconds"], "w2v_s": w2v_seconds,
                     "epoch_s": summary["epoch_seconds"], "epochs": summary["epochs_run"], "scores": scored})
        print(f"[bench] {name} (seed {params.seed}): " + ", ".join(
            f"{s} {m['accuracy']:.4f}" for s, m in scored.items()), file=sys.stderr, flush=True)
    _report(rows, sets, split_note, args.seeds)
    return 0


def _data(args, work: Path) -> tuple[dict[str, pd.DataFrame], str]:
    if args.train:
        sets = {name: dataset.prepare(dataset.read_dataset(path)[0])[0]
                for name, path in (("train", args.train), ("validation", args.validation), ("held-out", args.test))}
        return sets, f"given files: {args.train}, {args.validation}, {args.test}"
    f = lambda name: str(work / name)  # noqa: E731
    training.fetch("sample", f("raw.csv"), args.sample_rows)
    training.preprocess(f("raw.csv"), f("train.csv"), f("validation.csv"), f("held-out.csv"))
    sets = {name: dataset.load(f(f"{name}.csv")) for name in ("train", "validation", "held-out")}
    limit = f", a {args.sample_rows}-row slice" if args.sample_rows else ""
    return sets, f"the embedded sample{limit}, split 80/10/10 (seed 42) as the pipeline splits it"


def _candidates(args) -> list[tuple[str, str, dict, object]]:
    """(name, cleaning, Word2vec overrides, ClassifierParams), one per seed."""
    if args.sweep:
        runs = [(name, "project", w2v, preset("default", **{**SWEEP_BASE, **over})) for name, w2v, over in SWEEP]
    else:
        runs = []
        for name in args.presets.split(","):
            if name == "fixed-length":
                runs.append(("Word2vec + LSTM, default padded to 50 steps", "project", {},
                             preset("default", length_aware=False)))
            elif name == "original":
                runs.append(("the original notebook's recipe", "notebook", {}, preset("original")))
            else:
                runs.append((f"Word2vec + LSTM, preset '{name}'", "project", {}, preset(name)))
    return [(name, cleaning, w2v, replace(params, seed=params.seed + k))
            for name, cleaning, w2v, params in runs for k in range(args.seeds)]


def _clean(frame: pd.DataFrame, cleaning: str) -> list[str]:
    """The project's cleaning (the `clean` column), or the notebook's, applied to the raw text."""
    return frame["clean"].tolist() if cleaning == "project" else frame["text"].map(original_recipe.clean).tolist()


def _cleaned(sets: dict[str, pd.DataFrame], cleaning: str, work: Path) -> dict[str, str]:
    """Train and validation files with `clean` as `cleaning` makes it."""
    paths = {}
    for name in ("train", "validation"):
        frame = sets[name].assign(clean=_clean(sets[name], cleaning))
        paths[name] = str(work / f"{name}-{cleaning}.csv")
        dataset.save(frame[frame["clean"] != ""], paths[name])
    return paths


def _reference(sets: dict[str, pd.DataFrame]) -> dict:
    """The pipeline's own reference step (`training.reference`), fitted on the same split."""
    tests = {name: frame for name, frame in sets.items() if name not in ("train", "validation")}
    fitted = training.reference(sets["train"], sets["validation"], tests)
    return {"model": f"{REFERENCE}, C={fitted['c']:g}", "train_s": fitted["train_seconds"], "w2v_s": 0.0,
            "epoch_s": float("nan"), "epochs": "-", "scores": fitted["scores"]}


def _report(rows: list[dict], sets: dict[str, pd.DataFrame], split_note: str, seeds: int) -> None:
    tests = [name for name in sets if name not in ("train", "validation")]
    print(f"\ndata: {split_note}: {len(sets['train'])} train / {len(sets['validation'])} validation tweets; "
          + "; ".join(f"{name}: {len(sets[name])} tweets" for name in tests))
    # A set whose positive share differs from training's is scored with the training mix as the prior.
    print("positive share: " + ", ".join(f"{name} {sets[name]['label'].mean():.0%}" for name in ("train", *tests)))
    print(f"{seeds} seed(s) per Keras model: mean ± spread (max - min); the reference is deterministic")
    print("| model | training (classifier + Word2vec) | seconds per epoch | epochs | "
          + " | ".join(f"{name} accuracy | {name} ROC AUC" for name in tests) + " |")
    print("|---" * (4 + 2 * len(tests)) + "|")
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        by_name.setdefault(row["model"], []).append(row)
    for name, runs in by_name.items():
        cells = [spread([r["train_s"] + r["w2v_s"] for r in runs], ".1f") + " s",
                 spread([r["epoch_s"] for r in runs], ".1f"), "/".join(str(r["epochs"]) for r in runs)]
        for test in tests:
            cells += [spread([r["scores"][test]["accuracy"] for r in runs]),
                      spread([r["scores"][test]["roc_auc"] for r in runs])]
        print(f"| {name} | " + " | ".join(cells) + " |")


def spread(values: list[float], fmt: str = ".4f") -> str:
    if np.isnan(values).all():
        return "-"
    if len(values) == 1:
        return format(float(np.mean(values)), fmt)
    return f"{format(float(np.mean(values)), fmt)} ± {format(max(values) - min(values), fmt)}"


if __name__ == "__main__":
    sys.exit(main())
