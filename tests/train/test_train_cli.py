"""``aip train / sample / evaluate`` end to end on tiny models registered by the tests."""

import json

import numpy as np
import pytest
import torch
from tiny_models import TinyAE  # noqa: F401  (defines the models the registry finds by name)

from aip.cli.main import main
from aip.io import read_image


def _train(tmp_path, *extra, name="run"):
    out = tmp_path / name
    code = main(["train", "tiny_test_ae", "--data", "digits8", "--out", str(out), "--batch-size", "32",
                 "--lr", "1e-2", "--seed", "1", "--quiet", *extra])
    return code, out


def test_train_sample_evaluate_end_to_end(tmp_path, capsys):
    code, out = _train(tmp_path, "--steps", "6", "--hidden", "8", "--num-classes", "10", "--json")
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["step"] == 6 and np.isfinite(res["loss"])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == {"model": "tiny_test_ae", "in_channels": 1, "image_size": 8, "num_classes": 10,
                            "hidden": 8, "noise": 0.1}  # channels and size came from the data
    assert cfg["train"]["steps"] == 6 and cfg["train"]["data"] == "digits8"
    assert (out / "samples" / "step_00000006.png").is_file()

    grid = tmp_path / "grid.png"
    assert main(["sample", str(out), "-n", "20", "-o", str(grid), "--label", "3", "--seed", "2"]) == 0
    img = read_image(grid)
    assert img.shape == (2 + 4 * 10, 2 + 5 * 10)  # 20 images of 8x8, 5 per row, 2 px padding
    # same seed, same grid; --force needed to overwrite
    assert main(["sample", str(out), "-n", "20", "-o", str(grid), "--label", "3", "--seed", "2"]) == 2
    assert "already exists" in capsys.readouterr().err
    grid2 = tmp_path / "grid2.png"
    assert main(["sample", str(out), "-n", "20", "-o", str(grid2), "--label", "3", "--seed", "2"]) == 0
    assert np.array_equal(read_image(grid2), img)
    assert main(["sample", str(out), "-n", "4", "-o", str(tmp_path / "g3.png"), "--label", "12"]) == 2
    assert "--label" in capsys.readouterr().err

    capsys.readouterr()
    assert main(["evaluate", str(out), "-n", "60", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["features"] == "lenet_digits8" and ev["n"] == 60
    assert ev["fid"] > ev["fid_floor"] >= 0  # 6 steps of a tiny AE are far from the data
    assert 1 <= ev["classifier_score"] <= 10 and 0 <= ev["class_accuracy"] <= 1
    assert ev["classifier_score_real"] > 5  # real test digits: confident and balanced
    assert ev["bits_per_dim"] == pytest.approx(ev["nll_nats"] / (64 * np.log(2)))


def test_resume_from_the_cli_continues_exactly(tmp_path, capsys):
    code, a = _train(tmp_path, "--steps", "8", name="a")
    assert code == 0
    code, b = _train(tmp_path, "--steps", "4", name="b")
    assert code == 0
    assert main(["train", "--out", str(b), "--resume", "--steps", "8", "--quiet"]) == 0
    from safetensors.torch import load_file
    wa = load_file(str(a / "checkpoints" / "step_00000008" / "model.safetensors"))
    wb = load_file(str(b / "checkpoints" / "step_00000008" / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    # training again into a finished run needs --resume
    assert _train(tmp_path, "--steps", "2", name="a")[0] == 2
    assert "--resume" in capsys.readouterr().err


def test_stop_at_is_one_chunk_of_the_same_run(tmp_path):
    """--stop-at keeps --steps' schedule (cosine here), so a chunked run equals the uninterrupted one."""
    from safetensors.torch import load_file

    code, a = _train(tmp_path, "--steps", "8", "--lr-schedule", "cosine", "--warmup", "2", name="whole")
    assert code == 0
    code, b = _train(tmp_path, "--steps", "8", "--lr-schedule", "cosine", "--warmup", "2", "--stop-at", "5",
                     name="chunked")
    assert code == 0 and (b / "checkpoints" / "step_00000005").is_dir()
    assert not (b / "checkpoints" / "step_00000008").exists()
    assert main(["train", "--out", str(b), "--resume", "--quiet"]) == 0
    wa = load_file(str(a / "checkpoints" / "step_00000008" / "model.safetensors"))
    wb = load_file(str(b / "checkpoints" / "step_00000008" / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("argv,match", [
    (["train", "no_such_model", "--data", "digits8", "--steps", "2"], "model: expected one of"),
    (["train", "tiny_test_ae", "--data", "digits8", "--steps", "2", "--bogus", "1"], "unknown key 'bogus'"),
    (["train", "tiny_test_ae", "--data", "digits8", "--steps", "-3"], "--steps"),
    (["train", "tiny_test_ae", "--data", "digits8", "--steps", "2", "--hidden", "many"], "hidden: expected an integer"),
    (["train", "tiny_test_ae", "--data", "digits8", "--steps", "2", "--hidden"], "expected a value"),
    (["train", "tiny_test_ae", "--data", "nowhere_set", "--steps", "2"], "built-in dataset"),
    (["train", "tiny_test_ae", "--data", "digits8"], "--steps/--epochs"),
    (["train", "tiny_test_ae", "--data", "digits8", "--steps", "2", "--stop-at", "0"], "--stop-at"),
])
def test_bad_train_commands_give_one_line_errors(tmp_path, capsys, argv, match):
    assert main([*argv, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aip: error:") and match in err and "\n" not in err
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_extra_train_config_keys_reach_the_train_config(tmp_path):
    out = tmp_path / "k"
    assert main(["train", "tiny_test_ae", "--data", "digits8", "--out", str(out), "--steps", "2", "--quiet",
                 "--ema-warmup", "false", "--keep-checkpoints", "3", "--sample-kwargs", '{"extra": 1}',
                 "--hidden", "4"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["ema_warmup"] is False and cfg["train"]["keep_checkpoints"] == 3
    assert cfg["train"]["sample_kwargs"] == {"extra": 1} and cfg["model"]["hidden"] == 4
    bad = ["train", "tiny_test_ae", "--data", "digits8", "--out", str(tmp_path / "j"), "--steps", "2", "--quiet"]
    assert main([*bad, "--sample-kwargs", "{steps"]) == 2


def test_resume_accepts_the_first_command_repeated_and_names_a_change(tmp_path, capsys):
    first = ["--steps", "4", "--hidden", "8", "--set", "num_classes=10"]
    code, out = _train(tmp_path, *first, name="r")
    assert code == 0
    capsys.readouterr()
    # the same command with --resume appended (a longer --steps may change) continues the run
    assert _train(tmp_path, "--steps", "6", "--hidden", "8", "--set", "num_classes=10", "--resume", name="r")[0] == 0
    assert json.loads((out / "config.json").read_text())["train"]["steps"] == 6
    assert (out / "checkpoints" / "step_00000006").is_dir()
    capsys.readouterr()
    for extra, flag in ((["--hidden", "16"], "--hidden was 8"), (["--lr", "1e-3"], "--lr was 0.01"),
                        (["--data", "digits"], "--data was 'digits8'")):
        args = ["train", "tiny_test_ae", "--out", str(out), "--resume", "--quiet", *extra]
        if extra[0] != "--data":
            args[2:2] = ["--data", "digits8"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert flag in err and "a resumed run keeps its settings" in err and len(err.splitlines()) == 1, err
