"""The journal: segments go once their tweets are stored; what is left after a crash comes back once."""

from __future__ import annotations

from streamer.journal import Journal
from streamer.records import Received


def tweets(start: int, count: int) -> list[Received]:
    return [Received(str(1900000000000000000 + n), "u", f"text {n}", f"text {n}", "2026-05-04") for n in
            range(start, start + count)]


def test_a_segment_goes_when_all_its_tweets_are_stored(tmp_path):
    journal = Journal(tmp_path, segment_tweets=10)
    received = tweets(0, 25)
    for tweet in received:
        journal.append(tweet)
    assert len(list(tmp_path.iterdir())) == 3
    journal.done(received[:9])
    assert len(list(tmp_path.iterdir())) == 3  # one tweet of the first segment is not stored yet
    journal.done(received[9:20] + received[:3])  # stored twice: counted once
    assert len(list(tmp_path.iterdir())) == 1  # the segment being written stays until close
    journal.done(received[20:])
    journal.close()
    assert not list(tmp_path.iterdir())


def test_after_a_crash_the_unstored_tweets_come_back_once(tmp_path):
    crashed = Journal(tmp_path, segment_tweets=10)
    received = tweets(0, 25) + tweets(3, 2)  # two tweets received twice (a reconnect)
    for tweet in received:
        crashed.append(tweet)
    crashed.done(received[:10])
    with open(sorted(tmp_path.iterdir())[-1], "ab") as segment:
        segment.write(b'{"id": "19000000000000000')  # the crash cut the last write short
    # No close(): the process was killed.
    journal = Journal(tmp_path, segment_tweets=10)
    recovered = journal.recovered()
    assert [t.id for t in recovered] == [t.id for t in tweets(10, 15)] + [t.id for t in tweets(3, 2)]
    assert recovered[0] == tweets(10, 1)[0]
    fresh = tweets(100, 1)
    journal.append(fresh[0])
    journal.done(recovered + fresh)
    journal.close()
    assert not list(tmp_path.iterdir())
