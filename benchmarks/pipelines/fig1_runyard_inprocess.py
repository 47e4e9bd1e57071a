"""Figure 1, Runyard with RUNYARD_LOCAL_SERVICE=0: the embedded workspace opened in the pipeline process."""

import os
import runpy
from pathlib import Path

os.environ["RUNYARD_LOCAL_SERVICE"] = "0"
runpy.run_path(str(Path(__file__).with_name("fig1_runyard.py")), run_name="__main__")
