"""The picture a person looks at after a run: sentiment over time, the label mix, the confusion matrix."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from datetime import datetime
from pathlib import Path

from twitter_sentiment.contract import BINARY_LABELS, LABELS, NEGATIVE, NEUTRAL, POSITIVE, REJECTED, UNSCORED

COLOURS = {NEGATIVE: "#d62728", NEUTRAL: "#9e9e9e", POSITIVE: "#2ca02c"}


def label_mix(items: list[dict]) -> Counter:
    """Count of stored items per sentiment (REJECTED and UNSCORED included, so nothing hides)."""
    return Counter(item["sentiment"] for item in items)


def _over_time(items: list[dict]):
    """Per-minute share of each label among scored tweets: (minutes, {label: [share, ...]})."""
    buckets: dict[datetime, Counter] = {}
    for item in items:
        if item["sentiment"] not in LABELS:
            continue
        moment = datetime.fromisoformat(item["date"].replace("Z", "+00:00")).replace(second=0, microsecond=0)
        buckets.setdefault(moment, Counter())[item["sentiment"]] += 1
    minutes = sorted(buckets)
    shares = {label: [buckets[m][label] / max(sum(buckets[m].values()), 1) for m in minutes] for label in LABELS}
    return minutes, shares


def figure_png(items: list[dict], evaluation: dict | None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, (over_time, mix, matrix_ax) = plt.subplots(1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [2.2, 1, 1]})
    minutes, shares = _over_time(items)
    if minutes:
        over_time.stackplot(minutes, *[shares[label] for label in LABELS], labels=LABELS,
                            colors=[COLOURS[label] for label in LABELS], alpha=0.85)
        locator = mdates.AutoDateLocator()
        over_time.xaxis.set_major_locator(locator)
        over_time.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        over_time.legend(loc="upper left", fontsize=8)
    over_time.set(title="Sentiment over time (share of tweets per minute)", ylim=(0, 1), xlabel="tweet time (UTC)")

    counts = label_mix(items)
    names = [name for name in (*LABELS, REJECTED, UNSCORED) if counts.get(name)]
    bars = mix.bar(names, [counts[name] for name in names], color=[COLOURS.get(n, "#ff7f0e") for n in names])
    mix.bar_label(bars, fontsize=8)
    mix.set(title=f"Label mix ({sum(counts.values())} tweets)")
    mix.tick_params(axis="x", labelsize=8)

    confusion = (evaluation or {}).get("confusion_matrix")
    if confusion:
        matrix_ax.imshow(confusion, cmap="Blues")
        for (row, col), value in [((r, c), confusion[r][c]) for r in range(2) for c in range(2)]:
            matrix_ax.text(col, row, str(value), ha="center", va="center", fontsize=12,
                           color="white" if value > max(map(max, confusion)) / 2 else "black")
        matrix_ax.set_xticks([0, 1], BINARY_LABELS)
        matrix_ax.set_yticks([0, 1], BINARY_LABELS)
        accuracy = evaluation.get("model", {}).get("accuracy")
        matrix_ax.set(title=f"Test split (accuracy {accuracy:.3f})" if accuracy else "Test split",
                      xlabel="predicted", ylabel="true")
    else:
        matrix_ax.axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def write_report(directory: str | Path, items: list[dict], evaluation: dict | None, summary: dict) -> Path:
    """`report.png` and a self-contained `report.html` (the picture inlined, a summary table)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png = figure_png(items, evaluation)
    (directory / "report.png").write_bytes(png)
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in summary.items())
    page = (
        "<!doctype html><meta charset='utf-8'><title>twitter-sentiment run</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}</style>"
        "<h1>twitter-sentiment: what this run found</h1>"
        f"<img alt='sentiment over time, label mix, confusion matrix' style='max-width:100%' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        f"<h2>Summary</h2><table>{rows}</table>"
    )
    (directory / "report.html").write_text(page, encoding="utf-8")
    return directory / "report.html"
