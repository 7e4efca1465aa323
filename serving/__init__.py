"""The KServe custom predictor for twitter-sentiment: a thin adapter over the core package.

`python -m serving` loads the bundle named by `STORAGE_URI` once and serves it with
`kserve.ModelServer` on `HTTP_PORT` (8080): KServe v1 and v2 inference, the original
`POST /predict`, KServe's health and `/metrics` routes. docs/configuration.md lists the settings.
"""
