"""The workbench's HTTP API and page, on FastAPI; every task runs through :mod:`aip.tasks`, queued.

Endpoints (JSON unless said): ``GET /`` the page; ``GET /api/info`` methods, samples, models, limits;
``POST /api/upload`` (multipart ``file``) and ``POST /api/sample`` store an image and return its id;
``GET /api/uploads/ID.png``; ``POST /api/restore | /api/compress | /api/generate`` start a job and return
its id; ``GET /api/jobs/ID`` its state, progress and results; ``POST /api/jobs/ID/cancel``;
``GET /api/files/JOB/NAME.png`` a result image; ``GET /api/runs`` and ``GET /api/runs/NAME`` the training
runs under the folder given to ``aip serve --runs`` (none otherwise).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from aip._shared.optional import require

require("fastapi")   # an ImportError naming the extra (pip install 'aip[web]') when it is missing
from fastapi import File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from aip.web.jobs import Job, JobQueue
from aip.web.uploads import UploadError, WorkDir

STATIC = Path(__file__).resolve().parent / "static"
SAMPLE_SIDE = 512            # built-in samples are offered at most this large (gray ones are 512 already)
MAX_METHODS = 6
MAX_SAMPLES = 100


def _finite(value: Any) -> Any:
    from aip._shared.files import json_safe

    return json_safe(value)


def _num(body: dict[str, Any], key: str, default: Any, lo: float, hi: float, kind: type = float) -> Any:
    value = body.get(key, default)
    if value is None or value == "":
        return default
    try:
        v = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a number in [{lo:g}, {hi:g}], got {value!r}") from None
    if not (lo <= v <= hi) or (isinstance(v, float) and not math.isfinite(v)):
        raise ValueError(f"{key}: expected a number in [{lo:g}, {hi:g}], got {value!r}")
    return v


def _rd_plot(points: dict[str, list[tuple[float, float]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=100)
    for name, pts in points.items():
        pts = sorted(pts)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _loss_plot(log: list[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for r in log for k, v in r.items() if k.endswith("loss") and isinstance(v, (int, float))})
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    for k in keys[:6]:
        pts = [(r["step"], r[k]) for r in log if k in r and "step" in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if keys and all(r.get(k, 1) > 0 for r in log for k in keys[:6] if k in r):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if keys:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


_HIDDEN_KNOBS = {"channel_axis", "device", "progress", "tile", "prior", "rng", "generator"}


def method_knobs(task: str, method: str, limit: int = 6) -> list[dict[str, Any]]:
    """The main knobs of a restore method for the page: name and default (None: chosen from the data)."""
    import inspect

    import aip.restore as R

    out = []
    for name, p in inspect.signature(R.get_method(task, method)).parameters.items():
        if p.default is inspect.Parameter.empty or name in _HIDDEN_KNOBS:
            continue
        if p.default is None or isinstance(p.default, (bool, int, float, str)):
            out.append({"name": name, "default": p.default})
    return out[:limit]


class Workbench:
    """The state behind the app: work folder, job queue, optional runs folder, loaded models."""

    def __init__(self, work: WorkDir, runs: str | Path | None = None, device: str | None = None):
        self.work = work
        self.queue = JobQueue(workers=1)
        self.runs = Path(runs).resolve() if runs is not None else None
        self.device = device
        self._models: dict[str, Any] = {}

    # ------------------------------------------------------------------ restore
    def restore_job(self, body: dict[str, Any]) -> Job:
        from aip.restore import DEFAULTS
        from aip.tasks.restore import RESTORE_TASKS, prepare

        task = body.get("task", "denoise")
        if task not in RESTORE_TASKS:
            raise ValueError(f"task: expected one of {', '.join(RESTORE_TASKS)}, got {task!r}")
        methods = body.get("methods") or [DEFAULTS[task]]
        if not isinstance(methods, list) or not 1 <= len(methods) <= MAX_METHODS:
            raise ValueError(f"methods: expected a list of 1 to {MAX_METHODS} method names, got {methods!r}")
        simulate = body.get("mode", "simulate") == "simulate"
        img = self.work.load(body.get("image", ""))
        seed = _num(body, "seed", 0, 0, 2**31 - 1, int)
        noise = _num(body, "noise", 25.0 if task == "denoise" else (2.55 if task == "deblur" else 0.0), 0, 100)
        blur = str(body.get("blur") or "gaussian:1.6")
        scale = _num(body, "scale", 2, 2, 8, int)
        mask_spec = str(body.get("mask") or "random:0.5")
        knobs = body.get("knobs") or {}
        if not isinstance(knobs, dict):
            raise TypeError(f"knobs: expected an object of method -> {{knob: value}}, got {knobs!r}")
        opts: dict[str, Any] = {}
        if task == "deblur":
            opts["psf"] = blur
        if task == "upscale":
            opts["scale"] = scale
        checked = {m: prepare(task, m, knobs=knobs.get(m), **opts) for m in methods}   # one-line errors now
        mask_img = None
        if task == "inpaint" and not simulate:
            mask_img = self.work.load(body.get("mask_image", "")) > 0.5
            if mask_img.ndim == 3:
                mask_img = mask_img.any(axis=2)
        sigma = body.get("sigma", "auto")
        if sigma not in ("auto", "auto:pca"):
            sigma = _num(body, "sigma", 25, 0.01, 255)

        def run(job: Job) -> dict[str, Any]:
            from aip._shared.progress import watch
            from aip.degrade import degrade
            from aip.tasks.restore import restore_image

            total = len(methods) + 1
            job.step(0.0, "preparing the observation")
            clean, y, mask = None, img, mask_img
            if simulate:
                clean = img
                if task == "upscale":
                    h, w = (s - s % scale for s in img.shape[:2])
                    clean = img[:h, :w]
                spec: dict[str, Any] = {}
                if task == "deblur":
                    spec["blur"] = blur
                if task == "upscale":
                    spec["downsample"] = scale
                if task == "inpaint":
                    spec["mask"] = mask_spec
                if noise > 0:
                    spec["noise"] = noise / 255.0
                res = degrade(clean, rng=seed, **spec)
                y, mask = np.clip(res.y, 0.0, 1.0), res.mask
            out: dict[str, Any] = {"task": task, "input": self.work.save_result(job.id, "input", y),
                                   "clean": None if clean is None else self.work.save_result(job.id, "clean", clean),
                                   "methods": []}
            if clean is not None and task != "upscale":
                from aip.tasks.restore import measure

                out["input_metrics"] = _finite(measure(clean, np.asarray(y, np.float32)))
            for i, m in enumerate(methods):
                job.step((i + 1) / total, f"running {m} ({i + 1} of {len(methods)})")
                kw: dict[str, Any] = {"sigma": sigma} if task in ("denoise", "deblur") else {}
                if task == "deblur":
                    kw["psf"] = blur
                if task == "upscale":
                    kw["scale"] = scale
                if task == "inpaint":
                    kw["mask"] = mask
                def report(f: float, i: int = i, m: str = m) -> None:   # in-method progress; raises if cancelled
                    job.step((i + 1 + f) / total, f"running {m} ({i + 1} of {len(methods)}, {100 * f:.0f}%)")

                with watch(report):
                    restored, result = restore_image(task, y, checked=checked[m], reference=clean, **kw)
                out["methods"].append({"method": m, "image": self.work.save_result(job.id, f"m{i}_{m}", restored),
                                       **_finite({k: v for k, v in result.items() if k in (
                                           "psnr", "ssim", "time_s", "sigma_255")})})
                job.result = out        # each result appears as soon as it is made
            return out

        return self.queue.submit("restore", run)

    # ------------------------------------------------------------------ compress
    def compress_job(self, body: dict[str, Any]) -> Job:
        img = self.work.load(body.get("image", ""))
        budget = body.get("max_bytes")
        max_bytes = None if budget in (None, "", 0) else _num(body, "max_bytes", None, 64, 10**8, int)
        quality = _num(body, "quality", 50.0, 0, 100)
        rd = bool(body.get("rd", True))
        zoom_scale = _num(body, "zoom", 2, 1, 4, int)

        def run(job: Job) -> dict[str, Any]:
            from aip.tasks.fractal import compress_image, zoom

            steps = 2 + (4 if rd else 0)
            job.step(0.0, "encoding")
            data, decoded, res = compress_image(img, quality=quality, max_bytes=max_bytes, jpeg=True)
            jpeg = res.pop("jpeg_image", None)
            out: dict[str, Any] = {"original": self.work.save_result(job.id, "original", img),
                                   "decoded": self.work.save_result(job.id, "decoded", decoded),
                                   "jpeg": None if jpeg is None else self.work.save_result(job.id, "jpeg", jpeg),
                                   "metrics": _finite(res)}
            (self.work.result_dir(job.id) / "image.aipf").write_bytes(data)
            out["aipf"] = f"/api/files/{job.id}/image.aipf"
            job.result = out
            if zoom_scale > 1:
                job.step(1 / steps, f"fractal zoom x{zoom_scale}")
                big, bic = zoom(data, zoom_scale)
                # the centre 256 x 256 output pixels, where the two enlargements can be told apart
                h, w = big.shape[:2]
                top, left = max(0, (h - 256) // 2), max(0, (w - 256) // 2)
                big, bic = big[top:top + 256, left:left + 256], bic[top:top + 256, left:left + 256]
                out["zoom"] = {"scale": zoom_scale, "fractal": self.work.save_result(job.id, "zoom_fractal", big),
                               "bicubic": self.work.save_result(job.id, "zoom_bicubic", bic)}
                job.result = out
            if rd:
                pts: dict[str, list[tuple[float, float]]] = {"fractal": [], "JPEG": []}
                for i, q in enumerate((20.0, 40.0, 60.0, 80.0)):
                    job.step((2 + i) / steps, f"rate-distortion curve: quality {q:g}")
                    _, _, r = compress_image(img, quality=q, jpeg=True)
                    pts["fractal"].append((r["bpp"], r["psnr"]))
                    if "jpeg_bpp" in r:
                        pts["JPEG"].append((r["jpeg_bpp"], r["jpeg_psnr"]))
                pts["fractal"].append((res["bpp"], res["psnr"]))
                if "jpeg_bpp" in res:
                    pts["JPEG"].append((res["jpeg_bpp"], res["jpeg_psnr"]))
                (self.work.result_dir(job.id) / "rd.png").write_bytes(_rd_plot(pts))
                out["rd"] = f"/api/files/{job.id}/rd.png"
                out["rd_points"] = _finite(pts)
            return out

        return self.queue.submit("compress", run)

    # ------------------------------------------------------------------ generate
    def generate_job(self, body: dict[str, Any]) -> Job:
        from aip.train.shipped import shipped_models

        name = body.get("model", "ddpm")
        if name not in shipped_models():
            raise ValueError(f"model: expected one of {', '.join(shipped_models())}, got {name!r}")
        n = _num(body, "n", 16, 1, MAX_SAMPLES, int)
        seed = _num(body, "seed", 0, 0, 2**31 - 1, int)
        label = body.get("label")
        label = None if label in (None, "", "all") else _num(body, "label", None, 0, 999, int)
        options = {"sampler": body.get("sampler") or None,
                   "steps": None if body.get("steps") in (None, "") else _num(body, "steps", None, 1, 1000, int),
                   "guidance": None if body.get("guidance") in (None, "") else _num(body, "guidance", None, 0, 20)}
        interpolate = bool(body.get("interpolate", False))

        def run(job: Job) -> dict[str, Any]:
            import torch

            from aip.tasks.generate import load_model, sample_grid
            from aip.train.trainer import image_grid

            job.step(0.0, f"loading {name}")
            if name not in self._models:
                self._models[name] = load_model(f"shipped:{name}", device=self.device)
            model, meta = self._models[name]
            chunks = max(1, min(4, math.ceil(n / 8)))
            sizes = [n // chunks + (i < n % chunks) for i in range(chunks)]
            done: list[torch.Tensor] = []
            out: dict[str, Any] = {"model": name, "n": n}
            for i, m in enumerate(sizes):
                job.step(i / (chunks + interpolate), f"sampling {sum(sizes[:i]) + 1}-{sum(sizes[:i + 1])} of {n}")
                imgs, _, res = sample_grid(f"shipped:{name}", m, label=label, seed=seed + i, model=model, meta=meta,
                                           **options)
                done.append(imgs.detach().float().clamp(0, 1).cpu())
                grid = image_grid(torch.cat(done), nrow=min(n, 10))   # every class: one per column
                arr = grid[0].numpy() if grid.shape[0] == 1 else grid.permute(1, 2, 0).numpy()
                out["grid"] = self.work.save_result(job.id, f"grid_{i}", arr)   # the grid as it is made
                out["made"] = sum(sizes[: i + 1])
                out["settings"] = _finite({k: v for k, v in res.items() if k not in ("run", "n", "seconds")})
                job.result = dict(out)
            if interpolate:
                job.step(chunks / (chunks + 1), "latent interpolation")
                strip = self._interpolation(model, label, seed)
                if strip is not None:
                    out["interpolation"] = self.work.save_result(job.id, "interpolation", strip)
                else:
                    out["interpolation_note"] = f"{name} has no latent space to walk"
            return out

        return self.queue.submit("generate", run)

    @staticmethod
    def _interpolation(model: Any, label: int | None, seed: int, steps: int = 10) -> np.ndarray | None:
        """A strip of ``steps`` images decoded along a spherical path between two latents, for models
        with a ``decode`` of their latent (VAEs, GAN generators)."""
        import torch

        from aip.train.trainer import image_grid

        dim = getattr(model.config, "latent_dim", None) or getattr(model.config, "z_dim", None)
        decode = getattr(model, "decode", None)
        if dim is None or decode is None:
            return None
        g = torch.Generator().manual_seed(seed)
        a, b = torch.randn(2, int(dim), generator=g)
        omega = torch.arccos(torch.clamp(torch.dot(a / a.norm(), b / b.norm()), -1, 1))
        t = torch.linspace(0, 1, steps)[:, None]
        z = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
        y = None
        if model.conditional:
            y = torch.full((steps,), 0 if label is None else int(label), dtype=torch.int64)
        with torch.no_grad():
            try:
                x = decode(z) if y is None else decode(z, y)
            except TypeError:
                return None
        grid = image_grid(x.float().clamp(0, 1).cpu(), nrow=steps)
        return grid[0].numpy() if grid.shape[0] == 1 else grid.permute(1, 2, 0).numpy()

    # ------------------------------------------------------------------ runs
    def list_runs(self) -> list[dict[str, Any]]:
        if self.runs is None or not self.runs.is_dir():
            return []
        out = []
        for cfg in sorted(self.runs.glob("*/config.json"))[:500]:
            run = cfg.parent
            try:
                model = json.loads(cfg.read_text()).get("train", {}).get("model") or \
                    json.loads(cfg.read_text()).get("model")
            except (OSError, ValueError):
                model = None
            out.append({"name": run.name, "model": model})
        return out

    def run_path(self, name: str) -> Path:
        if self.runs is None:
            raise FileNotFoundError("runs: the server was started without --runs FOLDER")
        names = {r["name"] for r in self.list_runs()}
        if name not in names:   # only names listed under the runs folder, never a path from the page
            raise FileNotFoundError(f"run: expected one of the runs under --runs, got {name!r}")
        return self.runs / name

    def run_log(self, name: str) -> list[dict[str, Any]]:
        """The lines of a run's ``log.jsonl`` that parse (a line being written is skipped)."""
        logf = self.run_path(name) / "log.jsonl"
        out = []
        for line in (logf.read_text().splitlines() if logf.is_file() else []):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def run_view(self, name: str) -> dict[str, Any]:
        run = self.run_path(name)
        log = self.run_log(name)
        samples = sorted(p.name for p in (run / "samples").glob("*.png")) if (run / "samples").is_dir() else []
        last = log[-1] if log else {}
        return {"name": name, "steps_logged": len(log), "last": _finite({k: v for k, v in last.items()
                                                                         if isinstance(v, (int, float))}),
                "loss_plot": f"/api/runs/{name}/loss.png", "samples": [f"/api/runs/{name}/samples/{s}"
                                                                       for s in samples[-12:]]}


def create_app(work: WorkDir | None = None, *, runs: str | Path | None = None, device: str | None = None):
    """The FastAPI app of the workbench (``uvicorn.run(create_app(), host="127.0.0.1")``)."""
    import contextlib

    import fastapi

    bench = Workbench(work or WorkDir(), runs=runs, device=device)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        bench.queue.close()

    app = fastapi.FastAPI(title="aip workbench", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                          lifespan=lifespan)
    app.state.bench = bench
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def user_error(exc: Exception, status: int = 400) -> JSONResponse:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse({"error": msg}, status_code=status)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError):
        return user_error(exc, 413 if isinstance(exc, UploadError) and "MiB" in str(exc) else 400)

    @app.exception_handler(TypeError)
    async def _type_error(request: Request, exc: TypeError):
        return user_error(exc)

    @app.exception_handler(FileNotFoundError)
    async def _not_found(request: Request, exc: FileNotFoundError):
        return user_error(exc, 404)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return HTMLResponse((STATIC / "index.html").read_text())

    @app.get("/api/info")
    def info():
        from aip.io import SAMPLE_NAMES
        from aip.restore import DEFAULTS
        from aip.restore._registry import SAMPLED, SECONDS_PER_MP, TASKS
        from aip.train.shipped import shipped_meta, shipped_models

        tasks = {t: {"methods": [m for m in TASKS[t] if m not in SAMPLED], "default": DEFAULTS[t],
                     "seconds_per_mp": SECONDS_PER_MP.get(t, {}),
                     "knobs": {m: method_knobs(t, m) for m in TASKS[t] if m not in SAMPLED}} for t in TASKS}
        models = []
        for name in shipped_models():
            meta = shipped_meta(name)
            models.append({"name": name, "description": meta.get("description", ""),
                           "num_classes": int(meta.get("model", {}).get("num_classes", 0) or 0),
                           "sample_kwargs": meta.get("sample_kwargs", {})})
        return {"tasks": tasks, "samples": [s for s in SAMPLE_NAMES if s not in ("checkerboard", "binary_blobs")],
                "models": models, "runs": bench.runs is not None,
                "limits": {"max_bytes": bench.work.max_bytes, "max_pixels": bench.work.max_pixels}}

    @app.post("/api/upload")
    async def upload(file: Annotated[UploadFile, File()]):
        limit = bench.work.max_bytes
        chunks, size = [], 0
        while True:
            part = await file.read(1 << 20)
            if not part:
                break
            size += len(part)
            if size > limit:
                raise UploadError(f"{file.filename}: expected at most {limit // (1024 * 1024)} MiB, got more")
            chunks.append(part)
        rec = bench.work.save_upload(b"".join(chunks), file.filename or "upload")
        return {**rec, "url": f"/api/uploads/{rec['id']}.png"}

    @app.post("/api/sample")
    async def sample(request: Request):
        from aip.io import SAMPLE_NAMES, load_sample

        body = await request.json()
        name = body.get("name")
        if name not in SAMPLE_NAMES:
            raise ValueError(f"sample: expected one of {', '.join(SAMPLE_NAMES)}, got {name!r}")
        from PIL import Image

        gray = bool(body.get("gray", False))
        img = load_sample(name, gray=gray)
        if max(img.shape[:2]) > SAMPLE_SIDE:
            img = load_sample(name, gray=gray, size=SAMPLE_SIDE)
        buf = io.BytesIO()
        u8 = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
        Image.fromarray(u8).save(buf, format="PNG")
        rec = bench.work.save_upload(buf.getvalue(), name)
        return {**rec, "url": f"/api/uploads/{rec['id']}.png", "name": name}

    @app.get("/api/uploads/{name}")
    def uploaded(name: str):
        if not name.endswith(".png"):
            raise FileNotFoundError("image: no such upload")
        return FileResponse(bench.work.upload_path(name[:-4]), media_type="image/png")

    async def _body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise ValueError("request: expected a JSON object") from None
        if not isinstance(body, dict):
            raise TypeError("request: expected a JSON object")
        return body

    @app.post("/api/restore")
    async def restore(request: Request):
        job = bench.restore_job(await _body(request))
        return job.public(bench.queue.position(job))

    @app.post("/api/compress")
    async def compress(request: Request):
        job = bench.compress_job(await _body(request))
        return job.public(bench.queue.position(job))

    @app.post("/api/generate")
    async def generate(request: Request):
        job = bench.generate_job(await _body(request))
        return job.public(bench.queue.position(job))

    @app.get("/api/jobs/{job_id}")
    def job_state(job_id: str):
        job = bench.queue.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job.public(bench.queue.position(job))

    @app.post("/api/jobs/{job_id}/cancel")
    def job_cancel(job_id: str):
        job = bench.queue.cancel(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job.public(bench.queue.position(job))

    @app.get("/api/files/{job_id}/{name}")
    def result_file(job_id: str, name: str):
        path = bench.work.result_path(job_id, name)
        if path.suffix == ".aipf":
            return FileResponse(path, media_type="application/octet-stream", filename=name)
        return FileResponse(path, media_type="image/png")

    @app.get("/api/runs")
    def runs_list():
        return {"enabled": bench.runs is not None, "runs": bench.list_runs()}

    @app.get("/api/runs/{name}")
    def run_info(name: str):
        return bench.run_view(name)

    @app.get("/api/runs/{name}/loss.png")
    def run_loss(name: str):
        return Response(_loss_plot(bench.run_log(name)), media_type="image/png")

    @app.get("/api/runs/{name}/samples/{file}")
    def run_sample(name: str, file: str):
        run = bench.run_path(name)
        files = {p.name: p for p in (run / "samples").glob("*.png")} if (run / "samples").is_dir() else {}
        if file not in files:
            raise FileNotFoundError("sample: no such grid in this run")
        return FileResponse(files[file], media_type="image/png")

    return app
