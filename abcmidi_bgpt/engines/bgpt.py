"""The bGPT engine: ABC -> MIDI and MIDI -> ABC with a trained model, every output checked.

What happens to each input:
1. it is brought to the form the model was trained on: an ABC tune is normalised through
   MusicXML (``formats.abc.normalise``), a MIDI file is read as is (it must parse and hold notes);
   an input that leaves no room in the model's context for an output is refused;
2. the model writes the target file (``generate.py``: batched, cached, greedy unless sampling is
   asked for);
3. the output is checked: an output that hit the context before its end is *truncated*; the
   file must be valid (``validate.py``: MIDI that mido reads with notes, ABC that music21 reads
   with notes, and abc2midi where installed); its notes are scored against the symbolic
   converter (ABC -> MIDI: against its rendering of the input; MIDI -> ABC: the output, rendered,
   against the input MIDI), and with ``min_f1`` an output scoring lower is refused too.

A refused output is never written: the input fails with a one-line reason, or, with
``fallback="symbolic"``, the symbolic converter's result is returned instead with a warning and
``EngineOutput.fallback`` saying why.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from abcmidi_bgpt.bgpt.model_folder import resolve_checkpoint
from abcmidi_bgpt.core.direction import KIND_NAMES, Direction
from abcmidi_bgpt.core.errors import ConversionError, ModelError, first_line, reason_of
from abcmidi_bgpt.engines.base import EngineInput, EngineOutput, SymbolicEngine, SymbolicOptions
from abcmidi_bgpt.formats.abc.text import AbcTune

if TYPE_CHECKING:  # the registry imports this module for the class: it stays light to import
    import numpy as np

    from abcmidi_bgpt.checks.validate import Validity

FALLBACKS = ("none", "symbolic")


@dataclass(slots=True)
class _Work:
    """An input on its way through the model."""

    index: int
    item: EngineInput
    direction: Direction
    source: bytes  # the file the model reads
    prompt: np.ndarray
    reference: EngineOutput | None = None  # ABC -> MIDI: the symbolic rendering of the input
    reference_error: str = ""


@dataclass(frozen=True, slots=True)
class BgptOptions:
    """Settings of the bGPT engine: the model, what happens to a refused output, the
    symbolic converter's settings for the checks and fallback, the device and the sampling."""

    checkpoint: str | None = None  # a model or run folder; None: the packaged model
    fallback: str = "none"  # or "symbolic": write the symbolic result for a refused output
    min_f1: float = 0.0  # refuse outputs under this note F1 against the symbolic converter
    chords: bool = True  # as the corpus renders its MIDI
    track: int | None = None
    channel: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 32
    temperature: float | None = None  # greedy decoding unless one of these four is set
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    max_patches: int | None = None  # context to generate within (default: the model's)


class BgptEngine:
    """Conversion with a bGPT checkpoint (see the module notes)."""

    Options = BgptOptions
    name = "bgpt"
    summary = "a trained bGPT model (a checkpoint, or the packaged one), every output checked"
    directions = frozenset(Direction)
    batched = True
    needs_model = True
    programs: tuple[str, ...] = ()

    def __init__(self, options: BgptOptions = BgptOptions()):
        o = options
        if o.fallback not in FALLBACKS:
            raise ConversionError(f"unknown fallback {o.fallback!r} (use {' or '.join(FALLBACKS)})")
        from abcmidi_bgpt.bgpt.generate import Sampling

        try:
            self.sampling = Sampling.of(o.temperature, o.top_k, o.top_p, o.seed)
        except ModelError as err:
            raise ConversionError(err.reason) from None
        try:
            self.path = resolve_checkpoint(o.checkpoint)
        except ModelError as err:
            raise ConversionError(str(err)) from None
        self.model = _load(self.path, o.device, o.dtype)
        self.fallback = o.fallback
        self.min_f1 = o.min_f1
        self.chords = o.chords
        self.batch_size = max(1, o.batch_size)
        self.max_patches = o.max_patches
        # The corpus renders its MIDI with chord symbols played; the references and the
        # fallback use the same settings.
        self.symbolic = SymbolicEngine(
            SymbolicOptions(chords=o.chords, track=o.track, channel=o.channel)
        )

    # --- one input at a time (the Engine protocol) ---

    def abc_to_midi(self, tune: AbcTune) -> EngineOutput:
        return self._single(EngineInput(tune=tune, source=tune.label))

    def midi_to_abc(self, data: bytes, source: str = "") -> EngineOutput:
        return self._single(EngineInput(midi=data, source=source))

    def _single(self, item: EngineInput) -> EngineOutput:
        ((_, out),) = list(self.convert_many([item]))
        if isinstance(out, Exception):
            raise out
        return out

    # --- many inputs together ---

    def convert_many(
        self, inputs: Sequence[EngineInput], timeout: float | None = None
    ) -> Iterator[tuple[int, EngineOutput | Exception]]:
        """Convert every input, generating up to ``batch_size`` outputs at a time; yields
        (input index, output or error) as each finishes. ``timeout`` bounds the preparation
        and the checks of each input (generation is bounded by the context).

        Best effort: this runs in the calling process (the model is loaded here), and the time
        limit is :func:`~abcmidi_bgpt.core.io.time_limit`'s SIGALRM exception, which abc2xml's
        bare ``except:`` clauses can swallow and C code does not see; nothing here depends on
        it for correctness, and no memory limit applies. The symbolic and abc2midi engines
        run in worker processes killed at the deadline (:mod:`abcmidi_bgpt.core.isolation`)."""
        from abcmidi_bgpt.bgpt.generate import iter_generate
        from abcmidi_bgpt.core.io import time_limit

        refused: deque[tuple[int, EngineOutput | Exception]] = deque()
        started: list[_Work] = []

        def prompts() -> Iterator[np.ndarray]:
            for i, item in enumerate(inputs):
                try:
                    with time_limit(timeout, item.label):
                        work = self._prepare(i, item)
                except ConversionError as err:
                    refused.append((i, self._refuse(item, reason_of(err), None)))
                    continue
                except Exception as err:  # an engine bug fails this input, not the batch
                    refused.append((i, err))
                    continue
                started.append(work)
                yield work.prompt

        generations = iter_generate(
            self.model, prompts(), self.sampling, self.batch_size, self.max_patches
        )
        for k, generation in generations:
            while refused:
                yield refused.popleft()
            work = started[k]
            try:
                with time_limit(timeout, work.item.label):
                    result = self._check(work, generation)
            except ConversionError as err:
                result = self._refuse(work.item, reason_of(err), work)
            except Exception as err:
                result = err
            yield work.index, result
        while refused:
            yield refused.popleft()

    def generate_files(
        self, sources: Sequence[bytes], direction: Direction
    ) -> Iterator[tuple[int, object]]:
        """The model's own output for each source file as it is (no preparation, no checks),
        as ``generate.Generation``s in the order they finish: for comparisons on corpus files,
        which are in the model's form already."""
        from abcmidi_bgpt.bgpt.generate import conversion_prompt, iter_generate

        direction = Direction(direction)
        layout = self.model.config.layout
        prompts = (
            conversion_prompt(s, direction.source, direction.target, layout) for s in sources
        )
        return iter_generate(self.model, prompts, self.sampling, self.batch_size, self.max_patches)

    def _prepare(self, index: int, item: EngineInput) -> _Work:
        from abcmidi_bgpt.bgpt.generate import conversion_prompt, patch_limit

        layout = self.model.config.layout
        if item.tune is not None:
            direction = Direction.ABC_TO_MIDI
            try:
                reference = self.symbolic.abc_to_midi(item.tune)
                error = ""
            except ConversionError as err:
                reference, error = None, str(err)
            try:
                from abcmidi_bgpt.formats.abc.normalise import normalise_abc

                source = normalise_abc(item.tune, keep_chords=self.chords).encode("utf-8")
            except ConversionError as err:
                reason = f"cannot normalise the tune through MusicXML: {err.reason}"
                raise ConversionError(reason, item.label) from None
            prompt = conversion_prompt(source, "abc", "mid", layout)
        else:
            direction, reference, error = Direction.MIDI_TO_ABC, None, ""
            from abcmidi_bgpt.checks.validate import validate_midi

            valid = validate_midi(item.midi)
            if not valid:
                raise ConversionError(f"not a usable MIDI file: {valid.message}")
            source = item.midi
            prompt = conversion_prompt(source, "mid", "abc", layout)
        n_patches = len(prompt) // layout.patch_size
        limit = patch_limit(self.model, self.max_patches)
        if n_patches >= limit:
            raise ConversionError(
                f"input too long for the model: {len(source)} bytes take {n_patches} patches "
                f"of a context of {limit}"
            )
        return _Work(index, item, direction, source, prompt, reference, error)

    def _check(self, work: _Work, generation) -> EngineOutput | Exception:
        """The generated file, if it passes the checks; else the refusal (or fallback)."""
        if generation.truncated:
            reason = (
                f"output reached the model's context ({generation.patches} patches) before its "
                "end: truncated"
            )
            return self._refuse(work.item, reason, work)
        valid, f1 = self._score(work, generation.data)
        if not valid:
            return self._refuse(
                work.item,
                f"output is not valid {KIND_NAMES[work.direction.target]}: {valid.message}",
                work,
            )
        if self.min_f1 and (f1 is None or f1 < self.min_f1):
            shown = "unknown" if f1 is None else f"{f1:.3f}"
            reason = (
                f"output's note F1 against the symbolic converter is {shown}, under {self.min_f1:g}"
            )
            return self._refuse(work.item, reason, work)
        return EngineOutput(generation.data, [], note_f1=f1)

    def _score(self, work: _Work, data: bytes) -> tuple[Validity, float | None]:
        from abcmidi_bgpt.checks.validate import abc_fidelity, midi_fidelity, validate_midi

        if work.direction == Direction.ABC_TO_MIDI:
            if work.reference is None:
                return validate_midi(data), None
            fidelity = midi_fidelity(data, work.reference.data)
        else:
            fidelity = abc_fidelity(data, work.source, chords=self.chords)
        f1 = fidelity.notes.onset.f1 if fidelity.notes is not None else None
        return fidelity.valid, f1

    def _refuse(
        self, item: EngineInput, reason: str, work: _Work | None
    ) -> EngineOutput | ConversionError:
        """No neural output for ``item``: the error, or the symbolic result with fallback."""
        label = item.label
        if self.fallback != "symbolic":
            return ConversionError(f"bgpt {reason}; not written", label)
        try:
            if work is not None and work.reference is not None:
                out = work.reference
            elif item.tune is not None:
                out = self.symbolic.abc_to_midi(item.tune)
            else:
                out = self.symbolic.midi_to_abc(item.midi, source=label)
        except ConversionError as err:
            return ConversionError(
                f"bgpt {reason}; the symbolic fallback failed: {err.reason}", label
            )
        warning = f"bgpt {reason}; wrote the symbolic converter's result"
        return EngineOutput(out.data, [warning, *out.warnings], fallback=reason)


def _load(path: Path, device: str, dtype: str):
    """The model in eval mode, weights in the generation dtype (bf16 on CUDA by default)."""
    import torch

    from abcmidi_bgpt.bgpt.checkpoint import ModelFileError, load_model
    from abcmidi_bgpt.bgpt.device import resolve_device, resolve_dtype

    try:
        dev = resolve_device(device)
        weights = resolve_dtype(dtype, dev)
        return load_model(path, dev, None if weights == torch.float32 else weights)
    except ModelFileError as err:  # names the file
        raise ConversionError(f"cannot load the bGPT model: {err}") from None
    except ModelError as err:
        raise ConversionError(f"cannot load the bGPT model: {err.reason}", str(path)) from None
    except (OSError, RuntimeError) as err:
        raise ConversionError(f"cannot load the bGPT model: {first_line(err)}", str(path)) from None
