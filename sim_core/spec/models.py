"""The model zoo as data: each model a TOML file in ``sim_core/spec/zoo`` with its source.

A transformer layer is described by its GEMM shapes (``layer_gemms``): attention with
``kv_heads`` key/value heads (grouped-query attention when fewer than ``heads``), an MLP
of width ``ffn_hidden`` that is a GeLU pair of matrices or a SwiGLU triple. Parameters
and FLOPs are counted from those shapes; with the GPT defaults (``ffn_hidden = 4h``,
``kv_heads = heads``, GeLU) they are exactly Megatron-LM's closed forms: ``12 l h^2 (1 +
13/(12h) + (V+s)/(12 l h))`` parameters and ``96 B s l h^2 (1 + s/(6h) + V/(16 l h))``
FLOPs per iteration with full recomputation (Narayanan et al. 2021, arXiv 2104.04473,
equations 2-3). A CNN (ResNet-50) costs 3x its forward FLOPs per sample (forward, then
backward at twice the forward).
"""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim_core.errors import SpecError

Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Size = Annotated[int, Field(ge=1, le=10_000_000)]


class ModelSpec(BaseModel):
    """One workload. Transformers give layers/hidden/heads/seq/vocab; CNNs give params and FLOPs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    id: str
    name: str = ""
    kind: Literal["transformer", "cnn"] = "transformer"
    layers: Size = 1
    hidden: Size = 1
    heads: Size = 1
    seq: Size = 1
    vocab: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    ffn_hidden: Size | None = Field(None, description="MLP width (default 4 x hidden)")
    kv_heads: Size | None = Field(None, description="key/value heads (default: heads; fewer = grouped-query attention)")
    mlp: Literal["gelu", "swiglu"] = Field("gelu", description="gelu: two MLP matrices; swiglu: three (gate, up, down)")
    dropout: bool = Field(True, description="dropout after attention and MLP (its masks are stored activations)")
    params: Pos | None = Field(None, description="CNN only: parameter count")
    forward_flops: Pos | None = Field(None, description="CNN only: forward FLOPs per sample")
    activation_bytes: Pos | None = Field(None, description="CNN only: activation bytes per sample")
    batch: Size = Field(512, description="global batch in samples (sequences or images)")
    tokens: Pos | None = Field(None, description="LLMs: training token budget")
    epochs: Pos | None = None
    dataset_samples: Pos | None = Field(None, description="samples in one epoch")
    dataset_unit: str = "samples"
    source: str = ""

    @property
    def is_transformer(self) -> bool:
        return self.kind == "transformer"

    @property
    def ffn(self) -> int:
        return self.ffn_hidden or 4 * self.hidden

    @property
    def kv(self) -> int:
        return self.kv_heads or self.heads

    def layer_gemms(self, tokens: float, tp: int = 1) -> list[tuple[str, float, float, float]]:
        """Forward GEMMs of one layer on one of ``tp`` tensor-parallel ranks: ``(name, M, N, K)``.

        ``tokens`` = microbatch x sequence. Core attention is a batched GEMM over the
        ``heads / tp`` local heads (``M = N`` = sequence, ``K`` = head size), given here
        as one GEMM of the same FLOPs (``M`` = tokens x local heads).
        """
        h, s, d = self.hidden, self.seq, self.hidden / self.heads
        qkv = h + 2 * self.kv * d
        up = (2 if self.mlp == "swiglu" else 1) * self.ffn
        heads_local = self.heads / tp
        return [("qkv", tokens, qkv / tp, h), ("scores", tokens * heads_local, s, d),
                ("values", tokens * heads_local, d, s), ("proj", tokens, h, h / tp),
                ("mlp_up", tokens, up / tp, h), ("mlp_down", tokens, h, self.ffn / tp)]

    def layer_parameters(self) -> float:
        """Weights and biases of one layer (matrices, their biases, two layer norms)."""
        h, d = self.hidden, self.hidden / self.heads
        qkv = h + 2 * self.kv * d
        mats = h * qkv + h * h + (3 if self.mlp == "swiglu" else 2) * h * self.ffn
        biases = qkv + h + (2 if self.mlp == "swiglu" else 1) * self.ffn + h
        return mats + biases + 4 * h

    def parameters(self) -> float:
        """Parameter count (Megatron's equation 3 for the GPT shape): layers plus token and
        position embeddings (the output layer shares the token embedding)."""
        if not self.is_transformer:
            return float(self.params)
        return self.layers * self.layer_parameters() + (self.vocab + self.seq) * self.hidden

    def layer_forward_flops(self, tokens: float = 1.0) -> float:
        """Forward FLOPs of one layer for ``tokens`` tokens (2 per multiply-add)."""
        return sum(2.0 * M * N * K for _, M, N, K in self.layer_gemms(tokens))

    def core_attention_flops(self, tokens: float = 1.0) -> float:
        """Forward FLOPs of one layer's attention scores and weighted values (``4 s h`` a token)."""
        return sum(2.0 * M * N * K for n, M, N, K in self.layer_gemms(tokens) if n in ("scores", "values"))

    def flops_per_iteration(self, batch: int | None = None, recompute="full") -> float:
        """Training FLOPs of one iteration of ``batch`` samples, as executed.

        ``recompute``: ``full`` (True) runs each layer's forward twice (Megatron's 96
        coefficient), ``selective`` re-runs only the core attention, ``none`` (False) 72.
        The output layer (``2 h V`` a token forward) is never recomputed.
        """
        B = self.batch if batch is None else batch
        if not self.is_transformer:
            return 3.0 * self.forward_flops * B
        mode = {True: "full", False: "none"}.get(recompute, recompute)
        T = B * self.seq
        fwd = self.layers * self.layer_forward_flops(T)
        extra = {"full": fwd, "selective": self.layers * self.core_attention_flops(T), "none": 0.0}[mode]
        return 3.0 * fwd + extra + 3.0 * 2.0 * T * self.hidden * self.vocab

    def samples_to_train(self, tokens: float | None = None, epochs: float | None = None) -> float | None:
        """Samples the run processes: a token budget (LLMs) or epochs of the dataset."""
        if tokens is not None:
            if not self.is_transformer:
                raise SpecError(f"model {self.id}", "tokens", tokens, "a token budget is for transformers; use epochs")
            return tokens / self.seq
        if epochs is not None:
            if self.dataset_samples is None:
                raise SpecError(f"model {self.id}", "epochs", epochs, "this model names no dataset; give a token budget")
            return epochs * self.dataset_samples
        if self.tokens is not None:
            return self.tokens / self.seq
        if self.epochs is not None and self.dataset_samples is not None:
            return self.epochs * self.dataset_samples
        return None

    def activation_bytes_per_sample(self) -> float:
        """CNN: stored activations per sample, bytes (fp16)."""
        return float(self.activation_bytes or 0.0)


def _model_dir():
    return resources.files("sim_core.spec") / "zoo"


def model_ids() -> list[str]:
    """Ids of the shipped models, sorted."""
    return sorted(p.name[:-5] for p in _model_dir().iterdir() if p.name.endswith(".toml"))


def load_model(id_or_dict) -> ModelSpec:
    """A ``ModelSpec`` from a shipped id, a TOML path or a dict of fields.

    A dict may name ``base`` (a shipped id) and override some of its fields.
    """
    if isinstance(id_or_dict, ModelSpec):
        return id_or_dict
    if isinstance(id_or_dict, dict):
        data = dict(id_or_dict)
        source = "model arguments"
        base = data.pop("base", None)
        if base is not None:
            data = {**load_model(base).model_dump(exclude_none=True), **data}
        data.setdefault("id", "custom")
    else:
        text = str(id_or_dict)
        path = Path(text)
        if text in model_ids():
            data = tomllib.loads((_model_dir() / f"{text}.toml").read_text())
            source = f"model {text}"
        elif path.suffix == ".toml" and path.is_file():
            data = tomllib.loads(path.read_text())
            source = str(path)
        else:
            raise SpecError("--model", "model", text, "one of " + ", ".join(model_ids()) + ", gpt, or a .toml path")
    try:
        m = ModelSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise SpecError(source, field, err.get("input"), err["msg"]) from None
    if not m.is_transformer and (m.params is None or m.forward_flops is None):
        raise SpecError(source, "params", m.params, "a CNN needs params and forward_flops")
    return m
