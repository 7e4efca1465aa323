"""The streamer: tweets in (X API v2 filtered stream or a replay file), sentiment out (one item per tweet).

A thin service over the core package: `clean_tweet` comes from `twitter_sentiment.text`; the model
runs in the model server (KServe v1 API); results go to DynamoDB or SQLite, keyed by tweet id, so
the at-least-once stream is stored exactly once.
"""
