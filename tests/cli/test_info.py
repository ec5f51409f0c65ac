import json
import subprocess
import sys

from aip.cli.main import main


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["aip"] and data["device"] in ("cpu", "cuda") and data["torch_threads"] >= 1
    assert isinstance(data["methods"], dict)


def test_help_exits_zero():
    out = subprocess.run([sys.executable, "-m", "aip.cli.main", "--help"], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and "info" in out.stdout


def test_no_command_exits_2(capsys):
    assert main([]) == 2


def test_import_is_lazy():
    code = "import sys, aip; print('torch' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
