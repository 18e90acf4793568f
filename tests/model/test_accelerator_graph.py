"""The accelerator path as a traced graph, with the meta device standing in for an accelerator: every operation
produces a tensor on the input's device (no shift mask or index built on the CPU and copied over), no host sync
(`.item()`, `nonzero`), and no graph break, for inference and training."""

from __future__ import annotations

import pytest
import torch
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd

from conftest import tiny_config_kwargs
from transformers_videoswin import VideoSwinConfig, VideoSwinForVideoClassification

META = torch.device("meta")
HOST_SYNCS = {"aten._local_scalar_dense", "aten.nonzero", "aten.item", "aten.to_sparse"}


def meta_model(training: bool, **overrides) -> VideoSwinForVideoClassification:
    """Shifted windows on every axis, padding in time and space, and stochastic depth when training."""
    config = VideoSwinConfig(**tiny_config_kwargs(depths=(2, 2, 2, 2), drop_path_rate=0.2, **overrides))
    with torch.device("meta"):
        model = VideoSwinForVideoClassification(config)
    return model.train(training)


def pixel_values() -> torch.Tensor:
    return torch.empty(2, 5, 3, 50, 70, device="meta")


def off_device_nodes(graph: torch.fx.Graph) -> list[str]:
    """The nodes whose output is not on the meta device, or that read a value back to the host."""
    found = []
    for node in graph.nodes:
        values = node.meta.get("val")
        values = values if isinstance(values, (list, tuple)) else [values]
        for value in values:
            if isinstance(value, torch.Tensor) and value.device != META:
                found.append(f"{node.name} ({node.target}) on {value.device}")
        if node.op == "call_function" and any(sync in str(node.target) for sync in HOST_SYNCS):
            found.append(f"{node.name} ({node.target}): host sync")
    return found


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("exact_index", [False, True], ids=["released", "exact-index"])
def test_exported_graph_stays_on_the_input_device(training, exact_index):
    model = meta_model(training, use_exact_relative_position_index=exact_index)
    program = torch.export.export(model, (), {"pixel_values": pixel_values()}, strict=False)
    nodes = [node for node in program.graph.nodes if node.op == "call_function"]
    assert len(nodes) > 100  # the whole network was traced
    assert off_device_nodes(program.graph) == []


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_compiled_forward_and_backward_have_no_graph_break_and_stay_on_device(training):
    """`fullgraph=True` raises on any graph break; the forward and (in training) backward graphs that AOTAutograd
    hands the compiler hold no operation off the input's device and no host sync."""
    graphs = []

    def record(graph_module: torch.fx.GraphModule, example_inputs):
        graphs.append(graph_module.graph)
        return make_boxed_func(graph_module.forward)

    model = meta_model(training)
    compiled = torch.compile(model, backend=aot_autograd(fw_compiler=record, bw_compiler=record), fullgraph=True)
    with torch.set_grad_enabled(training):
        logits = compiled(pixel_values()).logits
        if training:
            logits.sum().backward()
    torch._dynamo.reset()
    assert len(graphs) == (2 if training else 1)
    for graph in graphs:
        assert off_device_nodes(graph) == []
