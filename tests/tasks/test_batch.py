"""aip.tasks.batch and the batch form of the image commands: folders and globs, resume, force, failures,
local processes and a Dask cluster all giving the same outputs."""

import csv
import json
import os
from functools import partial

import numpy as np
import pytest

from aip.cli.main import main
from aip.io import load_sample, read_image, write_image
from aip.tasks import restore_file
from aip.tasks.batch import is_batch, plan, run_batch


@pytest.fixture()
def photos(tmp_path):
    """noisy/{a,b}.png, noisy/sub/c.png, a corrupt noisy/bad.png between them, and clean/ twins."""
    rng = np.random.default_rng(0)
    for rel, name in (("a.png", "camera"), ("b.png", "astronaut"), ("sub/c.png", "coffee")):
        x = load_sample(name, size=40, gray=True) if name != "camera" else load_sample(name, size=40)
        for folder, img in (("clean", x), ("noisy", np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1))):
            (tmp_path / folder / rel).parent.mkdir(parents=True, exist_ok=True)
            write_image(tmp_path / folder / rel, img)
    (tmp_path / "noisy" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n corrupt")
    (tmp_path / "noisy" / "notes.txt").write_text("not an image")
    return tmp_path


def _rows(out):
    with open(out / "aip-batch.csv", newline="") as fh:
        return {r["rel"]: r for r in csv.DictReader(fh)}


def test_plan_keeps_relative_paths_and_skips_non_images(photos):
    assert is_batch(photos / "noisy") and is_batch(str(photos / "noisy" / "*.png"))
    assert not is_batch(photos / "noisy" / "a.png")
    items = plan(photos / "noisy", photos / "out", suffix="tif", matched={"reference": photos / "clean"})
    assert [it.rel for it in items] == ["a.png", "b.png", "bad.png", "sub/c.png"]
    assert items[3].output == str(photos / "out" / "sub" / "c.tif")
    assert items[3].matched["reference"] == str(photos / "clean" / "sub" / "c.png")
    assert "no file for bad.png" in items[2].error              # no clean twin: that image's failure
    globbed = plan(str(photos / "noisy" / "**" / "*.png"), photos / "out")
    assert [it.rel for it in globbed] == ["a.png", "b.png", "bad.png", "sub/c.png"]
    with pytest.raises(FileNotFoundError, match="no input files"):
        plan(str(photos / "noisy" / "*.jpg"), photos / "out")
    with pytest.raises(ValueError, match="--suffix: expected one of"):
        plan(photos / "noisy", photos / "out", suffix=".gif")


def test_batch_cli_reports_a_corrupt_file_and_finishes_the_rest(photos, capsys):
    out = photos / "out"
    rc = main(["denoise", str(photos / "noisy"), "-o", str(out), "--method", "gaussian", "--sigma", "25",
               "--json"])
    assert rc == 1                                   # one image failed; the others are done
    summary = json.loads(capsys.readouterr().out)
    assert (summary["done"], summary["failed"], summary["skipped"]) == (3, 1, 0)
    bad = next(r for r in summary["images"] if r["rel"] == "bad.png")
    assert bad["status"] == "failed" and "cannot read image" in bad["error"]
    for rel in ("a.png", "b.png", "sub/c.png"):      # each output equals the one-image command's
        one = restore_file("denoise", photos / "noisy" / rel, photos / "one.png", method="gaussian", sigma=25,
                           force=True)
        np.testing.assert_array_equal(read_image(out / rel), read_image(one["output"]))
    assert not (out / "bad.png").exists() and not [p for p in out.rglob(".*")]   # no half file, no temp
    assert set(_rows(out)) == {"a.png", "b.png", "bad.png", "sub/c.png"}


def test_batch_resumes_by_skipping_existing_outputs_unless_force(photos, capsys):
    out = photos / "out"
    args = ["denoise", str(photos / "noisy"), "-o", str(out), "--method", "gaussian", "--sigma", "25",
            "--reference", str(photos / "clean"), "--json"]
    main(args)
    first = json.loads(capsys.readouterr().out)
    os.remove(out / "b.png")                         # as if the batch was interrupted before b
    stamp = os.stat(out / "a.png").st_mtime_ns
    main(args)
    second = json.loads(capsys.readouterr().out)
    assert (second["done"], second["skipped"], second["failed"]) == (1, 2, 1)
    assert os.stat(out / "a.png").st_mtime_ns == stamp          # not rewritten
    rows = {r["rel"]: r for r in second["images"]}
    assert rows["b.png"]["status"] == "done" and rows["a.png"]["status"] == "skipped"
    before = {r["rel"]: r for r in first["images"]}
    assert rows["a.png"]["psnr"] == pytest.approx(before["a.png"]["psnr"])   # metrics kept from the run
    main([*args, "--force"])
    third = json.loads(capsys.readouterr().out)
    assert (third["done"], third["skipped"]) == (3, 0) and os.stat(out / "a.png").st_mtime_ns != stamp


def test_batch_errors_are_one_line(photos, capsys):
    noisy = str(photos / "noisy")
    assert main(["denoise", noisy, "-o", str(photos / "o"), "--reference", str(photos / "clean" / "a.png")]) == 2
    assert "--reference: expected a folder" in capsys.readouterr().err
    (photos / "file.png").write_bytes(b"x")
    assert main(["denoise", noisy, "-o", str(photos / "file.png")]) == 2
    assert "expected an output folder" in capsys.readouterr().err
    assert main(["denoise", noisy, "-o", str(photos / "o"), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err


@pytest.mark.parametrize("how", [{"jobs": 2}, {"scheduler": "local:2"}], ids=["jobs2", "dask"])
def test_parallel_and_cluster_batches_equal_the_serial_one(photos, how):
    fn = partial(restore_file, "denoise", method="nlm", sigma=25)
    serial = run_batch(fn, plan(photos / "noisy", photos / "s"), photos / "s", progress=False)
    other = run_batch(fn, plan(photos / "noisy", photos / "p"), photos / "p", progress=False, **how)
    assert (other["done"], other["failed"]) == (serial["done"], serial["failed"]) == (3, 1)
    for rel in ("a.png", "b.png", "sub/c.png"):
        np.testing.assert_array_equal(read_image(photos / "p" / rel), read_image(photos / "s" / rel))


def test_inpaint_batch_matches_masks_by_name(photos, capsys):
    masks = photos / "masks"
    for rel in ("a.png", "b.png", "sub/c.png"):
        m = np.zeros((40, 40))
        m[10:20, 10:20] = 1
        (masks / rel).parent.mkdir(parents=True, exist_ok=True)
        write_image(masks / rel, m)
    rc = main(["inpaint", str(photos / "clean"), "-o", str(photos / "o"), "--mask", str(masks),
               "--method", "harmonic", "--json"])
    assert rc == 0
    rows = {r["rel"]: r for r in json.loads(capsys.readouterr().out)["images"]}
    assert rows["sub/c.png"]["missing_fraction"] == pytest.approx(0.0625)


def test_degrade_batch_seeds_each_image_by_its_path(photos, capsys):
    from aip.degrade import degrade
    from aip.tasks.degrade import image_seed

    out = photos / "deg"
    rc = main(["degrade", str(photos / "clean"), "-o", str(out), "--noise", "gaussian:25", "--mask", "random:0.3",
               "--seed", "4", "--suffix", ".npy", "--json"])
    assert rc == 0
    rows = {r["rel"]: r for r in json.loads(capsys.readouterr().out)["images"]}
    assert set(rows) == {"a.png", "b.png", "sub/c.png"} and rows["a.png"]["seed"] != rows["b.png"]["seed"]
    x = read_image(photos / "clean" / "sub" / "c.png")
    ref = degrade(x, mask="random:0.3", noise=25 / 255, rng=image_seed(4, "sub/c.png"))
    np.testing.assert_allclose(np.load(out / "sub" / "c.npy"), ref.y, atol=1e-6)
    assert (out / "sub" / "c_mask.png").is_file()


def test_fractal_encode_and_decode_batches(photos, capsys):
    from aip.fractal import decode

    codes, back = photos / "codes", photos / "back"
    assert main(["fractal", "encode", str(photos / "clean"), "-o", str(codes), "--quality", "40", "--json"]) == 0
    enc = {r["rel"]: r for r in json.loads(capsys.readouterr().out)["images"]}
    assert sorted(p.relative_to(codes).as_posix() for p in codes.rglob("*.aipf")) == ["a.aipf", "b.aipf", "sub/c.aipf"]
    assert enc["a.png"]["bytes"] == (codes / "a.aipf").stat().st_size and enc["a.png"]["psnr"] > 20
    assert main(["fractal", "decode", str(codes), "-o", str(back), "--json"]) == 0
    capsys.readouterr()
    np.testing.assert_allclose(read_image(back / "sub" / "c.png"), decode((codes / "sub" / "c.aipf").read_bytes()),
                               atol=1 / 255 + 1e-6)
