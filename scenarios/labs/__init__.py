"""Auto-graded IPC-security labs: lab format, grader, coverage score and gradebook.

``kernel-sim lab list|show|start|check`` (see :mod:`scenarios.labs.cli`); the material is in
``content/``, the engine in :mod:`.model` (format) and :mod:`.grader` (scoring).
"""

from scenarios.labs.grader import Grade, grade
from scenarios.labs.model import Case, CaseCtx, Lab, LabError, all_labs, get_lab

__all__ = ["Case", "CaseCtx", "Grade", "Lab", "LabError", "all_labs", "get_lab", "grade"]
