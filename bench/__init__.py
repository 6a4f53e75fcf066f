"""zegel benchmarks: ``make bench`` (``python -m bench [AREA ...]``)."""
