"""Every bad input answered in one line (the table of benchmarks/robustness.py, run in-process), and the CLI's
one voice: one-line usage errors, hyphenated flags with underscore aliases, -o/--out, bad knobs named."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from aip.cli.main import main

_BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "robustness.py"
_spec = importlib.util.spec_from_file_location("aip_robustness_cases", _BENCH)
robustness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(robustness)


def _one_line(code, err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("aip: error: "), (code, err)
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", list(robustness.COMMANDS))
def test_robustness_table_one_line_and_no_leftovers(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for case in robustness.CASES:
        folder = tmp_path / case
        folder.mkdir()
        inputs = robustness.make_inputs(folder)
        argv = robustness.case_argv(command, case, inputs, folder)
        if argv is None:
            continue
        before = set(os.listdir(folder))
        code = main(argv)
        _, err = capsys.readouterr()
        _one_line(code, err)
        assert set(os.listdir(folder)) == before, (case, sorted(set(os.listdir(folder)) - before))
        if case == "existing-output":
            assert (folder / f"out{robustness.COMMANDS[command][3]}").read_bytes() == b"keep me"


def test_usage_errors_are_one_line(capsys):
    line = _one_line(main(["denoise", "camera", "-o", "x.png", "--method", "nope"]), capsys.readouterr()[1])
    assert "--method" in line and "'nope'" in line and "nlm" in line
    line = _one_line(main(["upscale", "camera"]), capsys.readouterr()[1])
    assert "-o/--out" in line or "--out" in line
    _one_line(main(["nosuchcommand"]), capsys.readouterr()[1])


def test_out_flag_spellings_and_underscore_aliases(tmp_path, capsys):
    for i, flag in enumerate(("-o", "--out", "--output")):
        assert main(["degrade", "camera", flag, str(tmp_path / f"d{i}.png"), "--noise", "gaussian:10"]) == 0
    assert all((tmp_path / f"d{i}.png").is_file() for i in range(3))
    capsys.readouterr()
    # --max_pixels is --max-pixels
    line = _one_line(main(["degrade", str(tmp_path / "d0.png"), "-o", str(tmp_path / "m.png"), "--max_pixels", "1k"]),
                     capsys.readouterr()[1])
    assert "at most 0.001 megapixels" in line
    from aip.cli.common import kebab_flags

    assert kebab_flags(["--batch_size", "8", "--set", "patch_size=7", "--sample_kwargs={\"a_b\": 1}", "x_y.png"]) == [
        "--batch-size", "8", "--set", "patch_size=7", "--sample-kwargs={\"a_b\": 1}", "x_y.png"]


def test_bad_knobs_and_levels_are_named_before_any_work(tmp_path, capsys):
    out = tmp_path / "o.png"
    line = _one_line(main(["denoise", "camera", "-o", str(out), "--set", "bogus=1"]), capsys.readouterr()[1])
    assert line.startswith("aip: error: --set bogus: expected a knob of the denoise method 'nlm' (h, patch_size")
    line = _one_line(main(["denoise", "camera", "-o", str(out), "--method", "gaussian", "--device", "cpu"]),
                     capsys.readouterr()[1])
    assert line.startswith("aip: error: --device:")
    line = _one_line(main(["denoise", "camera", "-o", str(out), "--sigma", "1e30"]), capsys.readouterr()[1])
    assert "(0, 255]" in line
    line = _one_line(main(["upscale", "camera", "-o", str(out), "--scale", "17"]), capsys.readouterr()[1])
    assert "--scale: expected an integer in [2, 16], got 17" in line
    assert not out.exists()


def test_train_help_lists_the_models_keys(capsys):
    assert main(["train", "ffdnet", "--help"]) == 0
    text = capsys.readouterr().out
    assert "ffdnet options" in text and "--sigma-range" in text and "--depth                    [15]" in text


def test_evaluate_a_shipped_restorer_and_a_shipped_name_error(capsys):
    line = _one_line(main(["evaluate", "shipped:nope"]), capsys.readouterr()[1])
    assert "shipped model: expected one of" in line


def test_learned_methods_through_the_cli(tmp_path, capsys):
    from aip.io import read_image, write_image

    rng = np.random.default_rng(0)
    clean = np.clip(0.5 + 0.2 * np.sin(np.arange(64)[:, None] / 5.0) * np.cos(np.arange(64)[None] / 7.0), 0, 1)
    noisy = write_image(tmp_path / "n.png", np.clip(clean + 25 / 255 * rng.standard_normal(clean.shape), 0, 1))
    ref = write_image(tmp_path / "c.png", clean)
    assert main(["denoise", str(noisy), "-o", str(tmp_path / "d.png"), "--method", "ffdnet", "--sigma", "25",
                 "--reference", str(ref), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "ffdnet" and res["psnr"] > 30.0  # noisy input: about 20.4 dB
    assert read_image(tmp_path / "d.png").shape == (64, 64)


def test_one_knob_syntax_across_subcommands(tmp_path, capsys):
    """``--set KEY=VALUE`` sets a restore method's knob and a model's config alike (``--key value`` is the
    train shorthand, giving the same config)."""
    import argparse

    from aip.cli.generate import parse_key_values, train_config_from_args

    assert parse_key_values(["--set", "features=8", "--depth", "3", "--set", "sigma-range=[0,50]"]) == {
        "features": "8", "depth": "3", "sigma_range": "[0,50]"}
    with pytest.raises(ValueError, match="--set: expected KEY=VALUE"):
        parse_key_values(["--set", "features"])
    from aip.cli.generate import _TRAIN_FLAGS

    base = {**dict.fromkeys(_TRAIN_FLAGS), "model": "dncnn", "data": "patches", "bf16": False, "steps": 1}
    a = train_config_from_args(argparse.Namespace(**base, extra=["--set", "features=8", "--set", "crop=24"]))
    b = train_config_from_args(argparse.Namespace(**base, extra=["--features", "8", "--crop", "24"]))
    assert a == b and a[1] == {"features": "8"} and a[0].crop == 24
    assert main(["denoise", "camera", "-o", str(tmp_path / "k.png"), "--method", "nlm", "--set", "patch_size=5"]) == 0
