"""recbench: a reference benchmark harness for LLM-based recommendation.

The harness owns everything models share: the data protocol, the model registry, training
loops, metrics, statistics, the run store and the leaderboard. Model files live in
``baselines/`` and ``reclora/`` and reach the harness only through :mod:`recbench.registry`.
"""

__version__ = "0.1.0"
