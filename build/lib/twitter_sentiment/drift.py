"""Drift, from the stream: do the tweets the champion scores still look like those it was evaluated on?

When a model is evaluated, `profile` records its held-out split as the model saw it: the score
histogram, the label mix under its thresholds, and the share of tokens outside its vocabulary. The
champion carries that profile in its metadata. `compare` sets a window of stored results beside it.
Score PSI, label shift and out-of-vocabulary rise are drift (a retrain may help); volume and the
REJECTED and UNSCORED rates are the stream's health (a retrain would not help), reported and flagged
but never a reason to retrain.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from twitter_sentiment.bundle import Thresholds
from twitter_sentiment.contract import LABELS, REJECTED, UNSCORED
from twitter_sentiment.text import tokens
from twitter_sentiment.vocabulary import Vocabulary

SCORE_BINS = 10  # equal-width bins of the score in [0, 1]
EMPTY, TOO_FEW, STABLE, DRIFT = "empty", "too_few", "stable", "drift"


def score_histogram(scores) -> list[float]:
    """Share of scores in each of SCORE_BINS equal bins of [0, 1]."""
    scores = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    counts, _ = np.histogram(scores, bins=SCORE_BINS, range=(0.0, 1.0))
    return (counts / max(len(scores), 1)).round(6).tolist()


def label_mix(labels) -> dict[str, float]:
    counts = Counter(labels)
    total = max(sum(counts[label] for label in LABELS), 1)
    return {label: round(counts[label] / total, 6) for label in LABELS}


def oov_share(clean_texts, vocabulary: Vocabulary) -> float:
    """Share of tokens the vocabulary does not know (the model reads them all as one OOV token)."""
    words = [word for text in clean_texts for word in tokens(text)]
    return round(sum(word not in vocabulary.index for word in words) / max(len(words), 1), 6)


def profile(scores, clean_texts, vocabulary: Vocabulary, thresholds: Thresholds) -> dict:
    """What a model's evaluation records for the monitor to compare the stream with."""
    return {"score_histogram": score_histogram(scores),
            "label_mix": label_mix(thresholds.label(float(s)) for s in scores),
            "oov_share": oov_share(clean_texts, vocabulary), "examples": len(clean_texts)}


def psi(expected, actual, floor: float = 1e-4) -> float:
    """Population stability index of two binned distributions (shares); empty bins count as `floor`."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), floor)
    a = np.maximum(np.asarray(actual, dtype=np.float64), floor)
    return round(float(np.sum((a - e) * np.log(a / e))), 6)


@dataclass(frozen=True)
class Limits:
    psi: float = 0.2  # score PSI above 0.2 is the usual "significant shift"
    label_shift: float = 0.15  # the largest change of one label's share
    oov_increase: float = 0.10  # rise of the out-of-vocabulary token share
    rejected_rate: float = 0.05
    unscored_rate: float = 0.05
    min_volume: int = 50  # fewer scored results than this are too few to judge drift


def compare(items: list[dict], baseline: dict, vocabulary: Vocabulary, limits: Limits, start: str, end: str,
            hours: float) -> dict:
    """The window's stored results against the champion's profile; `drifted` says whether to retrain."""
    scored = [item for item in items if item.get("sentiment") in LABELS and item.get("score") is not None]
    kinds = Counter(item.get("sentiment") for item in items)
    volume = len(items)
    report = {"window": {"start": start, "end": end, "hours": hours}, "volume": volume,
              "per_hour": round(volume / max(hours, 1e-9), 2), "scored": len(scored),
              "rejected_rate": round(kinds[REJECTED] / volume, 6) if volume else 0.0,
              "unscored_rate": round(kinds[UNSCORED] / volume, 6) if volume else 0.0,
              "baseline": baseline, "limits": asdict(limits)}
    if scored:
        scores = [float(item["score"]) for item in scored]
        mix = label_mix(item["sentiment"] for item in scored)
        oov = oov_share([item.get("twitter_clean", "") for item in scored], vocabulary)
        report.update(histogram=score_histogram(scores), label_mix=mix, oov_share=oov,
                      psi=psi(baseline["score_histogram"], score_histogram(scores)),
                      label_shift=round(max(abs(mix[k] - baseline["label_mix"].get(k, 0.0)) for k in LABELS), 6),
                      oov_increase=round(oov - baseline["oov_share"], 6))
    judged = len(scored) >= limits.min_volume
    checks = [
        ("score PSI", "psi", limits.psi, "drift"),
        ("label shift", "label_shift", limits.label_shift, "drift"),
        ("out-of-vocabulary rise", "oov_increase", limits.oov_increase, "drift"),
        ("REJECTED rate", "rejected_rate", limits.rejected_rate, "health"),
        ("UNSCORED rate", "unscored_rate", limits.unscored_rate, "health"),
    ]
    report["checks"] = [
        {"name": name, "value": report.get(key), "limit": limit, "kind": kind,
         "flagged": report.get(key) is not None and report[key] > limit and (judged or kind == "health")}
        for name, key, limit, kind in checks]
    report["checks"].append({"name": "volume (scored results)", "value": len(scored), "limit": limits.min_volume,
                             "kind": "health", "flagged": len(scored) < limits.min_volume})
    report["drifted"] = judged and any(c["flagged"] for c in report["checks"] if c["kind"] == "drift")
    report["status"] = EMPTY if not volume else TOO_FEW if not judged else DRIFT if report["drifted"] else STABLE
    return report


_VERDICT = {EMPTY: "no results in the window: nothing to compare (is the streamer running?)",
            TOO_FEW: "too few scored results in the window to judge drift",
            STABLE: "no drift: the stream looks like the champion's held-out split",
            DRIFT: "DRIFT: the stream no longer looks like the champion's held-out split"}


def markdown(report: dict, champion: str) -> str:
    window = report["window"]
    lines = [f"# Monitor: {_VERDICT[report['status']]}", "",
             f"Champion **{champion}**; results from {window['start']} to {window['end']} ({window['hours']:g} h): "
             f"{report['volume']} stored, {report['scored']} scored ({report['per_hour']:g} per hour).", "",
             "| check | value | limit | flagged | kind |", "|---|---|---|---|---|"]
    for check in report["checks"]:
        value = "–" if check["value"] is None else f"{check['value']:.4g}"
        lines.append(f"| {check['name']} | {value} | {check['limit']:g} | {'**yes**' if check['flagged'] else 'no'} "
                     f"| {check['kind']} |")
    if report.get("label_mix"):
        lines += ["", "| label | champion's held-out split | window |", "|---|---|---|",
                  *[f"| {k} | {report['baseline']['label_mix'].get(k, 0):.1%} | {report['label_mix'][k]:.1%} |"
                    for k in LABELS],
                  f"| out-of-vocabulary tokens | {report['baseline']['oov_share']:.1%} | {report['oov_share']:.1%} |"]
    lines += ["", "Drift checks can start a retrain; health checks (volume, REJECTED, UNSCORED) point at the stream, "
                  "not the model, and never do."]
    return "\n".join(lines) + "\n"


def figure_png(report: dict) -> bytes:
    """Score histogram and label mix: the champion's held-out split beside the window."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.pyplot as plt

    fig, (scores_ax, mix_ax) = plt.subplots(1, 2, figsize=(11, 4))
    edges = np.linspace(0, 1, SCORE_BINS + 1)[:-1]
    width = 1 / SCORE_BINS / 2.2
    baseline = report["baseline"]
    scores_ax.bar(edges + width / 2, baseline["score_histogram"], width, label="champion, held-out split")
    if report.get("histogram"):
        scores_ax.bar(edges + 1.5 * width, report["histogram"], width, label="stream, window")
    psi_text = f" (PSI {report['psi']:.3f})" if report.get("psi") is not None else ""
    scores_ax.set(title=f"Score distribution{psi_text}", xlabel="score (1 = positive)", ylabel="share")
    scores_ax.legend(fontsize=8)
    x = np.arange(len(LABELS))
    mix_ax.bar(x - 0.2, [baseline["label_mix"].get(k, 0) for k in LABELS], 0.4, label="champion, held-out split")
    if report.get("label_mix"):
        mix_ax.bar(x + 0.2, [report["label_mix"][k] for k in LABELS], 0.4, label="stream, window")
    mix_ax.set_xticks(x, LABELS)
    mix_ax.set(title="Label mix", ylabel="share")
    mix_ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def html_page(report: dict, champion: str) -> str:
    """The picture inlined in a page the Kubeflow UI shows as an HTML artifact."""
    png = base64.b64encode(figure_png(report)).decode()
    return (f"<!doctype html><meta charset='utf-8'><title>monitor</title>"
            f"<h2>{html.escape(_VERDICT[report['status']])}</h2><p>champion {html.escape(champion)}</p>"
            f"<img alt='score distribution and label mix, champion vs stream' src='data:image/png;base64,{png}'>")


def metrics(report: dict) -> dict[str, float]:
    """Flat numbers for the Kubeflow UI's Metrics (missing values left out, not faked)."""
    keys = ("volume", "scored", "per_hour", "rejected_rate", "unscored_rate", "psi", "label_shift", "oov_share",
            "oov_increase")
    values = {key: float(report[key]) for key in keys if report.get(key) is not None}
    return {**{k: v for k, v in values.items() if math.isfinite(v)}, "drifted": float(report["drifted"])}


def monitor(results_uri: str, store_uri: str, hours: float, end: str, limits: Limits, directory) -> dict:
    """Read the window's results and the champion's profile and vocabulary, and compare them."""
    from pathlib import Path

    from twitter_sentiment.bundle import VOCABULARY_FILE, BundleError
    from twitter_sentiment.results import read_window, window
    from twitter_sentiment.store import ModelStore

    store = ModelStore(store_uri)
    champion = store.latest()
    if champion is None:
        raise BundleError(f"{store_uri} has no champion (no LATEST): there is nothing to monitor yet")
    baseline = (store.metadata(champion).get("evaluation") or {}).get("profile")
    if not baseline:
        raise BundleError(f"champion {champion} records no profile of its evaluation (it was published before "
                          "the monitor existed): retrain or promote a newer version to monitor it")
    vocabulary = Vocabulary.load(Path(store.fetch(directory, champion)) / VOCABULARY_FILE)
    start, stop = window(hours, end)
    report = compare(read_window(results_uri, start, stop), baseline, vocabulary, limits, start, stop, hours)
    return {**report, "champion": champion}
