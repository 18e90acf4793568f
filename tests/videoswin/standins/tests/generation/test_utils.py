# Stand-in for transformers' `tests/generation/test_utils.py` (not in the sdist). `test_modeling_common.py` imports
# `GenerationTesterMixin` only to check that a model which cannot `generate()` does not inherit it (and that one
# which can, does). VideoSwin does not generate, so an empty class serves that check exactly as the real one would.


class GenerationTesterMixin:
    pass
