# Stand-in for transformers' `tests/utils/test_configuration_utils.py` (not in the sdist). `ConfigTester` imports
# only `config_common_kwargs` from it: a non-default value for every field of transformers 5's `PreTrainedConfig`,
# which `check_config_arguments_init` passes to the model's config and reads back. The values are those of
# transformers 5's own file; `test_transformers_suites.py` checks that they still cover every base field.

config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "problem_type": "regression",
}
