"""The training engine: the loop (:mod:`~landmarks.engine.trainer`), hooks, checkpoints,
distributed setup, seeding, sampling and health checks. Nothing here is method-specific."""
