"""Fixtures of the workbench tests: the app in-process (TestClient) and a real server on a free port."""

import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")


@pytest.fixture()
def work(tmp_path):
    from aip.web.uploads import WorkDir

    return WorkDir(tmp_path / "work", max_bytes=2 * 1024 * 1024, max_pixels=1_000_000)


@pytest.fixture()
def runs_dir(tmp_path):
    """A tiny training-run folder: a config, a log and one sample grid."""
    import json

    import numpy as np

    from aip.io import write_image

    run = tmp_path / "runs" / "vae_tiny"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"train": {"model": "vae"}}))
    (run / "log.jsonl").write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / s}) for s in range(1, 30)))
    write_image(run / "samples" / "step_00000010.png", np.random.default_rng(0).random((30, 30)))
    return tmp_path / "runs"


@pytest.fixture()
def client(work, runs_dir):
    from fastapi.testclient import TestClient

    from aip.web.app import create_app

    with TestClient(create_app(work, runs=runs_dir)) as c:
        yield c


def wait_job(client, job_id, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        j = client.get(f"/api/jobs/{job_id}").json()
        if j["state"] in ("done", "failed", "cancelled"):
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


@pytest.fixture()
def server(work, runs_dir):
    """A real uvicorn server of the workbench in a thread; yields its base URL."""
    import uvicorn

    from aip.web.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(work, runs=runs_dir), log_level="warning"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    t0 = time.time()
    while not srv.started and time.time() - t0 < 30:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(10)
