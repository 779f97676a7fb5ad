"""System calls, grouped by family as mixins of :class:`kernel_sim.task.Task`."""
