"""Word <-> index mapping and fixed-length sequences; stored in a bundle as plain JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PAD, OOV = 0, 1  # index 0 pads short tweets, 1 stands for words the model never saw
FORMAT = 1


class Vocabulary:
    def __init__(self, words: list[str]):
        self.words = list(words)
        self.index = {word: i + 2 for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        """Rows of the embedding matrix: the words plus PAD and OOV."""
        return len(self.words) + 2

    def ids(self, clean_texts: list[str], sequence_length: int) -> list[list[int]]:
        """Each text's word ids, unpadded; long tweets keep their last words (as Keras' pad_sequences
        does), so the recurrent layer ends on real words."""
        get = self.index.get
        return [[get(word, OOV) for word in text.split()][-sequence_length:] for text in clean_texts]

    def encode(self, clean_texts: list[str], sequence_length: int) -> np.ndarray:
        """int32 [n, sequence_length], pre-padded."""
        return pad(self.ids(clean_texts, sequence_length), sequence_length)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"format": FORMAT, "pad": PAD, "oov": OOV, "words": self.words},
                                         ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or not isinstance(data.get("words"), list):
            raise ValueError(f"{path} is not a vocabulary of format {FORMAT}")
        return cls(data["words"])


def pad(rows: list[list[int]], length: int) -> np.ndarray:
    """int32 [len(rows), length]: each row's ids at the end, PAD before them (rows longer are cut)."""
    out = np.zeros((len(rows), length), dtype=np.int32)
    for row, ids in enumerate(rows):
        if ids and length:
            ids = ids[-length:]
            out[row, -len(ids):] = ids
    return out


def padded_length(longest: int, sequence_length: int, step: int = 8) -> int:
    """A batch's time steps: its longest row rounded up to a multiple of `step` (at most
    `sequence_length`), so a compiled model sees a handful of shapes, not one per batch."""
    return max(step, min(sequence_length, -(-longest // step) * step))
