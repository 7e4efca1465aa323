"""One logging setup for every entry point: one line per event, to stderr (or to a step's log file)."""

import logging
import os

# One line per request or credential lookup would drown the events that matter.
CHATTY = ("gensim", "httpx", "httpcore", "botocore", "urllib3")


def setup(level: str | None = None, filename: str | None = None) -> None:
    logging.basicConfig(level=(level or os.environ.get("LOG_LEVEL", "INFO")).upper(), filename=filename,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)
