"""The image every training step runs in (core package + TensorFlow + gensim + kfp)."""

import os

DEFAULT_IMAGE = "registry.gitlab.com/twitter-sentiment/twitter-sentiment/components:latest"
# CI compiles with COMPONENT_IMAGE=$CI_REGISTRY_IMAGE/components@sha256:…, so a run uses exactly what was built.
COMPONENT_IMAGE = os.environ.get("COMPONENT_IMAGE", DEFAULT_IMAGE)
