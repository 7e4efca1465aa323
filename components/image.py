"""The images the training steps run in (core package + Keras + gensim + kfp): TensorFlow CPU for
every step, and JAX with CUDA for the classifier step of a `--gpu` pipeline."""

import os

DEFAULT_IMAGE = "registry.gitlab.com/twitter-sentiment/twitter-sentiment/components:latest"
DEFAULT_GPU_IMAGE = "registry.gitlab.com/twitter-sentiment/twitter-sentiment/components-gpu:latest"
# CI compiles with COMPONENT_IMAGE=$CI_REGISTRY_IMAGE/components@sha256:…, so a run uses exactly what was built.
COMPONENT_IMAGE = os.environ.get("COMPONENT_IMAGE", DEFAULT_IMAGE)
COMPONENT_GPU_IMAGE = os.environ.get("COMPONENT_GPU_IMAGE", DEFAULT_GPU_IMAGE)
