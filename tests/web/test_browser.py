"""The workbench in a real browser: Playwright driving Debian's Chromium headless, one test per tab. Each
picks an image (or model, or run), runs the job, and checks the numbers and that the result image appears.

Set ``AIP_SCREENSHOTS=DIR`` to save a screenshot of each tab there (docs/workbench/ holds the committed ones).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("AIP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture()
def page(server, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        pg = ctx.new_page()
        pg.set_default_timeout(90_000)
        pg.goto(server + "/")
        pg.wait_for_selector("body[data-ready='1']")
        yield pg
        ctx.close()
        browser.close()


def _shot(page, name):
    folder = os.environ.get("AIP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _loaded(page, selector):
    """Wait until the image at ``selector`` has decoded (naturalWidth > 0); returns its natural size."""
    page.wait_for_function(f"() => {{ const i = document.querySelector({selector!r}); "
                           "return i && i.complete && i.naturalWidth > 0; }")
    return page.eval_on_selector(selector, "i => [i.naturalWidth, i.naturalHeight]")


def _done(page, prefix):
    page.wait_for_selector(f"#{prefix}-status[data-state]", state="attached")
    state = page.get_attribute(f"#{prefix}-status", "data-state")
    assert state == "done", page.inner_text(f"#{prefix}-status")


def test_restore_tab_upload_denoise_two_methods(page, tmp_path):
    import numpy as np

    from aip.io import load_sample, write_image

    src = tmp_path / "photo.png"
    write_image(src, load_sample("camera", size=96))
    page.set_input_files("#restore-pick .upload", str(src))
    page.wait_for_selector("#restore-pick .thumb img")
    page.check("#r-methods input[value='gaussian']")          # nlm (the default) and gaussian
    page.click("details.knobs[data-method='gaussian'] summary")
    page.fill("details.knobs[data-method='gaussian'] input[data-knob='filter_sigma']", "1.2")   # a knob
    page.click("#r-run")
    _done(page, "r")
    cards = page.locator("#r-results .card")
    assert cards.count() == 3                                   # the input and two results
    texts = {m: page.inner_text(f".metrics[data-method='{m}']") for m in ("nlm", "gaussian")}
    psnr = {m: float(re.search(r"PSNR ([\d.]+) dB", t).group(1)) for m, t in texts.items()}
    noisy = float(re.search(r"PSNR ([\d.]+) dB", page.inner_text("#r-results .card >> nth=0")).group(1))
    assert all(v > noisy + 3 for v in psnr.values()), (psnr, noisy)
    from aip.degrade import degrade
    from aip.io import read_image
    from aip.metrics import psnr as psnr_of
    from aip.tasks import restore_image

    clean = read_image(src)
    y = np.clip(degrade(clean, noise=25 / 255, rng=0).y, 0, 1)
    out, _ = restore_image("denoise", y, method="gaussian", sigma=25, knobs={"filter_sigma": 1.2})
    assert psnr["gaussian"] == pytest.approx(psnr_of(clean, np.clip(out, 0, 1), data_range=1.0), abs=0.01)
    assert _loaded(page, "#r-results .card:nth-child(2) .compare img.top") == [96, 96]
    page.fill("#r-results input[type=range] >> nth=0", "20")   # the before/after slider moves the clip
    clip = page.eval_on_selector("#r-results .compare img.top", "i => i.style.clipPath")
    assert "80%" in clip
    _shot(page, "restore")
    assert np.isfinite(list(psnr.values())).all()


def test_compress_tab_sample_fractal_vs_jpeg(page):
    page.click("#tab-compress")
    page.select_option("#compress-pick .sample", "camera")
    page.wait_for_selector("#compress-pick .thumb img")
    page.click("#c-run")
    _done(page, "c")
    row = page.locator("#c-table tr[data-codec='fractal'] td")
    jrow = page.locator("#c-table tr[data-codec='jpeg'] td")
    assert float(row.nth(3).inner_text()) > 28 and int(jrow.nth(1).inner_text()) <= int(row.nth(1).inner_text())
    assert _loaded(page, "#c-rd-img")[0] > 100
    _shot(page, "compress")


def test_generate_tab_grid_appears(page):
    page.click("#tab-generate")
    page.select_option("#g-model", "cvae")
    page.fill("#g-n", "20")
    page.check("#g-interp")
    page.click("#g-run")
    _done(page, "g")
    assert "20 of 20 samples" in page.inner_text("#g-results")
    w, h = _loaded(page, "#g-grid")
    assert w > 200 and h > 40
    _shot(page, "generate")


def test_runs_tab_shows_loss_and_samples(page):
    page.click("#tab-runs")
    page.wait_for_selector("#runs-select option[value='vae_tiny']", state="attached")
    page.select_option("#runs-select", "vae_tiny")
    assert _loaded(page, "#runs-loss")[0] > 100
    assert "loss" in page.inner_text("#runs-results")
    _shot(page, "runs")
