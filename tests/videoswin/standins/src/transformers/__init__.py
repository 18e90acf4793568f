# Stand-in for transformers' `src/transformers/__init__.py` as seen from the sdist's `tests/` folder.
# `test_pipeline_mixin.py` calls `direct_transformers_import(<sdist>/src/transformers)`, which executes this file
# under the name "transformers" and then returns `sys.modules["transformers"]`: the installed package, already
# imported. Executing the real 5000-line `__init__` a second time would only slow the import down.
