"""The images the training steps run in (core package + Keras + gensim + kfp): TensorFlow CPU for
every step, and JAX with CUDA for the classifier step of a `--gpu` pipeline."""

import os

# A name that never resolves (.invalid), like the manifests' placeholders: `python -m pipelines compile`
# refuses it, so no compiled pipeline points at an image CI never pushed. kfp.local ignores it.
DEFAULT_IMAGE = "registry.invalid/twitter-sentiment/components:unreleased"
DEFAULT_GPU_IMAGE = "registry.invalid/twitter-sentiment/components-gpu:unreleased"
# CI compiles with COMPONENT_IMAGE=$CI_REGISTRY_IMAGE/components@sha256:…, so a run uses exactly what was built.
COMPONENT_IMAGE = os.environ.get("COMPONENT_IMAGE", DEFAULT_IMAGE)
COMPONENT_GPU_IMAGE = os.environ.get("COMPONENT_GPU_IMAGE", DEFAULT_GPU_IMAGE)
