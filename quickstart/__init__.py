"""The whole system on one machine: train through the pipeline, serve, stream a replay, store, report."""
