"""Generating the target file of a conversion with a bGPT model: the fast decoder and the
reference decoder, which give the same bytes.

A conversion prompt is ``[ext(src)][src bytes][ext(tgt)]`` (``patches.py``); the model then
writes the target's bytes patch by patch until it emits the special id (256): the first 256 ends
the file, as in the official inference (a file that fills its last patch ends with the first id
of the next patch, i.e. the end patch). A sequence that reaches the context without ending is
*truncated*: its bytes are returned with ``truncated=True``, never passed off as a whole file.

- :func:`generate_reference` follows the official ``inference.py`` step by step, one file at a
  time: for every new patch it re-runs the patch-level decoder over the whole sequence, and for
  every byte it re-runs the byte-level decoder over the patch so far and copies the byte's
  distribution to the CPU. Kept for tests and benchmarks.
- :func:`iter_generate` / :func:`generate` keep the keys and values of the patch-level decoder
  across patches and of the byte-level decoder within a patch (``model.KVCache``), so a new
  patch costs one patch-level step and a new byte one byte-level step. Many files are generated
  together: each of ``batch_size`` slots holds one file, a file that ends gives its slot to the
  next prompt (its prompt read in one forward), and the slots left over at the end are dropped
  from the batch. Bytes stay on the device within a patch; the host reads each patch once.

Greedy decoding is the default (a converter is deterministic). Sampling (temperature, top-k,
top-p) draws its noise from a generator per file, seeded by ``seed`` and the prompt's bytes, so
a file gets the same output whatever else is in its batch, and both decoders draw the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from abcmidi_bgpt.bgpt.model import BGPT, BGPTConfig, KVCache, to_device
from abcmidi_bgpt.bgpt.patches import SPECIAL, PatchLayout, encode_file, extension_patch, pad_batch
from abcmidi_bgpt.core.errors import ModelError


@dataclass(frozen=True, slots=True)
class Sampling:
    """How a byte is chosen from its distribution: greedy (the default) when ``temperature``
    is 0; otherwise sampled at ``temperature`` from the ``top_k`` most likely ids (0: all)
    within the smallest set of probability >= ``top_p`` (1: all)."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0 or self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ModelError(f"bad sampling settings: {self}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @classmethod
    def of(
        cls,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Sampling:
        """From command-line options: greedy unless a temperature, top-k or top-p is given;
        top-k or top-p alone sample at temperature 1."""
        if temperature is None:
            temperature = 1.0 if (top_k or (top_p is not None and top_p < 1)) else 0.0
        return cls(temperature, top_k or 0, 1.0 if top_p is None else top_p, seed or 0)


GREEDY = Sampling()


@dataclass(frozen=True, slots=True)
class Generation:
    """The target file a model wrote: its bytes, and whether it hit the context first."""

    data: bytes
    truncated: bool
    patches: int  # patches of the whole sequence when generation stopped, prompt included


def conversion_prompt(
    source: bytes, source_ext: str, target_ext: str, layout: PatchLayout
) -> np.ndarray:
    """``[ext(src)][src bytes][ext(tgt)]``: what the model continues with the target."""
    return np.concatenate(
        [encode_file(source, source_ext, layout), extension_patch(target_ext, layout)]
    )


def patch_limit(model: BGPT, max_patches: int | None = None) -> int:
    """Patches a sequence may take: the model's context, or less when asked."""
    context = model.config.max_patches
    return context if not max_patches else min(max_patches, context)


# --- choosing bytes ---


class _Noise:
    """Gumbel noise for sampling one file, drawn a patch at a time (16 x 257 values) from a
    generator seeded by the sampling seed and the prompt: the same for both decoders and for
    any batch the file is in."""

    def __init__(self, seed: int, prompt: np.ndarray, patch_size: int, vocab: int):
        digest = hashlib.blake2b(np.asarray(prompt, dtype=np.int16).tobytes(), digest_size=8)
        key = int.from_bytes(digest.digest(), "little")
        self.rng = np.random.default_rng([seed, key])
        self.shape = (patch_size, vocab)

    def patch(self) -> np.ndarray:
        u = self.rng.random(self.shape)
        with np.errstate(divide="ignore"):
            return (-np.log(-np.log(u))).astype(np.float32)  # u = 0 gives -inf: never chosen


def _noise_for(sampling: Sampling, prompt: np.ndarray, cfg: BGPTConfig) -> _Noise | None:
    """The sampling noise of the file ``prompt`` starts; None when decoding is greedy."""
    if sampling.greedy:
        return None
    return _Noise(sampling.seed, prompt, cfg.patch_size, cfg.vocab_size)


def choose(logits: torch.Tensor, sampling: Sampling, noise: torch.Tensor | None) -> torch.Tensor:
    """The chosen id of each row of ``logits`` ``(N, V)``: the most likely, or a sample by the
    Gumbel-max trick with ``noise`` ``(N, V)`` after temperature, top-k and top-p."""
    if sampling.greedy:
        return logits.argmax(-1)
    z = logits.float() / sampling.temperature
    if sampling.top_k:
        kth = z.topk(min(sampling.top_k, z.shape[-1]), dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    if sampling.top_p < 1:
        sorted_z, order = z.sort(dim=-1, descending=True)
        probs = sorted_z.softmax(-1)
        # Drop an id once the more likely ones already reach top_p (the first always stays).
        drop = probs.cumsum(-1) - probs >= sampling.top_p
        z = z.scatter(-1, order, sorted_z.masked_fill(drop, float("-inf")))
    return (z + noise).argmax(-1)


def _end_of(patch: np.ndarray) -> int | None:
    ends = np.flatnonzero(patch == SPECIAL)
    return int(ends[0]) if ends.size else None


# --- the reference decoder: the official algorithm, step by step ---


@torch.no_grad()
def generate_reference(
    model: BGPT, prompt: np.ndarray, sampling: Sampling = GREEDY, max_patches: int | None = None
) -> Generation:
    """One file, as the official ``inference.py`` makes it: every patch re-runs the patch-level
    decoder over the whole sequence; every byte re-runs the byte-level decoder over the patch so
    far and is chosen on the CPU. Slow; the fast path must give the same bytes."""
    cfg = model.config
    S, limit = cfg.patch_size, patch_limit(model, max_patches)
    device = next(model.parameters()).device
    byte_decoder = model.byte_decoder
    noise = _noise_for(sampling, prompt, cfg)
    ids = [int(i) for i in prompt]
    start = len(ids)
    while len(ids) // S < limit:
        patches = torch.tensor(ids, device=device).view(1, -1, S)
        feature = model.patch_decoder(patches)[0, -1]  # predicts the next patch
        patch_noise = None if noise is None else torch.from_numpy(noise.patch())
        tokens: list[int] = []
        for j in range(S):
            seen = byte_decoder.wte(torch.tensor(tokens, dtype=torch.long, device=device))
            x = torch.cat([feature[None], seen])[None]  # (1, j + 1, C)
            h = byte_decoder.transformer(x)[0, -1]
            logits = F.linear(h.float(), byte_decoder.wte.weight.float()).cpu()[None]
            g = None if patch_noise is None else patch_noise[j : j + 1]
            tokens.append(int(choose(logits, sampling, g)))
            if tokens[-1] == SPECIAL:
                break
        if tokens[-1] == SPECIAL:
            data = bytes(ids[start:] + tokens[:-1])
            return Generation(data, False, len(ids) // S + 1)
        ids.extend(tokens)
    return Generation(bytes(ids[start:]), True, len(ids) // S)


# --- the fast decoder: KV caches, many files at once ---


class _Slot:
    """A file being generated: which prompt, the patches so far, its sampling noise."""

    def __init__(self, index: int, prompt: np.ndarray, noise: _Noise | None):
        self.index = index
        self.prompt: np.ndarray | None = prompt  # until it is read into the cache
        self.n_patches = 0  # of the sequence, prompt included (set when it is read)
        self.noise = noise
        self.out: list[np.ndarray] = []

    def result(self, truncated: bool) -> Generation:
        data = np.concatenate(self.out).astype(np.uint8).tobytes() if self.out else b""
        return Generation(data, truncated, self.n_patches)


class _Decoder:
    """The state of one batched run: slots, the patch-level cache, the current features."""

    def __init__(self, model: BGPT, width: int, limit: int, sampling: Sampling):
        self.model = model
        self.cfg = cfg = model.config
        self.sampling = sampling
        self.limit = limit
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.cache = KVCache(cfg, cfg.n_patch_layer, width, limit, self.device, self.dtype)
        self.features = torch.zeros(width, cfg.n_embd, device=self.device, dtype=self.dtype)
        self.slots: list[_Slot | None] = [None] * width
        self.head = model.byte_decoder.wte.weight.float()  # fp32 head, as in the model
        self._byte_cache: KVCache | None = None

    def prefill(self, free: list[int], slots: list[_Slot]) -> None:
        """Read the prompts of new slots in one forward and put the slots in ``free``."""
        layout = self.cfg.layout
        prompts = [slot.prompt for slot in slots]
        ids, n = pad_batch(prompts, layout)
        patches = to_device(torch.from_numpy(ids), self.device).view(
            len(prompts), -1, layout.patch_size
        )
        fresh = KVCache(
            self.cfg, self.cfg.n_patch_layer, len(prompts), self.limit, self.device, self.dtype
        )
        decoder = self.model.patch_decoder
        h = decoder.transformer(decoder.patch_embedding(patches), fresh)  # padding after each
        fresh.lengths = torch.from_numpy(n)  # the padding's keys are never seen, then overwritten
        last = to_device(torch.from_numpy(n - 1), self.device)
        rows = torch.tensor(free)
        self.cache.load(rows, fresh)
        self.features[to_device(rows, self.device)] = h[
            torch.arange(len(prompts), device=self.device), last
        ]
        for i, slot, n_patches in zip(free, slots, n, strict=True):
            slot.prompt, slot.n_patches = None, int(n_patches)
            self.slots[i] = slot

    def byte_patch(self) -> torch.Tensor:
        """The next patch of every slot ``(B, S)``, byte by byte on the byte-level cache."""
        cfg, B = self.cfg, len(self.slots)
        if self._byte_cache is None or self._byte_cache.batch != B:
            self._byte_cache = KVCache(
                cfg, cfg.n_byte_layer, B, cfg.patch_size, self.device, self.dtype
            )
        cache = self._byte_cache
        cache.lengths.zero_()
        noise = self._noise()
        decoder = self.model.byte_decoder
        x = self.features[:, None, :]
        out = []
        for j in range(cfg.patch_size):
            h = decoder.transformer(x, cache)[:, -1]
            byte = choose(
                F.linear(h.float(), self.head),
                self.sampling,
                None if noise is None else noise[:, j],
            )
            out.append(byte)
            x = decoder.wte(byte)[:, None, :]
        return torch.stack(out, dim=1)

    def _noise(self) -> torch.Tensor | None:
        if self.sampling.greedy:
            return None
        shape = (self.cfg.patch_size, self.cfg.vocab_size)
        rows = [s.noise.patch() if s else np.zeros(shape, np.float32) for s in self.slots]
        return to_device(torch.from_numpy(np.stack(rows)), self.device)

    def patch_step(self, patch: torch.Tensor) -> None:
        """Read the patches just written into the patch-level cache; new features."""
        decoder = self.model.patch_decoder
        h = decoder.transformer(decoder.patch_embedding(patch[:, None, :]), self.cache)
        self.features = h[:, -1]

    def keep(self, rows: list[int]) -> None:
        index = torch.tensor(rows, dtype=torch.long)
        self.cache.keep(index)
        self.features = self.features[to_device(index, self.device)]
        self.slots = [self.slots[i] for i in rows]


@torch.no_grad()
def iter_generate(
    model: BGPT,
    prompts: Iterable[np.ndarray],
    sampling: Sampling = GREEDY,
    batch_size: int = 32,
    max_patches: int | None = None,
) -> Iterator[tuple[int, Generation]]:
    """Generate the target of every prompt; yields ``(prompt index, Generation)`` as each file
    ends, up to ``batch_size`` files at a time. ``prompts`` is read lazily, a prompt whenever a
    slot is free. The model runs in its own dtype and device (load it in bf16 for bf16
    generation); put it in eval mode."""
    cfg = model.config
    S, limit = cfg.patch_size, patch_limit(model, max_patches)
    source = enumerate(prompts)
    ready: list[tuple[int, Generation]] = []  # prompts with no room for any output

    def take(k: int) -> list[_Slot]:
        slots: list[_Slot] = []
        while len(slots) < k and (item := next(source, None)) is not None:
            i, prompt = item
            prompt = np.asarray(prompt)
            if len(prompt) % S:
                raise ModelError(f"prompt {i} is not a whole number of patches")
            if len(prompt) // S >= limit:
                ready.append((i, Generation(b"", True, len(prompt) // S)))
            else:
                slots.append(_Slot(i, prompt, _noise_for(sampling, prompt, cfg)))
        return slots

    first = take(batch_size)
    yield from ready
    ready.clear()
    if not first:
        return
    decoder = _Decoder(model, len(first), limit, sampling)
    decoder.prefill(list(range(len(first))), first)
    while True:
        patch = decoder.byte_patch()
        written = patch.cpu().numpy()  # the one host read of the patch
        for row, slot in enumerate(decoder.slots):
            if slot is None:
                continue
            end = _end_of(written[row])
            slot.n_patches += 1
            slot.out.append(written[row][:end])
            if end is not None or slot.n_patches >= limit:
                decoder.slots[row] = None
                yield slot.index, slot.result(truncated=end is None)
        free = [row for row, slot in enumerate(decoder.slots) if slot is None]
        new = take(len(free))
        yield from ready
        ready.clear()
        if len(new) < len(free):  # the prompts ran out: drop the slots nobody will take
            refill = set(free[: len(new)])
            kept = [row for row, slot in enumerate(decoder.slots) if slot or row in refill]
            if not kept:
                return
            patch = patch[to_device(torch.tensor(kept), patch.device)]
            decoder.keep(kept)
            free = [row for row, slot in enumerate(decoder.slots) if slot is None]
        if free:  # their keys are replaced by the new prompts'; run them on a blank patch
            decoder.cache.lengths[free] = 0
            patch[to_device(torch.tensor(free), patch.device)] = SPECIAL
        if len(free) < len(decoder.slots):
            decoder.patch_step(patch)
        if new:
            decoder.prefill(free, new)


def generate(
    model: BGPT,
    prompts: Sequence[np.ndarray],
    sampling: Sampling = GREEDY,
    batch_size: int = 32,
    max_patches: int | None = None,
) -> list[Generation]:
    """:func:`iter_generate`, collected in the order of ``prompts``."""
    results: list[Generation | None] = [None] * len(prompts)
    for i, generation in iter_generate(model, prompts, sampling, batch_size, max_patches):
        results[i] = generation
    return results  # type: ignore[return-value]
