"""Convolution + ReLU as one oneDNN call on pre-packed weights, for fp32 scoring on the CPU.

``nn.Conv2d`` hands oneDNN its weights in torch's layout, so every call reorders them into oneDNN's blocked
layout before convolving, and the ReLU after it is a second pass over the feature map. Packing the weights
once for the batch shape and fusing the ReLU into the convolution gives the same bits, 1.05-1.07x faster
on tiny_cnn at batch 64 (``benchmarks/inference/README.md``). The oneDNN calls are the ones torch's own
compiler (inductor) emits; where this torch build lacks them, :func:`pack_conv_relu` changes nothing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

_RELUS = (torch.relu, torch.relu_, torch.nn.functional.relu)


def packed_conv_available() -> bool:
    """Whether this torch build has oneDNN and the fused convolution calls."""
    ops = getattr(torch.ops, "mkldnn", None)
    return (torch.backends.mkldnn.is_available() and hasattr(ops, "_convolution_pointwise")
            and hasattr(ops, "_reorder_convolution_weight"))


class PackedConvReLU(nn.Module):
    """``relu(conv(x))`` for an fp32 CPU input, the weights packed for the shape of the last input seen.

    The weights are plain attributes, not parameters: ``.to(memory_format=...)`` must not touch the packed
    copy, and the module is for scoring only (no gradients).
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.weight = conv.weight.detach().clone()
        self.bias = None if conv.bias is None else conv.bias.detach().clone()
        self.settings = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self._packed: Tensor | None = None
        self._shape: torch.Size | None = None

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu" or x.dtype != torch.float32:  # e.g. under bf16 autocast: the plain path
            conv = torch.nn.functional.conv2d(x, self.weight.to(x), None if self.bias is None else self.bias.to(x),
                                              self.settings[1], self.settings[0], self.settings[2], self.settings[3])
            return torch.relu(conv)
        if self._packed is None or x.shape != self._shape:
            padding, stride, dilation, groups = self.settings
            self._packed = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight, padding, stride, dilation, groups, list(x.shape))
            self._shape = x.shape
        return torch.ops.mkldnn._convolution_pointwise(x, self._packed, self.bias, *self.settings, "relu", [], "")


def _packable(conv: object) -> bool:
    return (type(conv) is nn.Conv2d and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and conv.weight.dtype == torch.float32 and conv.weight.device.type == "cpu")


def pack_conv_relu(module: nn.Module) -> nn.Module:
    """``module`` (a torch.fx graph, as :func:`~wildtag.inference.backends.fold_batchnorm` returns) with each
    ``Conv2d`` whose only reader is a ReLU replaced by one :class:`PackedConvReLU`. Other modules, and
    every module where the oneDNN calls are missing, are returned unchanged."""
    from torch import fx

    if not isinstance(module, fx.GraphModule) or not packed_conv_available():
        return module
    modules = dict(module.named_modules())
    changed = False
    for node in list(module.graph.nodes):
        is_relu = (node.op == "call_function" and node.target in _RELUS) or (
            node.op == "call_module" and type(modules.get(node.target)) is nn.ReLU)
        if not is_relu or len(node.args) != 1 or node.kwargs:
            continue
        source = node.args[0]
        if not (isinstance(source, fx.Node) and source.op == "call_module" and len(source.users) == 1
                and _packable(modules.get(source.target)) and len(source.args) == 1 and not source.kwargs):
            continue
        name = f"{source.target.replace('.', '_')}_relu"
        module.add_submodule(name, PackedConvReLU(modules[source.target]))
        with module.graph.inserting_after(source):
            fused = module.graph.call_module(name, source.args)
        node.replace_all_uses_with(fused)
        module.graph.erase_node(node)
        module.graph.erase_node(source)
        changed = True
    if changed:
        module.graph.lint()
        module.delete_all_unused_submodules()
        module.recompile()
    return module
