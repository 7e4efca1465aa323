"""Champion and challenger: a retrain replaces the served model only when it is not worse.

The champion is the version the store's `LATEST` names. Both models are scored on the same held-out
split and, when one is given, the same public set; the challenger is published when on each its
accuracy is at most `tolerance` below the champion's. Without a comparable champion (the first
model, or one trained with other cleaning rules) the absolute floor `min_accuracy` decides.
`force` publishes whatever the gate says, and the decision records that it was used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from twitter_sentiment.bundle import BundleError, SentimentModel
from twitter_sentiment.storage import StorageError
from twitter_sentiment.store import ModelStore
from twitter_sentiment.text import CLEANING_VERSION

log = logging.getLogger(__name__)

NONE, READY, UNREADABLE, INCOMPARABLE = "none", "ready", "unreadable", "incomparable"
HELD_OUT, PUBLIC = "held_out", "public"  # the evaluation sets, in the order the gate reads them
SET_NAMES = {HELD_OUT: "held-out split", PUBLIC: "public set"}


@dataclass
class Champion:
    status: str  # NONE, READY, UNREADABLE or INCOMPARABLE
    version: str | None = None
    model: SentimentModel | None = None
    reason: str = ""


def load_champion(store_uri: str, directory: str | Path) -> Champion:
    """The store's current champion, loaded from its own bundle, or why it cannot be compared."""
    if not store_uri:
        return Champion(NONE, reason="no model store was given")
    store = ModelStore(store_uri)
    try:
        version = store.latest()
    except StorageError as error:
        return Champion(UNREADABLE, reason=f"the champion cannot be read: {error}")
    if version is None:
        return Champion(NONE, reason=f"{store_uri} has no champion yet")
    try:
        cleaning = store.metadata(version).get("cleaning_version")
        if cleaning != CLEANING_VERSION:
            # Its texts would have to be cleaned by rules this code no longer has: not a fair comparison.
            return Champion(INCOMPARABLE, version, reason=f"champion {version} was trained with cleaning rules "
                                                          f"v{cleaning}, this code cleans with v{CLEANING_VERSION}")
        return Champion(READY, version, SentimentModel.load(store.fetch(directory, version)))
    except (BundleError, StorageError, OSError, ValueError) as error:
        return Champion(UNREADABLE, version, reason=f"champion {version} cannot be read: {error}")


@dataclass(frozen=True)
class Gate:
    min_accuracy: float = 0.75  # the floor for a model with no comparable champion
    tolerance: float = 0.01  # how much accuracy a challenger may lose against the champion, on each set
    force: bool = False


def decide(challenger: dict[str, dict], champion_scores: dict[str, dict], champion: Champion, gate: Gate) -> dict:
    """{"publish", "forced", "verdict", "reason"}; the scores are {set name: metrics}, held-out first."""
    publish, verdict, reason = _gate(challenger, champion_scores, champion, gate)
    if gate.force and not publish:
        return {"publish": True, "forced": True, "verdict": "forced",
                "reason": f"force=true published it although the gate refused it ({reason})"}
    return {"publish": publish, "forced": False, "verdict": verdict, "reason": reason}


def _gate(challenger: dict, champion_scores: dict, champion: Champion, gate: Gate) -> tuple[bool, str, str]:
    if champion.status == UNREADABLE:
        return False, "champion_unreadable", (f"{champion.reason}; nothing is published: repair or roll back the "
                                              "store, or run with force=true")
    if champion.status == READY:
        for name, metrics in challenger.items():
            theirs, ours = champion_scores[name]["accuracy"], metrics["accuracy"]
            if ours < theirs - gate.tolerance:
                return False, "champion_kept", (
                    f"the challenger's accuracy on the {SET_NAMES[name]}, {ours:.4f}, is below champion "
                    f"{champion.version}'s {theirs:.4f} by more than the tolerance {gate.tolerance:g}: "
                    f"{champion.version} stays")
        sets = " and ".join(SET_NAMES[name] for name in challenger)
        return True, "challenger_wins", (f"the challenger is within {gate.tolerance:g} of champion "
                                         f"{champion.version} or better on the {sets}: it becomes the champion")
    accuracy = challenger[HELD_OUT]["accuracy"]
    why = "no champion yet" if champion.status == NONE else f"{champion.reason}, so it is not compared"
    if accuracy >= gate.min_accuracy:
        return True, "floor_passed", f"{why}; accuracy {accuracy:.4f} ≥ min_accuracy {gate.min_accuracy:g}"
    return False, "floor_failed", f"{why}; accuracy {accuracy:.4f} < min_accuracy {gate.min_accuracy:g}"


_ROWS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "neutral_share", "examples")


def markdown(result: dict) -> str:
    """One table, both models side by side on each set, the decision above it."""
    decision, champion = result["decision"], result["champion"]
    published = "PUBLISHED" if decision["publish"] else "NOT PUBLISHED (the run succeeded; nothing changed)"
    version = champion.get("version") or "none"
    lines = [f"# Champion and challenger: {published}", "", f"**Decision:** {decision['reason']}.", ""]
    if decision["forced"]:
        lines += ["**force=true was used**: the gate was overridden for this run.", ""]
    if not champion.get("scores"):
        why = f": {champion['reason']}" if champion["reason"] else ""
        lines += [f"Champion ({version}): {champion['status']}{why}.", ""]
    reference = result["reference_tfidf"]
    lines += [f"| set | metric | challenger (this run) | champion {version} | reference (C={reference['c']:g}) |",
              "|---|---|---|---|---|"]
    for name, metrics in result["scores"].items():
        theirs = (champion.get("scores") or {}).get(name, {})
        baseline = reference["scores"].get(name, {})
        for row in _ROWS:
            lines.append(f"| {SET_NAMES[name]} | {row} | {_cell(metrics.get(row))} | {_cell(theirs.get(row))} "
                         f"| {_cell(baseline.get(row))} |")
    if PUBLIC not in result["scores"]:
        lines += ["", "No public set was given (`public_test_uri`): the models were compared on the held-out "
                      "split only."]
    lines += ["", f"Reference: {reference['name']}, fitted on the same training split in this run "
                  f"({reference['train_seconds']:.1f} s); C chosen on the validation split."]
    lines += ["", f"Gate: tolerance {result['tolerance']:g} against a champion, min_accuracy "
                  f"{result['min_accuracy']:g} without one. Confusion matrices (rows true, columns predicted, "
                  "NEGATIVE then POSITIVE, held-out split): challenger "
                  f"{result['confusion_matrix']}" + (f", champion {champion['confusion_matrix']}"
                                                      if champion.get("confusion_matrix") else "") + "."]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.4f}"
