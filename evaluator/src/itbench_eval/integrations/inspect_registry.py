"""inspect_ai's entry point for this package: importing it registers the ``itbench`` task.

With ``[project.entry-points.inspect_ai] itbench_eval = "itbench_eval.integrations.inspect_registry"``
in the distribution's metadata, ``inspect eval itbench_eval/itbench`` finds the task by name.
"""

from itbench_eval.integrations.inspect_task import itbench

__all__ = ["itbench"]
