"""The training subcommands: ``collective``, ``train``, ``compare`` and ``scaling``."""
from __future__ import annotations

import sys
import time

from sim_core.cli.main import count, positive_float
from sim_core.cli.core import add_arch_args, add_engine_args, fabric_from_args, size_from_args
from sim_core.workloads.collectives.algorithms import ALGORITHMS, NO_PROTOCOL, OPS, run_collective
from sim_core.workloads.collectives.tuning import PROTOCOLS
from sim_core.errors import SpecError
from sim_core.spec.loader import load_architecture
from sim_core.spec.models import load_model, model_ids
from sim_core.workloads.training import Plan, compare, estimate, scaling
from sim_core.workloads.training.plan import fabric_for
from sim_core.workloads.training.comm import CHUNKS_PER_MESSAGE, Resolution


def register(sub) -> None:
    p = sub.add_parser("collective", help="one collective on a fabric: time, algbw, busbw, bottleneck")
    add_arch_args(p)
    p.add_argument("--op", choices=sorted(OPS), default="allreduce")
    p.add_argument("--algo", choices=["auto"] + sorted(ALGORITHMS), default="auto")
    p.add_argument("--protocol", choices=["auto", *PROTOCOLS, NO_PROTOCOL], default="auto",
                   help="NCCL protocol (default: NCCL's choice); none: the engine's raw messages")
    p.add_argument("--bytes", type=positive_float, default=4e9)
    p.add_argument("--ranks", type=count(2, 100_000), help="first N devices (default: all)")
    add_engine_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_collective)

    p = sub.add_parser("train", help="one training iteration (and the whole run) of a model")
    add_arch_args(p)
    _model_args(p)
    _plan_args(p)
    add_engine_args(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("compare", help="one workload on every preset at equal chip power")
    _model_args(p)
    p.add_argument("--power-kw", type=positive_float, help="chip power budget (default: 1,024 A100s = 409.6 kW)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("scaling", help="iteration time and efficiency as chips grow")
    p.add_argument("--arch", default="dgx-a100")
    _model_args(p)
    p.add_argument("--chips", default="8,16,32,64,128,256,512,1024", help="comma-separated chip counts")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_scaling)


def _model_args(p) -> None:
    p.add_argument("--model", default="gpt3-175b", help="a model id (" + ", ".join(model_ids()) + "), gpt, or a .toml")
    for name in ("layers", "hidden", "heads", "seq", "vocab", "batch"):
        p.add_argument(f"--{name}", type=count(1, 10_000_000))
    p.add_argument("--tokens", type=positive_float, help="token budget (LLMs): adds time_to_train_s")
    p.add_argument("--epochs", type=positive_float, help="epochs (ResNet, BERT): adds time_to_train_s")


def _plan_args(p) -> None:
    p.add_argument("--tp", type=count(1, 4096), default=1)
    p.add_argument("--pp", type=count(1, 4096), default=1)
    p.add_argument("--dp", type=count(1, 1_000_000), help="default: devices / (tp x pp)")
    p.add_argument("--microbatch", type=count(1, 1_000_000))
    p.add_argument("--zero", type=count(0, 3), default=0)
    p.add_argument("--no-recompute", action="store_true", help="same as --recompute none")
    p.add_argument("--recompute", choices=["full", "selective", "none"],
                   help="activation recomputation (default full; selective re-runs only attention's softmax part)")
    p.add_argument("--sequence-parallel", action="store_true", help="split what TP leaves replicated over the sequence")
    p.add_argument("--virtual-stages", type=count(1, 1024), default=1, help="model chunks per pipeline stage (interleaved 1F1B)")
    p.add_argument("--wafer-mode", choices=["auto", "pipelined", "weight-streaming"], default="auto")


def _model_from(args):
    fields = {k: getattr(args, k) for k in ("layers", "hidden", "heads", "seq", "vocab", "batch")
              if getattr(args, k) is not None}
    if args.model == "gpt":
        missing = [k for k in ("layers", "hidden", "heads", "seq", "vocab", "batch") if k not in fields]
        if missing:
            raise SpecError("--model", "gpt", ",".join(missing), "--model gpt needs --" + " --".join(missing))
        return load_model({"id": "gpt", "name": "GPT (Megatron-LM family)", **fields,
                           "source": "Megatron-LM GPT family, FLOPs and parameters from its GEMM shapes (Narayanan et al. 2021, equations 2-3)"})
    if fields:
        return load_model({"base": args.model, **fields})
    return load_model(args.model)


def _progress(args):
    if getattr(args, "quiet", False):
        return None
    t0 = time.perf_counter()
    return lambda msg: print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)


def cmd_collective(args):
    spec, fab = fabric_from_args(args)
    n = args.ranks or fab.n_chips
    if n > fab.n_chips:
        raise SpecError("--ranks", "ranks", n, f"at most the {fab.n_chips} devices of {spec.id} at this size")
    if n < 2:
        raise SpecError("--ranks", "ranks", n, f"at least 2 devices ({spec.id} at this size has {fab.n_chips})")
    ranks = [fab.device_node(d) for d in range(n)]
    out = run_collective(fab, args.op, args.algo, ranks, args.bytes, protocol=args.protocol,
                         chunk_bytes=args.chunk_bytes, dt_s=args.dt)
    out["dt_s"] = args.dt
    out["arch"] = spec.id
    return out


def cmd_train(args):
    spec = load_architecture(args.arch)
    model = _model_from(args)
    if args.no_recompute and args.recompute not in (None, "none"):
        raise SpecError("--recompute", "recompute", args.recompute, "none with --no-recompute (or drop one)")
    recompute = "none" if args.no_recompute else (args.recompute or "full")
    plan = Plan(tp=args.tp, pp=args.pp, dp=args.dp, microbatch=args.microbatch, zero=args.zero, recompute=recompute,
                sequence_parallel=args.sequence_parallel, virtual_stages=args.virtual_stages, wafer_mode=args.wafer_mode)
    # the fabric every projection uses (one tile a chip, a wafer's 16 x 16 regions), as
    # `compare`, sweeps and the app build it: routes between chips do not depend on the
    # mesh drawn inside them, and a 4,096-GPU cluster drawn at 4x8 cores a GPU is 491 k
    # links no projection crosses
    fab = fabric_for(spec, **size_from_args(args), source="command line")
    res = Resolution(chunk_bytes=args.chunk_bytes, dt_s=args.dt)
    out = estimate(spec, model, plan, fabric=fab, tokens=args.tokens, epochs=args.epochs, progress=_progress(args),
                   resolution=res)
    out["chunk_bytes"] = args.chunk_bytes  # None: each simulated message in CHUNKS_PER_MESSAGE chunks
    out["chunks_per_message"] = None if args.chunk_bytes else CHUNKS_PER_MESSAGE
    out["dt_s"] = args.dt
    return out


def cmd_compare(args):
    model = _model_from(args)
    power = args.power_kw * 1e3 if args.power_kw else None
    return compare(model, power_W=power, tokens=args.tokens, epochs=args.epochs, progress=_progress(args))


def cmd_scaling(args):
    try:
        chips = [int(c) for c in args.chips.split(",") if c.strip()]
    except ValueError:
        raise SpecError("--chips", "chips", args.chips, "comma-separated whole numbers") from None
    if not chips or min(chips) < 1:
        raise SpecError("--chips", "chips", args.chips, "chip counts >= 1")
    return scaling(args.arch, _model_from(args), chips, progress=_progress(args))
