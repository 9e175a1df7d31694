"""ONNX models for tests: the same builder that ships as sapwood.testing.onnx_models."""

from __future__ import annotations

from sapwood.testing.onnx_models import mlp_model

__all__ = ["mlp_model"]
