"""Bad input, answered in one line (issue 12): every image command x every kind of bad input.

Each case runs ``python -m aip.cli ...`` as a user types it, in a fresh process in a fresh folder, and
passes when the process exits 2, its stderr is one line starting ``aip: error: ``, no traceback is
printed, and the folder holds no new file (no output, no ``.NAME.aiptmp-*`` temporary) afterwards.
Cases: a missing file, a folder, a non-image, a truncated PNG, an empty file, a decompression bomb (a
64x64 PNG whose header declares 60000x60000), absurd numbers (sizes and levels the image cannot hold),
an existing output without ``--force``, and an output in a folder that does not exist.

The kill test sends SIGTERM to ``aip degrade`` of a 3000x4000 image at several moments after its
temporary output file appears (during the write), and checks that there is never half a file: no output
(exit 143), or the complete, readable output (exit 0, or 143/-15 when the signal landed after the rename),
and no temporary file left.

Usage: ``python benchmarks/robustness.py [--only degrade,fractal-encode] [--no-kill]``; writes
``benchmarks/results/robustness.md`` and ``.json``. About 2 minutes on one core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, run_meta, write_results

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
CASES = ("missing", "folder", "non-image", "truncated", "empty", "bomb", "absurd", "existing-output",
         "missing-folder")
TIMEOUT_S = 120

# command name -> (argv before IN, argv after IN [OUT is {out}], absurd extra argv, output suffix)
COMMANDS: dict[str, tuple[list[str], list[str], list[str], str]] = {
    "fractal-encode": (["fractal", "encode"], ["-o", "{out}"], ["--quality", "1e30"], ".aipf"),
    "fractal-decode": (["fractal", "decode"], ["-o", "{out}"], ["--scale", "1e6"], ".png"),
    "fractal-bench": (["fractal", "bench"], [], ["--quality", "1e30"], ""),
    "degrade": (["degrade"], ["-o", "{out}"], ["--blur", "box:100000"], ".png"),
    "denoise": (["denoise"], ["-o", "{out}", "--method", "gaussian"], ["--sigma", "1e30"], ".png"),
    "deblur": (["deblur"], ["-o", "{out}", "--psf", "gaussian:1"], ["--psf", "box:100000"], ".png"),
    "upscale": (["upscale"], ["-o", "{out}", "--method", "bicubic"], ["--scale", "100000"], ".png"),
    "inpaint": (["inpaint"], ["-o", "{out}", "--mask", "{mask}", "--method", "harmonic"],
                ["--mask", "blocks:100000"], ".png"),
}


def bomb_png(path: Path, width: int = 60000, height: int = 60000) -> None:
    """A 64x64 gray PNG whose IHDR declares ``width`` x ``height`` (CRC fixed): 84 bytes."""
    from PIL import Image

    Image.new("L", (64, 64), 128).save(path)
    raw = bytearray(path.read_bytes())
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))


def make_inputs(folder: Path) -> dict[str, Path]:
    """Good and bad inputs in ``folder``: image, .aipf, mask and the broken files."""
    from aip.fractal import encode
    from aip.io import load_sample, write_image

    img = load_sample("camera", size=32)
    good = write_image(folder / "good.png", img)
    aipf = folder / "good.aipf"
    aipf.write_bytes(encode(img, quality=30))
    mask = write_image(folder / "mask.png", (np.arange(32 * 32).reshape(32, 32) % 7 == 0).astype(np.float32))
    (folder / "dir.png").mkdir()
    (folder / "text.png").write_text("this is not an image\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "trunc.png").write_bytes(good.read_bytes()[:100])
    (folder / "bad.aipf").write_bytes(b"AIPF" + bytes(40))
    bomb_png(folder / "bomb.png")
    return {"good": good, "aipf": aipf, "mask": mask}


def case_argv(cmd: str, case: str, inputs: dict[str, Path], folder: Path) -> list[str] | None:
    """The argv of one case, or None where the case does not apply."""
    pre, post, absurd, suffix = COMMANDS[cmd]
    decode = cmd == "fractal-decode"
    good = inputs["aipf"] if decode else inputs["good"]
    src = {"missing": folder / ("none.aipf" if decode else "none.png"), "folder": folder / "dir.png",
           "non-image": folder / "text.png", "truncated": folder / ("bad.aipf" if decode else "trunc.png"),
           "empty": folder / "empty.png", "bomb": folder / "bomb.png"}.get(case, good)
    if case == "bomb" and decode:
        return None  # an .aipf declaring a huge size is the truncated/absurd case of the decoder
    out = folder / f"out{suffix}"
    if case == "existing-output":
        if not suffix:
            return None
        out.write_bytes(b"keep me")
    if case == "missing-folder":
        if not suffix:
            return None
        out = folder / "no_such_folder" / f"out{suffix}"
    rest = [a.format(out=out, mask=inputs["mask"]) for a in post]
    if case == "absurd":
        rest += absurd
    return [*pre, str(src), *rest]


def run_case(argv: list[str], folder: Path) -> dict:
    before = {p.name for p in folder.iterdir()}
    t0 = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, "-m", "aip.cli", *argv], cwd=folder, env=ENV, capture_output=True,
                             text=True, timeout=TIMEOUT_S, check=False)
        code, err = res.returncode, res.stderr
    except subprocess.TimeoutExpired as exc:
        code, err = "timeout", (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) \
            else (exc.stderr or "")
    wall = time.perf_counter() - t0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    after = {p.name for p in folder.iterdir()}
    left = sorted(after - before)
    one_line = len(lines) == 1 and lines[0].startswith("aip: error: ")
    ok = code == 2 and one_line and not left and "Traceback" not in err
    return {"argv": argv, "exit": code, "stderr": lines[-1][:200] if lines else "", "lines": len(lines),
            "leftovers": left, "wall_s": round(wall, 2), "ok": ok}


def _readable(path: Path, shape: tuple[int, ...]) -> bool:
    from aip.io import read_image

    try:
        return read_image(path, max_pixels=0).shape == shape
    except (OSError, ValueError):
        return False


def kill_test(folder: Path, offsets=(0.0, 0.005, 0.02, 0.05, 0.1, 0.3)) -> list[dict]:
    """SIGTERM to ``aip degrade`` of a 3000x4000 RGB image ``offsets`` seconds after its temporary output
    file appears (so the signal lands during the write); exit code, output and leftovers recorded."""
    from aip.io import write_image

    rng = np.random.default_rng(0)
    big = write_image(folder / "big.tif", rng.random((3000, 4000, 3), dtype=np.float32), force=True)
    rows = []
    for d in offsets:
        out = folder / "killed.tif"
        if out.exists():
            out.unlink()
        proc = subprocess.Popen([sys.executable, "-m", "aip.cli", "degrade", str(big), "-o", str(out),
                                 "--noise", "gaussian:10"], cwd=folder, env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        seen, t_end = False, time.time() + 120
        while proc.poll() is None and time.time() < t_end:
            if any(".aiptmp-" in n for n in os.listdir(folder)):
                seen = True
                break
            time.sleep(0.002)
        time.sleep(d)
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        temps = sorted(n for n in os.listdir(folder) if ".aiptmp-" in n)
        code = proc.returncode
        complete = out.exists() and _readable(out, (3000, 4000, 3))
        # never half a file: no output, or the complete one (a SIGTERM after the rename may still end the
        # process with 143, or with -15 once the interpreter is shutting down); never a temporary left
        ok = not temps and (complete or not out.exists()) and (code in (0, 143, -15)) and (code != 0 or complete)
        rows.append({"after_temp_s": d, "temp_seen": seen, "exit": code, "output_complete": complete,
                     "temps_left": temps, "stderr": (err.strip().splitlines() or [""])[-1][:120], "ok": ok})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated commands (default: all)")
    ap.add_argument("--no-kill", action="store_true", help="skip the SIGTERM test")
    args = ap.parse_args()
    cmds = [c for c in COMMANDS if not args.only or c in args.only.split(",")]
    t0 = time.time()
    rows = []
    base = Path(tempfile.mkdtemp(prefix="aip_robust_"))
    try:
        for cmd in cmds:
            for case in CASES:
                folder = base / f"{cmd}-{case}"
                folder.mkdir()
                inputs = make_inputs(folder)
                argv = case_argv(cmd, case, inputs, folder)
                if argv is None:
                    continue
                r = run_case(argv, folder)
                r.update(command=cmd, case=case)
                rows.append(r)
                print(f"{'ok  ' if r['ok'] else 'FAIL'} {cmd:15s} {case:16s} exit={r['exit']} {r['stderr'][:90]}",
                      flush=True)
        kills = [] if args.no_kill else kill_test(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    n_ok = sum(r["ok"] for r in rows)
    md = ["# Bad input, answered in one line", "",
          (f"{n_ok} of {len(rows)} cases: exit 2, one `aip: error:` line, no traceback, no file left behind. "
          f"({run_meta()['date']}, {time.time() - t0:.0f} s; `python benchmarks/robustness.py`)"), ""]
    table = []
    for cmd in cmds:
        cells = []
        for case in CASES:
            r = next((r for r in rows if r["command"] == cmd and r["case"] == case), None)
            cells.append("-" if r is None else "ok" if r["ok"] else f"**{r['exit']}**")
        table.append([cmd, *cells])
    md += md_table(["command", *CASES], table)
    bad = [r for r in rows if not r["ok"]]
    if bad:
        md += ["", "## Failing cases", ""]
        md += md_table(["command", "case", "exit", "lines", "leftovers", "last stderr line"],
                       [[r["command"], r["case"], r["exit"], r["lines"], ", ".join(r["leftovers"]) or "-",
                         f"`{r['stderr'][:100]}`"] for r in bad])
    md += ["", "## Messages", ""]
    md += md_table(["command", "case", "stderr"], [[r["command"], r["case"], f"`{r['stderr'][:120]}`"]
                                                   for r in rows])
    if kills:
        md += ["", "## SIGTERM while `aip degrade` of a 3000x4000 RGB TIFF writes its output", "",
               (f"{sum(k['ok'] for k in kills)} of {len(kills)} runs: no output (exit 143) or the complete, "
               "readable one (exit 0, or 143/-15 when the signal came after the rename), and no temporary "
               "file left."), ""]
        md += md_table(["SIGTERM after the temp file appeared (s)", "temp seen", "exit", "output written",
                        "temporary files left", "ok"],
                       [[k["after_temp_s"], k["temp_seen"], k["exit"], k["output_complete"], len(k["temps_left"]),
                         k["ok"]] for k in kills])
    write_results("robustness", {"meta": run_meta(), "cases": rows, "kill": kills}, "\n".join(md) + "\n")
    print(f"{n_ok}/{len(rows)} cases ok; kill test {sum(k['ok'] for k in kills)}/{len(kills)} ok")


if __name__ == "__main__":
    main()
