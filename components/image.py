"""The image every training step runs in (core package + TensorFlow + gensim + kfp)."""

import os

# A name that never resolves (.invalid), like the manifests' placeholders: `python -m pipelines compile`
# refuses it, so no compiled pipeline points at an image CI never pushed. kfp.local ignores it.
DEFAULT_IMAGE = "registry.invalid/twitter-sentiment/components:unreleased"
# CI compiles with COMPONENT_IMAGE=$CI_REGISTRY_IMAGE/components@sha256:…, so a run uses exactly what was built.
COMPONENT_IMAGE = os.environ.get("COMPONENT_IMAGE", DEFAULT_IMAGE)
