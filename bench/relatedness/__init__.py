"""The judged relatedness set (pool, judgements, fit, scores), each step run as `python -m bench.relatedness.NAME`."""
