"""One small locustfile per scenario; `mayfly loadtest --scenario NAME` runs `NAME.py`."""
