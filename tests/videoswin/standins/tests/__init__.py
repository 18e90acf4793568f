# Stand-in: transformers' repository has an empty `tests/__init__.py` (the common modules use relative imports);
# the sdist does not ship it.
