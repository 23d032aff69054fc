"""bGPT commands of the CLI: ``train``, ``evaluate``, ``import-official``.

Registered in ``cli.py``. Torch and the training code are imported inside the commands, so
that ``abcmidi-bgpt convert`` starts without them.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from abcmidi_bgpt.cli.options import DirectionChoice, Precision, console, print_error
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ModelError


class LossOn(enum.StrEnum):
    both = "both"
    target = "target"


class ModelName(enum.StrEnum):
    paper = "paper"
    small = "small"
    tiny = "tiny"


def train_command(
    ctx: typer.Context,
    corpus: Annotated[
        Path | None, typer.Option(help="A built corpus folder (corpus.json and its dataset).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder: log.csv, tensorboard/, last/, best/.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="A TOML or YAML file of these settings (names with _); the options given "
            "on the command line override it."
        ),
    ] = None,
    model: Annotated[ModelName, typer.Option(help="Named model config.")] = ModelName.small,
    arch: Annotated[
        str, typer.Option(help='Overrides of the named config, e.g. "n_embd=256,n_patch_layer=4".')
    ] = "",
    init: Annotated[
        Path | None, typer.Option(help="Start from a saved model (e.g. import-official's).")
    ] = None,
    direction: Annotated[
        DirectionChoice,
        typer.Option(help="abc2mid, mid2abc, or both (two sequences per pair)."),
    ] = DirectionChoice.abc2mid,
    train_split: Annotated[
        str, typer.Option(help="Training split: train, train-1e3, train-1e4, train-1e5.")
    ] = "train",
    val_split: Annotated[str, typer.Option(help="Validation split.")] = "validation",
    val_pairs: Annotated[int, typer.Option(help="Validation pairs used (0: all).")] = 0,
    epochs: Annotated[float, typer.Option(help="Epochs, when --max-steps is 0.")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Optimizer steps (0: from --epochs).")] = 0,
    batch_patches: Annotated[
        int, typer.Option(help="Patches per micro-batch, padding included.")
    ] = 4096,
    grad_accum: Annotated[int, typer.Option(min=1, help="Micro-batches per step.")] = 1,
    sample_patches: Annotated[
        int, typer.Option(help="Byte decoder on N random patches per micro-batch (0: all).")
    ] = 0,
    loss_on: Annotated[
        LossOn, typer.Option(help="Loss on both files (as the paper) or on the target only.")
    ] = LossOn.both,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-4,
    min_lr: Annotated[float, typer.Option(help="Learning rate at the end of the cosine.")] = 0.0,
    warmup: Annotated[float, typer.Option(help="Share of the steps spent warming up.")] = 0.1,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 0.01,
    grad_clip: Annotated[float, typer.Option(help="Gradient norm clip (0: none).")] = 1.0,
    dropout: Annotated[float | None, typer.Option(help="Override the config's dropout.")] = None,
    eval_every: Annotated[int, typer.Option(min=1, help="Evaluate every N steps.")] = 500,
    log_every: Annotated[int, typer.Option(min=1, help="Log every N steps.")] = 10,
    save_every: Annotated[
        int, typer.Option(min=0, help="Also save OUT/last every N steps (0: at evaluations).")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of initialisation, order and dropout.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
    dtype: Annotated[Precision, typer.Option(help="Autocast: auto is bf16 on CUDA.")] = (
        Precision.auto
    ),
    compile: Annotated[bool, typer.Option(help="torch.compile the two decoders.")] = False,
    pad_multiple: Annotated[
        int, typer.Option(min=1, help="Round padded lengths up to N patches (for --compile).")
    ] = 1,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out exactly.")] = False,
    stop_after: Annotated[
        int, typer.Option(help="Stop after this step (schedule unchanged); resume later.")
    ] = 0,
) -> None:
    """Train bGPT on a corpus: AdamW, warm-up + cosine schedule, length-bucketed batches.

    Keeps the best model by validation loss in OUT/best and the full training state in
    OUT/last (resume with --resume). For several GPUs run the same options through
    ``torchrun --nproc_per_node=N -m abcmidi_bgpt.bgpt.train``.
    """
    from safetensors import SafetensorError

    from abcmidi_bgpt.bgpt.train import TrainConfig, read_config_file, train

    def value(v):
        return v.value if isinstance(v, enum.Enum) else str(v) if isinstance(v, Path) else v

    # By name: typer ships its own copy of click, whose ParameterSource is not click's.
    given = {
        name: value(v)
        for name, v in ctx.params.items()
        if name != "config" and ctx.get_parameter_source(name).name != "DEFAULT"
    }
    try:
        settings = {**(read_config_file(config) if config else {}), **given}
        for needed in ("corpus", "out"):
            if not settings.get(needed):
                raise ModelError(f"--{needed} is needed (on the command line or in --config)")
    except ModelError as e:
        print_error(e)
        raise typer.Exit(2) from None
    cfg = TrainConfig(**settings)
    try:
        result = train(cfg)
    except (ModelError, OSError) as e:
        print_error(e)
        raise typer.Exit(1) from None
    except SafetensorError as e:  # --init or --resume weights that are no safetensors file
        print_error(f"{cfg.init or cfg.out}: unreadable weights: {e}")
        raise typer.Exit(1) from None
    console.print(
        f"{result.steps} steps; best validation loss {result.best_val_loss:.5f} "
        f"(model in {result.out / 'best'})"
    )
    if result.last_val:
        console.print(scores_table_from_row(result.last_val, "Last validation"))


def scores_table_from_row(row: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("direction")
    table.add_column("BPB_abc", justify="right")
    table.add_column("BPB_midi", justify="right")
    for d in Direction:
        if f"val_{d}_bpb_abc" in row:
            table.add_row(d, f"{row[f'val_{d}_bpb_abc']:.5f}", f"{row[f'val_{d}_bpb_midi']:.5f}")
    return table


def evaluate_command(
    checkpoint: Annotated[
        Path,
        typer.Argument(help="A model folder (config.json), or a training run folder (its best/)."),
    ],
    corpus: Annotated[Path, typer.Option(help="A built corpus folder.")],
    split: Annotated[str, typer.Option(help="Split to score.")] = "test",
    direction: Annotated[DirectionChoice, typer.Option(help="Directions to score.")] = (
        DirectionChoice.both
    ),
    limit: Annotated[int, typer.Option(help="Score the first N pairs (0: all).")] = 0,
    batch_patches: Annotated[int, typer.Option(help="Patches per batch.")] = 4096,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
    dtype: Annotated[Precision, typer.Option(help="Autocast: auto is bf16 on CUDA.")] = (
        Precision.auto
    ),
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores to this JSON file.")
    ] = None,
) -> None:
    """Bits per byte of a model on a corpus split: BPB_abc and BPB_midi for each direction.

    In ABC->MIDI, BPB_abc measures generative modelling and BPB_midi the conversion; the
    reverse in MIDI->ABC (docs/metrics.md says which positions count).
    """
    from abcmidi_bgpt.bgpt.evaluate import evaluate_checkpoint

    try:
        report = evaluate_checkpoint(
            checkpoint,
            corpus,
            split,
            Direction.parse_many(direction.value),
            limit,
            batch_patches,
            device,
            dtype.value,
        )
    except (ModelError, OSError) as e:
        print_error(e)
        raise typer.Exit(1) from None
    table = Table(title=f"{checkpoint} on {corpus} ({split}: {report.pairs} pairs)")
    for name in ("direction", "sequences", "BPB_abc", "BPB_midi", "loss (nats/byte)"):
        table.add_column(name, justify="left" if name == "direction" else "right")
    for d, s in report.scores.items():
        table.add_row(d, str(s.sequences), f"{s.abc.bpb:.5f}", f"{s.midi.bpb:.5f}", f"{s.loss:.5f}")
    console.print(table)
    if report.skipped:
        console.print(f"[yellow]{report.skipped} sequence(s) over the context left out[/yellow]")
    if json_out:
        json_out.write_text(json.dumps(report.as_dict(), indent=2) + "\n")


def import_official_command(
    weights: Annotated[
        Path, typer.Argument(help="Official checkpoint, e.g. weights-conversion.pth.")
    ],
    out: Annotated[Path, typer.Argument(help="Output model folder (safetensors + config.json).")],
    dtype: Annotated[Precision, typer.Option(help="Weights dtype to write (auto: fp32).")] = (
        Precision.auto
    ),
) -> None:
    """Convert an official bGPT checkpoint (github.com/sanderwood/bgpt) to this package's format.

    The file is read with torch.load(weights_only=True): tensors only, no code is unpickled.
    """
    import torch

    from abcmidi_bgpt.bgpt.official import import_official

    try:
        path, model = import_official(
            weights, out, dtype=torch.bfloat16 if dtype == Precision.bf16 else None
        )
    except ModelError as e:  # names the file
        print_error(e)
        raise typer.Exit(1) from None
    except (OSError, RuntimeError) as e:
        print_error(f"{weights}: {e}")
        raise typer.Exit(1) from None
    c = model.config
    console.print(
        f"{path}: {model.num_params() / 1e6:.1f} M parameters, hidden {c.n_embd}, "
        f"{c.n_patch_layer} patch + {c.n_byte_layer} byte layers, "
        f"{c.max_patches} patches of {c.patch_size} bytes"
    )
