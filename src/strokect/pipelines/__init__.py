"""End-to-end flows the CLI and the Python API call: segment a case, train + calibrate,
held-out test and weight release, evaluation of segment outputs, the demo.

The top layer below the CLI: pipelines use the engine, the methods and everything under them;
nothing below imports a pipeline. Each module is imported only when used.
"""
