"""`kgen flow`: the main job, from a flow file or a model to verified analog and digital views, one report."""

from .engine import FlowOptions, run_flow
from .spec import STEP_NAMES, flow_for

__all__ = ["FlowOptions", "run_flow", "STEP_NAMES", "flow_for"]
