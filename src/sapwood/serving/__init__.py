"""The model server that runs as a Service's replicas: ONNX Runtime behind the Open Inference
Protocol (KServe v2), with dynamic micro-batching. Run it as ``python -m sapwood.serving``.

A workload program: it talks to the control plane only through its REST API, never by
importing ``sapwood.server``.
"""
