# Stand-in for transformers' `tests/exporters/test_export.py` (not in the sdist). `ModelTesterMixin` inherits
# `ExportTesterMixin`, whose tests export Hub models through transformers' exporters package. Those tests are not
# part of the common model suite and cannot run without that package's fixtures; VideoSwin's own export tests
# (tests/test_export.py: torch.export and ONNX against eager) cover export. So the mixin is empty here.


class ExportTesterMixin:
    pass
