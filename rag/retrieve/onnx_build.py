"""The bundled embedder's ONNX file, built straight from its safetensors: no torch.

A sentence-transformers BERT model (all-MiniLM-L6-v2) is a word-piece embedding, a stack of
encoder layers, mean pooling over the attention mask and L2 normalisation. `build_onnx` writes
that as one ONNX graph (opset 17) with the `onnx` package's own helpers, reading the weights
with `safetensors.numpy`. Nothing here is a port of a library: no package builds an ONNX graph
from safetensors without torch, so the graph is written by hand, op for op as transformers'
eager `BertModel` computes it (same order of additions, erf GELU, finfo.min attention mask).

The result is checked against sentence-transformers' vectors by tests/test_embeddings.py
(committed reference vectors, cosine >= 0.9999).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import BackendError, ConfigError

# The file format version, pinned: onnx writes its newest by default (IR 14 in onnx 1.23),
# which an onnxruntime a release older cannot load. IR 8 is what opset 17 needs.
IR_VERSION = 8
OPSET = 17
_F32 = 1  # onnx.TensorProto.FLOAT, spelled out so this module imports onnx only when building


def read_config(weights: Path) -> dict[str, Any]:
    """The BERT hyper-parameters of a sentence-transformers folder, refusing what the graph
    below does not compute (another activation, another pooling, relative positions)."""
    try:
        cfg = json.loads((weights / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"RAG_EMBED_MODEL_PATH: unreadable config.json in {weights}: {exc}"
                          ) from None
    pooling = weights / "1_Pooling" / "config.json"
    if pooling.is_file():
        pool = json.loads(pooling.read_text(encoding="utf-8"))
        if not pool.get("pooling_mode_mean_tokens") or any(
                pool.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                      "pooling_mode_mean_sqrt_len_tokens")):
            raise ConfigError(f"RAG_EMBED_MODEL_PATH: {weights} pools other than by mean")
    wanted = {"model_type": "bert", "hidden_act": "gelu",
              "position_embedding_type": "absolute"}
    for key, value in wanted.items():
        if cfg.get(key, value) != value:
            raise ConfigError(f"RAG_EMBED_MODEL_PATH: {weights} has {key}={cfg.get(key)!r}; "
                              f"only {value!r} is supported")
    return cfg


def build_onnx(weights: Path, dest: Path) -> None:
    """Write BERT + mean pooling + L2 normalisation for `weights` to `dest`, atomically.

    Inputs `input_ids`, `attention_mask` (int64, batch x seq); output `embedding`
    (float32, batch x hidden), L2-normalised. About 2 s for MiniLM-L6.
    """
    try:
        import onnx
        from onnx import helper, numpy_helper
        from safetensors.numpy import load_file
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError(f"building the embedding model needs onnx and safetensors: {exc}"
                          ) from None
    cfg = read_config(weights)
    try:
        tensors = load_file(str(weights / "model.safetensors"))
    except Exception as exc:
        raise ConfigError(f"RAG_EMBED_MODEL_PATH: cannot read {weights / 'model.safetensors'}: "
                          f"{exc}") from None
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""
    graph = _Graph(helper, numpy_helper)
    try:
        out = _bert(graph, cfg, {k.removeprefix(prefix): v for k, v in tensors.items()})
    except KeyError as exc:
        raise ConfigError(f"RAG_EMBED_MODEL_PATH: {weights} lacks the BERT tensor {exc}") from None
    dims = ["batch", "seq"]
    model = helper.make_model(
        helper.make_graph(
            graph.nodes, "sentence_embedding",
            [helper.make_tensor_value_info("input_ids", onnx.TensorProto.INT64, dims),
             helper.make_tensor_value_info("attention_mask", onnx.TensorProto.INT64, dims)],
            [helper.make_tensor_value_info(out, _F32, ["batch", int(cfg["hidden_size"])])],
            graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rag.retrieve.onnx_build",
        ir_version=IR_VERSION)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        os.replace(tmp, dest)  # atomic: a concurrent process sees no file or a whole one
    except (OSError, onnx.checker.ValidationError) as exc:
        raise BackendError(f"building the embedding model's ONNX file failed: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


class _Graph:
    """Collects nodes and initializers; every `op` call returns its output's name."""

    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self._helper, self._np = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self._np.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(self._helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def linear(self, x: str, t: dict[str, np.ndarray], name: str) -> str:
        # torch's Linear stores weight as (out, in): x @ W.T + b
        w = self.const(f"{name}.weight.T", t[f"{name}.weight"].T.astype(np.float32))
        return self.op("Add", self.op("MatMul", x, w), self.const(f"{name}.bias",
                                                                  t[f"{name}.bias"]))

    def layer_norm(self, x: str, t: dict[str, np.ndarray], name: str, eps: float) -> str:
        return self.op("LayerNormalization", x, self.const(f"{name}.weight", t[f"{name}.weight"]),
                       self.const(f"{name}.bias", t[f"{name}.bias"]), axis=-1, epsilon=eps)


def _bert(g: _Graph, cfg: dict[str, Any], t: dict[str, np.ndarray]) -> str:
    hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    head_dim, eps = hidden // heads, float(cfg.get("layer_norm_eps", 1e-12))
    i64 = np.int64

    # Embeddings: words + token type 0 + positions 0..seq-1, then LayerNorm.
    words = g.op("Gather", g.const("word_embeddings", t["embeddings.word_embeddings.weight"]),
                 "input_ids")
    typed = g.op("Add", words, g.const("token_type_0",
                                       t["embeddings.token_type_embeddings.weight"][0]))
    # Positions 0..seq-1 as the first seq rows (Slice; onnxruntime's optimiser mis-rewrites
    # Gather over a Range into a Slice with scalar bounds).
    seq = g.op("Shape", "input_ids", start=1, end=2)
    zero = g.const("zero", np.array([0], dtype=i64))
    x = g.op("Add", typed, g.op("Slice", g.const(
        "position_embeddings", t["embeddings.position_embeddings.weight"]), zero, seq, zero))
    x = g.layer_norm(x, t, "embeddings.LayerNorm", eps)

    # Attention mask as transformers adds it: 0 where attended, float32 min where padded.
    mask = g.op("Cast", "attention_mask", to=_F32)
    blocked = g.op("Mul", g.op("Sub", g.const("f_one", np.array(1, dtype=np.float32)), mask),
                   g.const("f_min", np.array(np.finfo(np.float32).min, dtype=np.float32)))
    bias = g.op("Unsqueeze", blocked, g.const("axes_1_2", np.array([1, 2], dtype=i64)))
    split = g.const("split_heads", np.array([0, 0, heads, head_dim], dtype=i64))
    merge = g.const("merge_heads", np.array([0, 0, hidden], dtype=i64))
    scale = g.const("sqrt_head_dim", np.array(np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = g.const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))

    for n in range(int(cfg["num_hidden_layers"])):
        p = f"encoder.layer.{n}."
        q, k, v = (g.op("Reshape", g.linear(x, t, f"{p}attention.self.{w}"), split)
                   for w in ("query", "key", "value"))
        scores = g.op("Div", g.op("MatMul", g.op("Transpose", q, perm=[0, 2, 1, 3]),
                                  g.op("Transpose", k, perm=[0, 2, 3, 1])), scale)
        probs = g.op("Softmax", g.op("Add", scores, bias), axis=-1)
        ctx = g.op("MatMul", probs, g.op("Transpose", v, perm=[0, 2, 1, 3]))
        ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]), merge)
        x = g.layer_norm(g.op("Add", g.linear(ctx, t, f"{p}attention.output.dense"), x), t,
                         f"{p}attention.output.LayerNorm", eps)
        h = g.linear(x, t, f"{p}intermediate.dense")
        # GELU, exact (erf) form: x * 0.5 * (1 + erf(x / sqrt(2))); Gelu is an opset-20 op.
        h = g.op("Mul", g.op("Mul", h, half),
                 g.op("Add", g.op("Erf", g.op("Div", h, sqrt2)), "f_one"))
        x = g.layer_norm(g.op("Add", g.linear(h, t, f"{p}output.dense"), x), t,
                         f"{p}output.LayerNorm", eps)

    # Mean over attended tokens (sentence-transformers clamps the count at 1e-9), then L2
    # normalisation as torch.nn.functional.normalize: x / max(||x||, 1e-12).
    m3 = g.op("Unsqueeze", mask, g.const("axes_2", np.array([2], dtype=i64)))
    axis1 = g.const("axes_1", np.array([1], dtype=i64))
    total = g.op("ReduceSum", g.op("Mul", x, m3), axis1, keepdims=0)
    count = g.op("Clip", g.op("ReduceSum", m3, axis1, keepdims=0),
                 g.const("count_floor", np.array(1e-9, dtype=np.float32)))
    mean = g.op("Div", total, count)
    norm = g.op("Max", g.op("ReduceL2", mean, axes=[1], keepdims=1),
                g.const("norm_floor", np.array(1e-12, dtype=np.float32)))
    g.nodes.append(g._helper.make_node("Div", [mean, norm], ["embedding"]))
    return "embedding"


def quantize_int8(fp32: Path) -> Path:
    """An int8 copy of `fp32` beside it: weights quantised per output channel, activations
    dynamically. Per-channel keeps each row's own scale; one scale per tensor (the plain
    dynamic default) measured min cosine 0.94 against fp32 on the sample articles, per-channel
    0.989 (mean 0.9936), at the same speed and size."""
    dest = fp32.with_name(fp32.name.replace("-fp32", "-int8pc7"))
    if dest.is_file():
        return dest
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp.onnx")
    # The quantiser sends a "run pre-processing first" hint through logging.warning(), which
    # installs a root handler: every library's debug logging would print from then on.
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)
    root.addHandler(logging.NullHandler())
    try:
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True)
        os.replace(tmp, dest)
    except Exception as exc:
        raise BackendError(f"quantising the embedding model to int8 failed: {exc}") from None
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
        tmp.unlink(missing_ok=True)
    return dest
