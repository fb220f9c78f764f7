"""Tasks: one package per application, each registering one `rnnkit.tasks.base.Task`.

Importing this package registers the built-in tasks; `rnnkit.tasks.runner` trains and loads
runs of any of them.
"""

from rnnkit.tasks import caption, classify, forecast, lm, speech, toy, translate  # noqa: F401
