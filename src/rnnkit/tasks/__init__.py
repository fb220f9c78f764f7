"""Tasks: config + data + model + metrics for one job, trained by `rnnkit.tasks.runner`.

Importing this package registers the built-in tasks with the runner.
"""

from rnnkit.tasks import classify, forecast, lm, longrange  # noqa: F401  (registers the tasks)
