"""Generation: the cached, batched decoder against the reference decoder (the official algorithm
step by step) on a tiny model trained on real tunes; truncation; sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from abcmidi_bgpt.bgpt.checkpoint import load_model
from abcmidi_bgpt.bgpt.generate import (
    GREEDY,
    Sampling,
    choose,
    conversion_prompt,
    generate,
    generate_reference,
    iter_generate,
)
from abcmidi_bgpt.bgpt.model import KVCache
from abcmidi_bgpt.bgpt.patches import SPECIAL
from abcmidi_bgpt.core.direction import Direction
from tests.support.models import (
    TRAINED_TUNES,
    pairs,
    randomised,
    trained_model,
    untrained_model,
)


def prompts_and_targets(direction: str) -> tuple[list[np.ndarray], list[bytes]]:
    source_ext, target_ext = Direction(direction).source, Direction(direction).target
    layout = load_model(trained_model()).config.layout
    files = [{"abc": abc, "mid": midi} for abc, midi in pairs()]
    prompts = [conversion_prompt(f[source_ext], source_ext, target_ext, layout) for f in files]
    return prompts, [f[target_ext] for f in files]


def test_kv_cache_fed_in_pieces_gives_the_full_forward_for_ragged_rows():
    model = randomised()
    transformer = model.patch_decoder.transformer
    x = torch.randn(2, 12, model.config.n_embd)
    with torch.no_grad():
        full = transformer(x)
        cache = KVCache(model.config, model.config.n_patch_layer, 2, 16)
        first = transformer(x[:, :5], cache)  # both rows: positions 0-4 in one causal block
        cache.lengths[1] = 3  # row 1 forgets 3-4 (as a padded prompt would) and goes on
        steps = [
            transformer(torch.stack([x[0, 5 + t], x[1, 3 + t]])[:, None], cache) for t in range(7)
        ]
    torch.testing.assert_close(first[0], full[0, :5])
    row0 = torch.cat([s[0] for s in steps])  # positions 5..11 of row 0
    row1 = torch.cat([s[1] for s in steps])  # positions 3..9 of row 1
    torch.testing.assert_close(row0, full[0, 5:12], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(row1, full[1, 3:10], rtol=1e-5, atol=1e-5)
    assert cache.lengths.tolist() == [12, 10]


@pytest.mark.parametrize("direction", ["abc2mid", "mid2abc"])
def test_cached_greedy_output_is_the_reference_decoders_byte_for_byte(direction):
    model = load_model(trained_model())
    prompts, targets = prompts_and_targets(direction)
    chosen = [0, 1, TRAINED_TUNES, TRAINED_TUNES + 2]  # two learnt tunes, two unseen ones
    reference = [generate_reference(model, prompts[i]) for i in chosen]
    fast = generate(model, [prompts[i] for i in chosen], batch_size=1)
    assert fast == reference
    assert not any(g.truncated for g in fast)
    # The learnt tunes come out whole and stop at their end; the unseen ones do not.
    assert [g.data for g in fast[:2]] == [targets[0], targets[1]]
    assert fast[2].data != targets[TRAINED_TUNES] and fast[3].data != targets[TRAINED_TUNES + 2]


def test_batched_output_is_the_one_at_a_time_output():
    model = load_model(trained_model())
    abc2mid, _ = prompts_and_targets("abc2mid")
    mid2abc, _ = prompts_and_targets("mid2abc")
    prompts = abc2mid + mid2abc  # 12 files of different lengths, both directions
    one_at_a_time = [generate(model, [p], batch_size=1)[0] for p in prompts]
    assert generate(model, prompts, batch_size=len(prompts)) == one_at_a_time
    # Four slots: files end at different patches, their slots take the next prompts.
    assert generate(model, prompts, batch_size=4) == one_at_a_time
    finished = [i for i, _ in iter_generate(model, prompts, batch_size=4)]
    assert sorted(finished) == list(range(len(prompts))) and finished != sorted(finished)


def test_an_output_that_reaches_the_context_is_reported_truncated():
    model = load_model(trained_model())
    prompts, targets = prompts_and_targets("abc2mid")
    prompt, target = prompts[0], targets[0]
    limit = len(prompt) // 16 + 3  # room for three patches of a longer file
    assert len(target) > 48
    fast = generate(model, [prompt], max_patches=limit)[0]
    assert fast.truncated and fast.patches == limit
    assert fast.data == target[:48]  # what was written so far, and no more
    assert generate_reference(model, prompt, max_patches=limit) == fast
    # A prompt that fills the context leaves no room at all.
    full = generate(model, [prompt], max_patches=len(prompt) // 16)[0]
    assert full.truncated and full.data == b""
    # The same file with room enough is whole.
    whole = generate(model, [prompt], max_patches=len(prompt) // 16 + len(target) // 16 + 2)[0]
    assert not whole.truncated and whole.data == target


def test_sampling_is_seeded_per_file_and_the_same_in_both_decoders():
    model = load_model(untrained_model())  # near-uniform: samples differ from greedy
    prompts, _ = prompts_and_targets("abc2mid")
    prompts = prompts[:3]
    limit = max(len(p) for p in prompts) // 16 + 3
    sampling = Sampling(temperature=1.0, top_k=100, top_p=0.95, seed=1)
    fast = generate(model, prompts, sampling, batch_size=2, max_patches=limit)
    reference = [generate_reference(model, p, sampling, max_patches=limit) for p in prompts]
    assert fast == reference
    # A file's sample does not depend on the rest of its batch ...
    assert generate(model, prompts[1:2], sampling, max_patches=limit) == fast[1:2]
    # ... but on the seed, and it is not the greedy output.
    other = generate(model, prompts, Sampling(1.0, 100, 0.95, seed=2), max_patches=limit)
    assert [g.data for g in other] != [g.data for g in fast]
    assert [g.data for g in generate(model, prompts, max_patches=limit)] != [g.data for g in fast]


def test_top_k_of_one_samples_the_greedy_bytes():
    model = load_model(trained_model())
    prompts, _ = prompts_and_targets("mid2abc")
    assert Sampling.of() == GREEDY and Sampling.of(top_k=1).temperature == 1.0
    assert generate(model, prompts[:2], Sampling.of(top_k=1, seed=5)) == generate(
        model, prompts[:2]
    )


def test_choose_keeps_only_the_top_k_and_the_top_p():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    # Noise that favours the less likely ids: the least likely id still allowed wins.
    favour_last = torch.tensor([[0.0, 10.0, 20.0, 30.0, 40.0]])
    assert choose(logits, GREEDY, None).tolist() == [0]
    assert choose(logits, Sampling(1.0), favour_last).tolist() == [4]
    assert choose(logits, Sampling(1.0, top_k=2), favour_last).tolist() == [1]
    # p(0) = 0.64, p(1) = 0.24: top_p 0.7 keeps ids 0 and 1; 0.5 only id 0.
    assert choose(logits, Sampling(1.0, top_p=0.7), favour_last).tolist() == [1]
    assert choose(logits, Sampling(1.0, top_p=0.5), favour_last).tolist() == [0]
    # A low temperature sharpens the distribution: id 0 wins against the same noise.
    assert choose(logits, Sampling(0.05), favour_last).tolist() == [0]
    with pytest.raises(ValueError):
        Sampling(temperature=-1)


def test_prompts_must_be_whole_patches():
    model = load_model(untrained_model())
    with pytest.raises(ValueError, match="whole number of patches"):
        generate(model, [np.full(20, SPECIAL, dtype=np.int16)])
