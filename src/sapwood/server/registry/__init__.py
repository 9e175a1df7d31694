"""The model registry's parts below the services: ONNX reading, ref resolution, artifacts."""
