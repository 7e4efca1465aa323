"""One logging setup for every entry point: one line per event, to stderr."""

import logging
import os


def setup(level: str | None = None) -> None:
    logging.basicConfig(level=(level or os.environ.get("LOG_LEVEL", "INFO")).upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("gensim").setLevel(logging.WARNING)  # our epoch callback says enough
