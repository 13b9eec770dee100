"""Helpers of the harness tools: case files, adapter processes, implementations."""
