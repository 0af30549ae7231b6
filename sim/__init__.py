"""SimPy model of the organisation driving the real `controller.core` in simulated time.

The simulation adds only time, workload and a model of the cluster; every
decision (admission, pool sizing, retries, teardown order) is the core's. It
never imports `controller.k8s` or kubernetes (import-linter contract).
"""
