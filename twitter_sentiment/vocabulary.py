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

    def encode(self, clean_texts: list[str], sequence_length: int) -> np.ndarray:
        """int32 [n, sequence_length]; pre-padded, and long tweets keep their last words (as Keras'
        pad_sequences does), so the recurrent layer ends on real words."""
        out = np.zeros((len(clean_texts), sequence_length), dtype=np.int32)
        get = self.index.get
        for row, text in enumerate(clean_texts):
            ids = [get(word, OOV) for word in text.split()][-sequence_length:]
            if ids:
                out[row, -len(ids):] = ids
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"format": FORMAT, "pad": PAD, "oov": OOV, "words": self.words},
                                         ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or not isinstance(data.get("words"), list):
            raise ValueError(f"{path} is not a vocabulary of format {FORMAT}")
        return cls(data["words"])
