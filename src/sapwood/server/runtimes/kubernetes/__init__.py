"""The Kubernetes runtime: one Pod per unit, in the team's namespace (docs/kubernetes.md).

The only package that imports the official `kubernetes` client (an import-linter contract).
"""
