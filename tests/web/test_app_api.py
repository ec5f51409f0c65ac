"""The workbench API: numbers equal to the task functions, upload guards, no path outside the work folder,
the one-job queue and cancellation, and aip serve's local-only bind."""

import io

import numpy as np
import pytest
from conftest import wait_job
from PIL import Image

from aip.cli.main import main
from aip.degrade import degrade
from aip.io import load_sample
from aip.tasks import restore_image


def _png(arr):
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_restore_job_gives_the_service_numbers(client):
    x = load_sample("camera", size=64)
    up = client.post("/api/upload", files={"file": ("cam.png", _png(x), "image/png")}).json()
    job = client.post("/api/restore", json={"image": up["id"], "task": "denoise", "methods": ["nlm", "gaussian"],
                                            "noise": 25, "sigma": 25, "seed": 3}).json()
    j = wait_job(client, job["id"])
    assert j["state"] == "done", j
    clean = np.asarray(Image.open(io.BytesIO(_png(x))), np.float32) / 255
    y = np.clip(degrade(clean, noise=25 / 255, rng=3).y, 0, 1)
    for m in j["result"]["methods"]:
        _, ref = restore_image("denoise", y, method=m["method"], sigma=25, reference=clean)
        assert m["psnr"] == pytest.approx(ref["psnr"], abs=0.02)   # result PNG round trip aside, the same
        png = client.get(m["image"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert j["result"]["input_metrics"]["psnr"] < min(m["psnr"] for m in j["result"]["methods"])


def test_compress_job_reports_jpeg_at_no_larger_size_and_a_curve(client):
    up = client.post("/api/sample", json={"name": "camera", "gray": True}).json()
    j = wait_job(client, client.post("/api/compress", json={"image": up["id"], "quality": 40, "rd": True,
                                                           "zoom": 2}).json()["id"])
    assert j["state"] == "done", j
    m = j["result"]["metrics"]
    assert m["jpeg_bytes"] <= m["bytes"] and m["psnr"] > 25 and m["jpeg_psnr"] > 20
    assert len(j["result"]["rd_points"]["fractal"]) == 5
    assert client.get(j["result"]["rd"]).status_code == 200
    big = Image.open(io.BytesIO(client.get(j["result"]["zoom"]["fractal"]).content))
    assert big.size == (256, 256)                                   # the centre of the 1024 x 1024 zoom


def test_generate_job_makes_the_grid_in_steps(client):
    j = wait_job(client, client.post("/api/generate", json={"model": "cvae", "n": 20, "label": 3,
                                                            "interpolate": True}).json()["id"])
    assert j["state"] == "done", j
    assert j["result"]["made"] == 20 and j["result"]["grid"].endswith("grid_2.png")   # three chunks of the grid
    assert client.get(j["result"]["interpolation"]).status_code == 200


def test_uploads_refuse_big_non_images_and_bombs_in_one_line(client, work):
    r = client.post("/api/upload", files={"file": ("x.png", b"GIF89a not a png", "image/png")})
    assert r.status_code == 400 and "expected a PNG, JPEG, TIFF or BMP image" in r.json()["error"]
    r = client.post("/api/upload", files={"file": ("big.bin", b"\0" * (3 * 1024 * 1024), "image/png")})
    assert r.status_code == 413 and "expected at most 2 MiB" in r.json()["error"]
    # a bomb: a 5000 x 5000 PNG of zeros is ~25 kB of file but 25 megapixels; refused from its header
    bomb = io.BytesIO()
    Image.new("L", (5000, 5000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < work.max_bytes
    r = client.post("/api/upload", files={"file": ("bomb.png", bomb.getvalue(), "image/png")})
    assert r.status_code == 400 and "decompression bomb" in r.json()["error"]
    gif = io.BytesIO()
    Image.new("L", (8, 8)).save(gif, format="GIF")
    r = client.post("/api/upload", files={"file": ("a.gif", gif.getvalue(), "image/gif")})
    assert r.status_code == 400 and "got GIF" in r.json()["error"]
    assert list((work.root / "uploads").iterdir()) == []          # nothing refused was kept


def test_no_path_outside_the_work_folder(client, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(_png(np.zeros((4, 4))))
    for url in ("/api/uploads/..%2F..%2Fsecret.png", "/api/files/..%2F..%2F/secret.png",
                f"/api/uploads/{'0' * 32}.png", "/api/files/" + "a" * 32 + "/..%2F..%2Fsecret.png",
                "/api/runs/..%2Fsecret", "/api/runs/vae_tiny/samples/..%2F..%2F..%2Fsecret.png",
                "/static/..%2F..%2Fapp.py"):
        r = client.get(url)
        assert r.status_code == 404, url
    r = client.post("/api/restore", json={"image": "../../secret", "task": "denoise"})
    assert r.status_code == 404 and "expected an upload id" in r.json()["error"]


def test_bad_requests_are_one_line(client):
    up = client.post("/api/sample", json={"name": "camera"}).json()
    r = client.post("/api/restore", json={"image": up["id"], "task": "sharpen"})
    assert r.status_code == 400 and r.json()["error"].startswith("task: expected one of")
    r = client.post("/api/restore", json={"image": up["id"], "task": "denoise", "methods": ["nope"]})
    assert r.status_code == 400 and r.json()["error"].startswith("--method: expected one of")
    r = client.post("/api/restore", json={"image": up["id"], "task": "denoise", "noise": "lots"})
    assert r.status_code == 400 and r.json()["error"].startswith("noise: expected a number")
    r = client.post("/api/generate", json={"model": "nope"})
    assert r.status_code == 400 and "model: expected one of" in r.json()["error"]


def test_one_job_at_a_time_and_cancel(work):
    import threading

    from aip.web.jobs import JobQueue

    q = JobQueue(workers=1)
    gate, running, seen = threading.Event(), [], []

    def slow(job):
        running.append(job.id)
        seen.append(len(running))
        try:
            for i in range(200):
                if gate.is_set():
                    break
                job.step(i / 200, "working")
                threading.Event().wait(0.01)
        finally:
            running.remove(job.id)
        return {"ok": True}

    a, b, c = q.submit("x", slow), q.submit("x", slow), q.submit("x", slow)
    assert q.position(c) in (2, 3)                  # behind a (until it starts) and b
    q.cancel(c.id)
    assert c.state == "cancelled"
    threading.Event().wait(0.1)
    q.cancel(a.id)                    # a running job stops at its next step
    while a.state in ("queued", "running"):
        threading.Event().wait(0.01)
    gate.set()
    while b.state in ("queued", "running"):
        threading.Event().wait(0.01)
    assert a.state == "cancelled" and b.state == "done" and max(seen) == 1   # never two at once
    q.close()


def test_serve_refuses_a_non_local_bind(capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--host: expected a local address" in err and "--allow-remote" in err and len(err.splitlines()) == 1


def test_runs_tab_api(client):
    runs = client.get("/api/runs").json()
    assert runs["enabled"] and runs["runs"] == [{"name": "vae_tiny", "model": "vae"}]
    v = client.get("/api/runs/vae_tiny").json()
    assert v["steps_logged"] == 29 and len(v["samples"]) == 1
    assert client.get(v["loss_plot"]).headers["content-type"] == "image/png"
    assert client.get(v["samples"][0]).status_code == 200


def test_a_running_method_reports_progress_and_stops_inside_on_cancel(tmp_path):
    """A tiled restoration advances the job's bar tile by tile, and a cancel stops it before the last tile."""
    import threading

    from fastapi.testclient import TestClient

    from aip.web.app import create_app
    from aip.web.uploads import WorkDir

    work = WorkDir(tmp_path / "w", max_bytes=20 * 1024 * 1024, max_pixels=5_000_000)
    rng = np.random.default_rng(0)
    big = rng.random((2100, 2100))
    with TestClient(create_app(work)) as client:
        up = client.post("/api/upload", files={"file": ("big.png", _png(big), "image/png")}).json()
        job = client.post("/api/restore", json={"image": up["id"], "task": "denoise", "methods": ["nlm"],
                                                "noise": 10, "sigma": 10}).json()
        seen = set()
        for _ in range(2000):
            j = client.get(f"/api/jobs/{job['id']}").json()
            if "%" in j["message"]:
                seen.add(j["message"])
            if any(not msg.endswith("0%)") for msg in seen):     # past the first tile
                break
            threading.Event().wait(0.02)
        client.post(f"/api/jobs/{job['id']}/cancel")
        j = wait_job(client, job["id"])
    assert j["state"] == "cancelled" and 0 < j["progress"] < 1, j
    assert not j["result"].get("methods")                       # the method never finished


def test_watch_reports_tiles_and_stops_the_work():
    from aip._shared.progress import watch
    from aip.restore import denoise

    x = np.random.default_rng(1).random((600, 600)).astype(np.float32)
    fractions = []
    with watch(fractions.append):
        denoise(x, "gaussian", sigma=0.1, tile=200)
    assert len(fractions) >= 9 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

    class Stop(Exception):
        pass

    def stop(f):
        if f > 0.3:
            raise Stop

    with pytest.raises(Stop), watch(stop):
        denoise(x, "gaussian", sigma=0.1, tile=200)
