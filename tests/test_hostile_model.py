"""Hostile model files: a model folder (config.json + model.safetensors) or an official bGPT
checkpoint is data from anyone. Each case is the input that exposed a problem; every one must
load or be refused with a one-line error (:class:`ModelFileError`, a ConversionError), before
anything is built or allocated from it.

:func:`fuzz_one_model_folder` is the check the fuzz test runs on each generated folder; a
long-running fuzzer can call it on bytes of its own, inside ``memory_limit``.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from typer.testing import CliRunner

from abcmidi_bgpt.bgpt.checkpoint import (
    CONFIG_FILE,
    MAX_PARAMETERS,
    WEIGHTS_FILE,
    ModelFileError,
    load_model,
    save_model,
)
from abcmidi_bgpt.bgpt.model import BGPT, BGPTConfig
from abcmidi_bgpt.bgpt.official import (
    BYTE,
    CONV1D,
    PATCH,
    convert_official,
    import_official,
    read_official,
)
from abcmidi_bgpt.cli.app import app
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.engines.bgpt import _load
from tests.support.limits import TooSlow, memory_limit, time_limit
from tests.support.paths import REPO

SMALL = BGPTConfig(
    max_patches=16, n_embd=32, n_head=2, n_patch_layer=1, n_byte_layer=1, dropout=0.0
)


def small_model(seed: int = 0) -> BGPT:
    torch.manual_seed(seed)
    return BGPT(SMALL)


def refused(load, match: str) -> str:
    """The one-line reason ``load()`` is refused with."""
    with memory_limit(), time_limit(30), pytest.raises(ModelFileError, match=match) as err:
        load()
    message = str(err.value)
    assert "\n" not in message
    return message


# --- model folders ------------------------------------------------------------------------


def model_folder(tmp_path: Path, edit=None, weights: bytes | None = None) -> Path:
    """A saved small model, its config.json edited by ``edit`` (a function of the parsed
    JSON) and its weights replaced by ``weights``."""
    folder = save_model(small_model(), tmp_path / "model")
    if edit is not None:
        config = json.loads((folder / CONFIG_FILE).read_text())
        (folder / CONFIG_FILE).write_text(json.dumps(edit(config)))
    if weights is not None:
        (folder / WEIGHTS_FILE).write_bytes(weights)
    return folder


def with_model(**fields):
    return lambda config: {**config, "model": {**config["model"], **fields}}


BAD_CONFIGS = [
    # (what, the edit of config.json, what the reason says)
    ("a list", lambda c: [c], "not a model saved by abcmidi-bgpt"),
    ("model a list", lambda c: {**c, "model": [1, 2]}, "'model' is not an object"),
    ("metadata a string", lambda c: {**c, "metadata": "x"}, "'metadata' is not an object"),
    ("size a string", with_model(n_embd="32"), "n_embd is '32', not a whole number"),
    ("size a float", with_model(n_embd=32.5), "n_embd is 32.5, not a whole number"),
    ("size a bool", with_model(n_head=True), "n_head is True, not a whole number"),
    ("no heads", with_model(n_head=0), "n_head is 0, outside 1..256"),  # ZeroDivisionError
    ("negative heads", with_model(n_head=-2), "n_head is -2, outside"),  # loaded before
    ("heads not dividing", with_model(n_head=3), r"n_embd \(32\) is not a multiple of n_head"),
    ("ten million layers", with_model(n_patch_layer=10**7), "n_patch_layer is 10000000"),
    ("dropout not a number", with_model(dropout=[0.1]), "dropout is"),
    ("dropout of 1", with_model(dropout=1.0), r"dropout is 1.0, outside \[0, 1\)"),
    ("dropout of 10^400", with_model(dropout=10**400), r"dropout is 1000+\.\.\., outside"),
    ("no epsilon", with_model(layer_norm_eps=0.0), "layer_norm_eps is 0.0, outside"),
    ("another vocabulary", with_model(vocab_size=300), "vocab_size is 300, outside 257..257"),
    ("too many parameters", with_model(n_embd=16_384, n_head=128), f"{MAX_PARAMETERS:,}"),
]


@pytest.mark.parametrize(("what", "edit", "reason"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_config_json_is_checked_before_a_model_is_built(tmp_path, what, edit, reason):
    # n_patch_layer of 10^7 built modules for minutes; sizes as strings or a list crashed
    folder = model_folder(tmp_path, edit)
    start = time.monotonic()
    message = refused(lambda: load_model(folder), reason)
    assert time.monotonic() - start < 5
    assert message.startswith(str(folder / CONFIG_FILE))


def test_config_json_that_is_no_json_is_refused(tmp_path):
    folder = model_folder(tmp_path)
    for text, reason in [
        (b"\xff\xfe{", "not JSON"),
        (b"{" * 100_000, "not JSON"),  # nested too deep for the parser
        (b" " * (1 << 20) + b"{}", "over the 1048576 byte limit"),
    ]:
        (folder / CONFIG_FILE).write_bytes(text)
        refused(lambda: load_model(folder), reason)
    (folder / CONFIG_FILE).unlink()
    refused(lambda: load_model(folder), "no such file")


def safetensors_bytes(tensors: dict[str, torch.Tensor], tmp_path: Path) -> bytes:
    path = tmp_path / "weights.tmp"
    save_file(tensors, str(path))
    return path.read_bytes()


def test_weights_are_checked_against_the_config_from_their_header(tmp_path):
    good = {k: v.contiguous() for k, v in small_model().state_dict().items()}
    data = (save_model(small_model(), tmp_path / "real") / WEIGHTS_FILE).read_bytes()
    wide = dict(good, **{"byte_decoder.wte.weight": torch.zeros(257, 64)})
    integer = dict(good, **{"byte_decoder.wte.weight": torch.zeros(257, 32, dtype=torch.int32)})
    missing = {k: v for k, v in good.items() if k != "byte_decoder.wte.weight"}
    extra = dict(good, **{"surprise": torch.zeros(1)})
    cases = [
        (b"\x00" * 100, "not a safetensors file"),  # SafetensorError escaped the engine
        (data[: len(data) // 2], "not a safetensors file"),
        (struct.pack("<Q", 1 << 62) + b"{}", "header of 4611686018427387904 bytes"),
        (b"", "not a safetensors file"),
        (safetensors_bytes(wide, tmp_path), r"wte.weight has shape \[257, 64\], not \[257, 32\]"),
        (safetensors_bytes(integer, tmp_path), "is I32, not floating point"),
        (safetensors_bytes(missing, tmp_path), "missing byte_decoder.wte.weight"),
        (safetensors_bytes(extra, tmp_path), "unexpected surprise"),
    ]
    for weights, reason in cases:
        folder = model_folder(tmp_path / str(len(reason)), weights=weights)
        message = refused(lambda folder=folder: load_model(folder), reason)
        assert message.startswith(str(folder / WEIGHTS_FILE))


def test_the_engine_gives_one_line_naming_the_file(tmp_path):
    folder = model_folder(tmp_path, with_model(n_embd="32"))
    with pytest.raises(ConversionError) as err:
        _load(folder, "cpu", "fp32")
    assert str(err.value) == (
        f"cannot load the bGPT model: {folder / CONFIG_FILE}: n_embd is '32', not a whole number"
    )


def test_a_saved_model_still_loads_to_the_same_weights(tmp_path):
    model = small_model()
    loaded = load_model(save_model(model, tmp_path / "m"))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


# --- official checkpoints ---------------------------------------------------------------------


def to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """This package's state dict in the official checkpoint's names and layouts (the inverse
    of ``convert_official``): Conv1D weights (in, out), the byte-level wpe with its unused
    17th row, the patch-level wte of one row, the tied head."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(CONV1D):
            value = value.t()
        if key == "patch_decoder.patch_embedding.weight":
            out[PATCH + "patch_embedding.weight"] = value.t()
        elif key == "patch_decoder.patch_embedding.bias":
            out[PATCH + "patch_embedding.bias"] = value
        elif key.startswith("patch_decoder.transformer."):
            out[PATCH + "base." + key.removeprefix("patch_decoder.transformer.")] = value
        elif key == "byte_decoder.wte.weight":
            out[BYTE + "transformer.wte.weight"] = out[BYTE + "lm_head.weight"] = value
        elif key == "byte_decoder.transformer.wpe.weight":
            extra = torch.zeros(1, value.shape[1], device=value.device)
            out[BYTE + "transformer.wpe.weight"] = torch.cat([value, extra])
        else:
            out[BYTE + "transformer." + key.removeprefix("byte_decoder.transformer.")] = value
    bias = state["patch_decoder.patch_embedding.bias"]
    out[PATCH + "base.wte.weight"] = torch.zeros(1, bias.shape[0], device=bias.device)
    return out


def official_file(tmp_path: Path, state: dict[str, torch.Tensor], name="official.pth") -> Path:
    path = tmp_path / name
    torch.save({"model": state, "epoch": 1}, path)
    return path


def test_an_official_checkpoint_of_the_small_model_imports_to_the_same_weights(tmp_path):
    model = small_model()
    path = official_file(tmp_path, to_official(model.state_dict()))
    config, state = convert_official(read_official(path), path)
    # not stored: dropout, and heads (the official code has one per 64 dimensions, at least one)
    assert config == replace(SMALL, dropout=0.1, n_head=1)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def expanded_official(config: BGPTConfig) -> dict[str, torch.Tensor]:
    """An official state dict of every weight a config needs, each expanded from one float:
    a few KB on disk, whatever the sizes."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in to_official(BGPT(config).state_dict()).items()}
    return {k: torch.zeros(1).expand(shape) for k, shape in shapes.items()}


def test_weights_expanded_from_one_float_are_refused_before_they_are_copied(tmp_path):
    # made contiguous, these 700 M parameters were 2.8 GB
    config = BGPTConfig(max_patches=65_536, n_embd=4096, n_head=64, n_patch_layer=1, n_byte_layer=1)
    path = official_file(tmp_path, expanded_official(config))
    assert path.stat().st_size < 64_000
    message = refused(lambda: convert_official(read_official(path), path), "stride 0")
    assert "is expanded from a smaller tensor" in message


def test_a_10_6_by_10_6_tensor_of_one_float_is_refused_by_the_config_it_implies(tmp_path):
    # 8 GB when import-official made it contiguous
    huge = torch.zeros(1).expand(10**6, 10**6)
    alone = official_file(tmp_path, {PATCH + "base.wpe.weight": huge}, "alone.pth")
    assert alone.stat().st_size < 4096  # torch.save keeps the one float and the strides
    refused(lambda: import_official(alone, tmp_path / "out"), "no patch_level_decoder")
    state = to_official(small_model().state_dict())
    state[PATCH + "base.wpe.weight"] = huge
    path = official_file(tmp_path, state)
    refused(lambda: import_official(path, tmp_path / "out"), "max_patches is 1000000, outside")
    assert not (tmp_path / "out").exists()


def with_tensor(key: str, value: torch.Tensor):
    return lambda state: {**state, key: value}


OFFICIAL_DAMAGE = [
    # (what, the edit of the state dict, what the reason says)
    (
        "a block numbered 10^7",
        with_tensor(PATCH + "base.h.9999999.ln_1.bias", torch.zeros(32)),
        "n_patch_layer is 10000000",
    ),
    (
        "a weight of 3 dimensions",
        with_tensor(PATCH + "base.h.0.mlp.c_fc.weight", torch.zeros(2, 2, 2)),
        "has 3 dimensions, not 2",
    ),
    (
        "an integer weight",
        with_tensor(PATCH + "base.ln_f.weight", torch.zeros(32, dtype=torch.int64)),
        "not floating point",
    ),
    (
        "no position embedding",
        lambda s: {k: v for k, v in s.items() if "base.wpe" not in k},
        "no patch_level_decoder.base.wpe.weight",
    ),
    (
        "an untied head",
        with_tensor(BYTE + "lm_head.weight", torch.ones(1).expand(10**6, 32)),
        "not tied",
    ),
    ("a stray key", with_tensor("optimizer.step", torch.zeros(1)), "unexpected key"),
    (
        "a stray weight of 10^12 floats",
        with_tensor(PATCH + "base.extra.weight", torch.zeros(1).expand(10**6, 10**6)),
        "unexpected patch_decoder.transformer.extra.weight",
    ),
    (
        "a block numbered 10^10",
        with_tensor(PATCH + "base.h.10000000000.ln_1.bias", torch.zeros(32)),
        "unexpected patch_decoder.transformer.h.10000000000.ln_1.bias",
    ),
    (
        "a 1-row vocabulary",
        with_tensor(BYTE + "transformer.wte.weight", torch.zeros(1, 32)),
        "byte vocabulary of 1",
    ),
]


@pytest.mark.parametrize(
    ("what", "edit", "reason"), OFFICIAL_DAMAGE, ids=[d[0] for d in OFFICIAL_DAMAGE]
)
def test_official_state_dicts_are_checked_before_conversion(tmp_path, what, edit, reason):
    path = official_file(tmp_path, edit(to_official(small_model().state_dict())))
    message = refused(lambda: convert_official(read_official(path), path), reason)
    assert message.startswith(str(path))


def test_files_that_are_no_checkpoint_are_one_line(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights\n" * 10)
    other_zip = tmp_path / "other.pth"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("hello.txt", "a zip, but no checkpoint")
    not_tensors = tmp_path / "numbers.pth"
    torch.save({"model": {"step": 3}}, not_tensors)
    refused(lambda: read_official(text), "not a PyTorch checkpoint")
    refused(lambda: read_official(other_zip), "not a readable checkpoint")
    refused(lambda: read_official(not_tensors), r"not a bGPT state dict \(tensors by name\)")
    refused(lambda: read_official(tmp_path / "absent.pth"), "no such file")


def test_import_official_on_a_file_that_is_no_checkpoint_prints_one_line(tmp_path):
    # a full traceback before
    path = tmp_path / "weights.pth"
    path.write_bytes(b"\x80\x04not a pickle at all" * 20)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "abcmidi_bgpt", "import-official", str(path), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: not a PyTorch checkpoint (torch.save writes a zip archive)"
    ]
    assert not out.exists()


def test_training_from_a_model_with_damaged_weights_is_one_line(tmp_path, tiny_corpus):  # noqa: F811
    folder = model_folder(tmp_path, weights=b"\x00" * 100)
    args = ["--corpus", str(tiny_corpus), "--out", str(tmp_path / "run"), "--init", str(folder)]
    result = CliRunner().invoke(app, ["train", *args, "--max-steps", "1", "--device", "cpu"])
    assert result.exit_code == 1
    # The weights' header is read, and refused, before any weight is.
    weights = folder / "model.safetensors"
    assert result.stderr.strip().startswith(f"error: {weights}: not a safetensors file: ")
    assert len(result.stderr.strip().splitlines()) == 1


# --- fuzzing ----------------------------------------------------------------------------------


def fuzz_one_model_folder(
    config_bytes: bytes, weights_bytes: bytes, folder: Path, time_limit_s: float = 20.0
) -> str:
    """Write a model folder and load it as the bgpt engine does. Returns "ok" or the one-line
    reason it was refused; raises AssertionError when loading raises anything else or runs
    over ``time_limit_s`` seconds. Run it inside ``memory_limit``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_bytes(config_bytes)
    (folder / WEIGHTS_FILE).write_bytes(weights_bytes)
    try:
        with time_limit(time_limit_s):
            _load(folder, "cpu", "fp32")
    except ConversionError as err:
        assert "\n" not in str(err).strip(), "a message of many lines"
        return str(err)
    except TooSlow:
        raise AssertionError(f"ran over {time_limit_s} s") from None
    except Exception as err:
        raise AssertionError(f"raised {type(err).__name__}: {err}") from err
    return "ok"


def _seed_folder() -> tuple[dict, bytes]:
    with tempfile.TemporaryDirectory(prefix="hostile-model-") as tmp:
        folder = save_model(small_model(), Path(tmp) / "seed")
        config = json.loads((folder / CONFIG_FILE).read_text())
        return config, (folder / WEIGHTS_FILE).read_bytes()


SEED_CONFIG, SEED_WEIGHTS = _seed_folder()
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 2, 3, 16, 32, 64, 257, -1, 10**7, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
FIELDS = st.sampled_from([*SEED_CONFIG["model"], "format", "model", "metadata"])


def config_bytes(edits: list[tuple[str, object]], cut: int | None) -> bytes:
    config = json.loads(json.dumps(SEED_CONFIG))
    for name, value in edits:
        if name in ("format", "model", "metadata"):
            config[name] = value
        elif isinstance(config.get("model"), dict):
            config["model"][name] = value
    text = json.dumps(config).encode()
    return text if cut is None else text[:cut]


def weights_bytes(flips: list[tuple[int, int]], cut: int | None) -> bytes:
    """The seed's weights with bytes changed, mostly in the header (its first ~10 KB), where
    a change is a new shape, type or offset rather than a new weight."""
    data = bytearray(SEED_WEIGHTS)
    for position, value in flips:
        data[position % min(len(data), 12_000)] = value
    return bytes(data if cut is None else data[:cut])


@settings(
    max_examples=1000,
    deadline=timedelta(seconds=20),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(st.tuples(FIELDS, JSON_VALUES), max_size=3),
    config_cut=st.none() | st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=4),
    weights_cut=st.none() | st.integers(0, len(SEED_WEIGHTS)),
)
def test_mutated_model_folders_load_or_are_refused_with_a_reason(
    tmp_path, edits, config_cut, flips, weights_cut
):
    with memory_limit():
        fuzz_one_model_folder(
            config_bytes(edits, config_cut),
            weights_bytes(flips, weights_cut),
            tmp_path / "fuzzed",
        )
