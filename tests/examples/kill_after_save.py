"""Run examples/run_video_classification.py and die by SIGKILL right after the checkpoint of a given step is on disk,
like a job killed by its scheduler (used by the resume test; the example itself knows nothing of this).

    python kill_after_save.py STEP path/to/run_video_classification.py <script arguments>
"""

import importlib.util
import os
import signal
import sys

from transformers import TrainerCallback


class KillAfterSave(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    step, script, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))  # its helpers, as when it runs as a script
    spec = importlib.util.spec_from_file_location("run_video_classification", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    trainer_class = module.VideoClassificationTrainer

    class KillingTrainer(trainer_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback(KillAfterSave(step))

    module.VideoClassificationTrainer = KillingTrainer
    module.main(argv)
