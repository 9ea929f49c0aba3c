"""The model zoo as data: each model a TOML file in ``sim_core/models`` with its source.

FLOPs and parameters follow ``hardware.md``: a transformer (Megatron-LM's GPT family,
BERT, Llama-like) costs ``96 B s l h^2 (1 + s/(6h) + V/(16 l h))`` FLOPs per iteration
with activation recomputation (72 without) and has ``12 l h^2 (1 + 13/(12h) +
(V+s)/(12 l h))`` parameters (Narayanan et al. 2021, equations 2-3). A CNN (ResNet-50)
costs 3x its forward FLOPs per sample (forward, then backward at twice the forward).
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

    def parameters(self) -> float:
        """Parameter count (Megatron's equation 3 for transformers)."""
        if not self.is_transformer:
            return float(self.params)
        l, h, V, s = self.layers, self.hidden, self.vocab, self.seq
        return 12 * l * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * l * h))

    def flops_per_iteration(self, batch: int | None = None, recompute: bool = True) -> float:
        """Training FLOPs of one iteration of ``batch`` samples (Megatron's equation 2)."""
        B = self.batch if batch is None else batch
        if not self.is_transformer:
            return 3.0 * self.forward_flops * B
        l, h, V, s = self.layers, self.hidden, self.vocab, self.seq
        k = 96 if recompute else 72
        return k * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h))

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
