"""One thread for the array maths of each request.

A request's products are small (a query against a few dozen candidates, or the 256 reference vectors):
OpenBLAS's thread team costs more than it saves there, and far more when the cores are busy with
other requests (measured on the sample, 2 cores under load: a first-time answer took 12 ms of CPU
with two BLAS threads, 2.4 ms with one). Parallelism comes from concurrent requests and server
workers instead, as for FAISS (see `ann.faiss_index`).
"""
from __future__ import annotations

import functools

import numpy  # noqa: F401  (its BLAS must be loaded to be limited)
from threadpoolctl import threadpool_limits


@functools.cache
def one_blas_thread() -> None:
    """Limit this process's BLAS to one thread (once; the limit holds until the process ends)."""
    threadpool_limits(1, user_api="blas")
