"""bGPT (Wu et al. 2024, "Beyond Language Models: Byte Models are Digital World Simulators").

A byte sequence is cut into patches of 16 ids (0-255 bytes, 256 the special id; see
``patches.py``). Two GPT-2-style causal transformers:

- the patch-level decoder reads the patches (each one embedded as a linear map of its one-hot
  16 x 257 form) and produces one feature per patch; the feature of patch p is what the model
  knows before patch p + 1;
- the byte-level decoder, run once per patch, gets the feature of patch p - 1 and then the bytes
  of patch p already seen, and predicts patch p byte by byte. Its head is tied to its byte
  embedding.

How logits line up with bytes: for a sequence ``ids`` of P patches, ``forward`` returns for
every target patch p = 1 .. P - 1 the logits ``(16, 257)`` where row j predicts
``ids[16 * p + j]`` from ``ids[: 16 * p + j]`` only. Patch 0 (the source file's extension patch)
is never predicted. Flattened, logits row ``t - 16`` predicts byte ``t``.

Generation uses the two halves directly: ``patch_decoder(patches)[:, -1]`` is the feature that
predicts the next patch, and row j of ``byte_decoder(feature, patch)`` is the distribution of
byte j given the bytes before it (bytes j.. of ``patch`` are not read), so a patch is sampled
byte by byte. For generation, both transformers also run on a :class:`KVCache`: the keys and
values of the positions already seen are kept, so each new patch (or byte) costs one step.

The module names follow GPT-2 (``h``, ``ln_1``, ``attn.c_attn``, ``mlp.c_fc``, ``wte``, ``wpe``),
so the official checkpoints map onto this model by renaming (``official.py``). Only nn.Linear is
used, so GPT-2's Conv1D weights are transposed on import.

Why one module of over 400 lines: as in nanoGPT's model.py, the whole model reads top to bottom
in one file (attention, blocks, the patch and byte decoders, the cache used in generation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from abcmidi_bgpt.bgpt.patches import VOCAB, PatchLayout


@dataclass(frozen=True)
class BGPTConfig:
    patch_size: int = 16
    max_patches: int = 512  # context: 512 x 16 = 8 KB in the paper
    n_embd: int = 768
    n_head: int = 12
    n_patch_layer: int = 12
    n_byte_layer: int = 3
    dropout: float = 0.1  # GPT-2's default, which the official code keeps
    layer_norm_eps: float = 1e-5
    vocab_size: int = VOCAB  # 256 byte values + the special id

    @property
    def layout(self) -> PatchLayout:
        return PatchLayout(self.patch_size, self.max_patches)


CONFIGS: dict[str, BGPTConfig] = {
    # The paper's model: about 110 M parameters.
    "paper": BGPTConfig(),
    # About 27.7 M parameters: bf16 weights of about 55 MB.
    "small": BGPTConfig(n_embd=512, n_head=8, n_patch_layer=6, n_byte_layer=2),
    # For CPU tests: 2 KB context, about 1.2 M parameters. The byte decoder dominates the
    # compute (16 positions per patch), hence a single byte layer.
    "tiny": BGPTConfig(
        max_patches=128, n_embd=128, n_head=4, n_patch_layer=2, n_byte_layer=1, dropout=0.0
    ),
}


class CausalSelfAttention(nn.Module):
    def __init__(self, config: BGPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # q, k, v for all heads
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        if cache is None:
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
            )  # (B, nh, T, hs)
        else:  # generation: the new keys join the cached ones, which the queries also see
            k, v, mask = cache.update(k, v)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=cache.causal)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: BGPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: BGPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """GPT-2 without its token embedding: learned positions, causal blocks, final LayerNorm."""

    def __init__(self, config: BGPTConfig, n_layer: int, n_positions: int):
        super().__init__()
        self.wpe = nn.Embedding(n_positions, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T, C) -> (B, T, C). With ``cache``, ``x`` holds the next T positions of each row
        (row b continues at ``cache.lengths[b]``), and the cache takes their keys and values."""
        if cache is None:
            pos = torch.arange(x.shape[1], device=x.device)
            x = self.drop(x + self.wpe(pos))
            for block in self.h:
                x = block(x)
            return self.ln_f(x)
        x = self.drop(x + self.wpe(cache.start(x.shape[1])))
        for i, block in enumerate(self.h):
            x = block(x, cache.layer(i))
        cache.advance()
        return self.ln_f(x)


class PatchEmbedding(nn.Module):
    """The paper's patch embedding: a linear map of the one-hot patch, flattened to
    ``patch_size * 257`` values, to the hidden size.

    One-hot times a matrix picks one row per byte, so this is computed as the sum of the 16
    rows ``j * 257 + id_j`` of ``weight`` plus ``bias``, without the 4,112-wide one-hot tensor.
    ``weight`` is the transpose of the equivalent nn.Linear's weight.
    """

    def __init__(self, config: BGPTConfig):
        super().__init__()
        self.patch_size = config.patch_size
        self.vocab_size = config.vocab_size
        self.weight = nn.Parameter(
            torch.empty(config.patch_size * config.vocab_size, config.n_embd)
        )
        self.bias = nn.Parameter(torch.zeros(config.n_embd))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:  # (B, P, S) -> (B, P, C)
        B, P, S = patches.shape
        offsets = torch.arange(S, device=patches.device) * self.vocab_size
        rows = (patches + offsets).view(B * P, S)
        return F.embedding_bag(rows, self.weight, mode="sum").view(B, P, -1) + self.bias


class PatchDecoder(nn.Module):
    def __init__(self, config: BGPTConfig):
        super().__init__()
        self.patch_embedding = PatchEmbedding(config)
        self.transformer = Transformer(config, config.n_patch_layer, config.max_patches)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:  # (B, P, S) -> (B, P, C)
        return self.transformer(self.patch_embedding(patches))


class ByteDecoder(nn.Module):
    def __init__(self, config: BGPTConfig):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.transformer = Transformer(config, config.n_byte_layer, config.patch_size)

    def forward(self, features: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, S, V)`` for ``patches`` ``(N, S)``, each given its preceding patch's
        feature ``(N, C)``: row j sees the feature and bytes ``0 .. j - 1`` of its patch."""
        x = torch.cat([features[:, None, :], self.wte(patches[:, :-1])], dim=1)  # (N, S, C)
        x = self.transformer(x)
        # Head tied to the byte embedding, in fp32 even under autocast: near-certain bytes
        # cost ~0.001 bit, below bf16's resolution of logits (about 1 % of the compute).
        with torch.autocast(x.device.type, enabled=False):
            return F.linear(x.float(), self.wte.weight.float())  # (N, S, V)


class BGPT(nn.Module):
    def __init__(self, config: BGPTConfig):
        super().__init__()
        self.config = config
        self.patch_decoder = PatchDecoder(config)
        self.byte_decoder = ByteDecoder(config)
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled down by the depth of their stack.
        for stack in (self.patch_decoder.transformer, self.byte_decoder.transformer):
            std = 0.02 / math.sqrt(2 * len(stack.h))
            for name, p in stack.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, PatchEmbedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            nn.init.zeros_(module.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, ids: torch.Tensor, n_patches: torch.Tensor, keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and targets for the real patches of a padded batch.

        ``ids`` ``(B, P * S)``: sequences padded with the special id to P patches;
        ``n_patches`` ``(B,)``: real patches of each (end patch included). The targets are
        patches 1 .. n - 1 of each sequence, in order, so padding never enters the loss.
        ``keep`` (optional) indexes the targets the byte decoder runs on (the official
        PATCH_SAMPLING_BATCH_SIZE). Returns logits ``(N, S, V)`` and targets ``(N, S)``.

        The rows are chosen where ``n_patches`` and ``keep`` live: pass them on the CPU (the
        trainer does) and a GPU never waits for the host to learn N.
        """
        B = ids.shape[0]
        S = self.config.patch_size
        patches = ids.view(B, -1, S)  # (B, P, S)
        features = self.patch_decoder(patches)  # (B, P, C)
        p = torch.arange(1, patches.shape[1], device=n_patches.device)
        rows = (p[None, :] < n_patches[:, None]).flatten().nonzero().squeeze(1)  # (N,)
        if keep is not None:
            rows = rows[keep.to(rows.device)]
        rows = to_device(rows, ids.device)
        features = features[:, :-1].flatten(0, 1)[rows]  # (N, C): feature of patch p - 1 ...
        targets = patches[:, 1:].flatten(0, 1)[rows]  # (N, S): ... predicts patch p
        return self.byte_decoder(features, targets), targets

    def configure_optimizer(
        self,
        learning_rate: float,
        weight_decay: float,
        betas: tuple[float, float],
        device_type: str,
    ) -> torch.optim.AdamW:
        """AdamW with weight decay on matrices and embeddings only, fused on CUDA."""
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(
            groups, lr=learning_rate, betas=betas, fused=device_type == "cuda" or None
        )

    def flops_per_batch(self, padded_patches: int, patch_len: int, target_patches: int) -> float:
        """Training FLOPs (forward + backward) of one micro-batch, as in the PaLM paper
        (appendix B) and nanoGPT: 6 per matmul weight per position plus the attention matmuls.

        ``padded_patches`` positions (B x P) go through the patch decoder with sequences of
        ``patch_len``; ``target_patches`` x 16 positions go through the byte decoder. The patch
        embedding is a lookup here (no matmul) and is not counted.
        """
        cfg = self.config
        C, S = cfg.n_embd, cfg.patch_size
        block_params = 12 * C * C  # matmul weights per layer: attention 4 C^2, MLP 8 C^2
        patch = 6 * cfg.n_patch_layer * block_params + 12 * cfg.n_patch_layer * C * patch_len
        head = 2 * C * cfg.vocab_size  # tied head: a matmul per position
        byte = 6 * cfg.n_byte_layer * block_params + 12 * cfg.n_byte_layer * C * S + 3 * head
        return padded_patches * patch + target_patches * S * byte

    def estimate_mfu(self, flops: float, seconds: float, peak_flops: float) -> float:
        """Model FLOPs utilisation: achieved FLOP/s over the device's peak."""
        return flops / seconds / peak_flops


class KVCache:
    """Keys and values of every layer of one transformer, for generation.

    ``B`` rows of up to ``capacity`` positions each; row b holds ``lengths[b]`` positions (rows
    may differ: files of different lengths generated together). A forward with the cache writes
    the keys and values of its T new positions at ``lengths[b] ..`` of each row, lets every new
    query see its row's positions up to its own, then moves the lengths on. The lengths live on
    the host, so the cache never waits on the device to know its shapes.
    """

    def __init__(
        self,
        config: BGPTConfig,
        n_layer: int,
        batch: int,
        capacity: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        hs = config.n_embd // config.n_head
        shape = (n_layer, batch, config.n_head, capacity, hs)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.lengths = torch.zeros(batch, dtype=torch.long)  # on the host
        self.capacity = capacity
        self._step: _CacheStep | None = None

    @property
    def batch(self) -> int:
        return self.keys.shape[1]

    def start(self, T: int) -> torch.Tensor:
        """Set up a forward of T new positions per row; returns their positions ``(B, T)``."""
        device = self.keys.device
        if int(self.lengths.max()) + T > self.capacity:
            raise ValueError(f"KV cache full: {self.capacity} positions")
        first = int(self.lengths[0])
        uniform = bool((self.lengths == first).all())
        stop = int(self.lengths.max()) + T  # keys the queries may see, padded rows included
        if uniform:
            positions = torch.arange(first, first + T, device=device).expand(self.batch, T)
            # One new position sees every cached key; a block from 0 is plain causal attention.
            mask, causal, index = None, T > 1 and first == 0, None
            if T > 1 and first > 0:
                mask = _visible(positions, stop)
        else:
            positions = to_device(self.lengths[:, None] + torch.arange(T), device)
            mask, causal = _visible(positions, stop), False
            shape = (self.batch, self.keys.shape[2], T, self.keys.shape[4])
            index = positions[:, None, :, None].expand(shape)
        self._step = _CacheStep(self, T, first if uniform else None, stop, index, mask, causal)
        return positions

    def layer(self, i: int) -> LayerCache:
        assert self._step is not None, "start() the cache before a forward"
        return LayerCache(self._step, i)

    def advance(self) -> None:
        assert self._step is not None
        self.lengths += self._step.T
        self._step = None

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (host indices), in that order."""
        device_rows = to_device(rows, self.keys.device)
        self.keys = self.keys.index_select(1, device_rows)
        self.values = self.values.index_select(1, device_rows)
        self.lengths = self.lengths[rows]

    def load(self, rows: torch.Tensor, other: KVCache) -> None:
        """Put the rows of ``other`` (same layers and capacity) into ``rows`` of this cache."""
        device_rows = to_device(rows, self.keys.device)
        self.keys.index_copy_(1, device_rows, other.keys)
        self.values.index_copy_(1, device_rows, other.values)
        self.lengths[rows] = other.lengths


class _CacheStep:
    """What every layer of one cached forward shares: where to write and what to see."""

    def __init__(self, cache, T, first, stop, index, mask, causal):
        self.cache, self.T, self.first, self.stop = cache, T, first, stop
        self.index, self.mask, self.causal = index, mask, causal


class LayerCache:
    """One layer's view of a cached forward (see :class:`KVCache`)."""

    def __init__(self, step: _CacheStep, layer: int):
        self.step = step
        self.layer = layer

    @property
    def causal(self) -> bool:
        return self.step.causal

    def update(
        self, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Store the new keys and values ``(B, nh, T, hs)``; return all the keys and values the
        queries may see ``(B, nh, stop, hs)`` and the mask that says which (None: all)."""
        s = self.step
        keys, values = s.cache.keys[self.layer], s.cache.values[self.layer]
        if s.first is not None:
            keys[:, :, s.first : s.first + s.T] = k
            values[:, :, s.first : s.first + s.T] = v
        else:
            keys.scatter_(2, s.index, k)
            values.scatter_(2, s.index, v)
        return keys[:, :, : s.stop], values[:, :, : s.stop], s.mask


def _visible(positions: torch.Tensor, stop: int) -> torch.Tensor:
    """(B, 1, T, stop) boolean: query t of row b sees keys 0 .. positions[b, t]."""
    keys = torch.arange(stop, device=positions.device)
    return (keys[None, None, :] <= positions[:, :, None])[:, None]


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor copied to the GPU without blocking the host (from pinned memory: a copy
    from pageable memory waits for the GPU to finish its queue first)."""
    if tensor.device == device:
        return tensor
    if tensor.device.type == "cpu" and device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


# Dense bf16 peak FLOP/s of accelerators, from the vendors' data sheets (SXM parts).
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12}


def peak_flops_of(device_name: str) -> float | None:
    """Peak bf16 FLOP/s of a CUDA device by its name, or None when unknown."""
    for key, value in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return value
    return None
