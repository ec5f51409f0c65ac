"""The asset store: one helper for every shipped file pair (tensors + JSON), exact round trips, and a missing
asset's one-line error naming the command that rebuilds it (``aip: error: ...``, exit 2, in the CLI)."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from aip.cli.main import main
from aip.io import assets
from aip.io.assets import (
    ASSET_COMMANDS,
    MissingAssetError,
    asset_path,
    list_assets,
    load_asset,
    load_asset_meta,
    save_asset,
    weights_dir,
)

# sha256 of the shipped tensor files: moving the loaders onto aip.io.assets changed no byte of them.
# Update a line only when its asset is rebuilt with the command of ASSET_COMMANDS.
SHIPPED_SHA256 = {
    "gen_cgan_digits": "367ba6cb445778bc70315a8e05bb5c074d9969c367fded1c52d89002416ff42d",
    "gen_cvae_digits": "55fd22e6d22803459e43ef1165c1175eeec31dc6a2d6edeb90c9e657b7b3c51b",
    "gen_ddpm_digits": "d0ac3f5ddfcc502b45afa8267c0aa0afb261f1a69706204f87fb8dcd1507dd4b",
    "lenet_digits": "feeff9135bc01e28d6726ef0e867230ea0d77ca4cf4cafbab3b11ba4f4c02313",
    "lenet_digits8": "4b56151104f7bf29984bc578239d17beac128e8309da1557136e8358f22fc319",
    "lenet_faces": "84fddd8de02d0ad06f1efdb5bb6f915fee70c486606c2240661e17038b621be1",
    "lenet_patches": "f9f113ec336c363078e94d34b7eedf0cd32570dcd281fd0300109407b409e7e6",
    "sparse_sr": "132f6215bdc683c9c7c14e5896ec7072194def679bc2de7d6a61c424b605ab99",
    "restore_espcn_x2_gray": "89b350dc76a5d0f07d5c0bea064ccd1031a38949ea77518f52837f5153b3e2a5",
    "restore_espcn_x4_gray": "2127d2313131f77148cad17d71143b83e660a15393aa8285ac5f693a72bcc285",
    "restore_ffdnet_gray": "c3930977273c221cb89baaaeaec262e5b82e7016c0757955d1547290aa668399",
    "restore_dncnn_gray": "5f166523aff1f86fb8a550a0005615f957ab4942f269ad18e25d3691ebe533b3",
    "restore_srcnn_x2_gray": "bd62e6e1c65109a5736a9e07d5c1a1a7a7559f683c8d573acb9acbbd8d06d946",
    "restore_vdsr_x4_gray": "9e13ce051cf95ef68c268e9dfce49828c4ce4f63b4023006ada8a60a743ae14c",
    "restore_srresnet_x4_gray": "8f07a003414ba1bb0caf06130f188f369c5fcd965e7157db883b1e065101bb1e",
    "restore_srgan_x4_gray": "f5fc7939179a30fe47f313424ff6862c80332e7ef984f8be0e571cee524baf9d",
    "restore_msdeblur_gray": "d05bafb21b63b21a95d80b5cb0a9b2e88e5649790986f1b17a1ea29e9561fc66",
    "restore_context_encoder_gray": "2045d11c3038a2260e386a0ca696325b8267d3f67657266dabd596367a948967",
    "vit_digits": "d64f21c53615c16ee7627d45e64c153c19e249515e7f2e813785b417f1129fb5",
}


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_weights_dir_is_the_package_folder():
    import aip

    assert weights_dir() == (assets.Path(aip.__file__).parent / "data" / "weights").resolve()
    assert asset_path("lenet_digits") == weights_dir() / "lenet_digits.safetensors"
    assert asset_path("lenet_digits", ".json").name == "lenet_digits.json"


def test_every_known_asset_is_shipped_and_nothing_unknown_is():
    assert list_assets() == sorted(ASSET_COMMANDS)
    assert list_assets("lenet_") == ["lenet_digits", "lenet_digits8", "lenet_faces", "lenet_patches"]
    assert list_assets("gen_") == ["gen_cgan_digits", "gen_cvae_digits", "gen_ddpm_digits"]
    assert list_assets("no_such_") == []


@pytest.mark.parametrize("name", sorted(ASSET_COMMANDS))
def test_every_asset_loads_exactly_as_stored(name):
    from safetensors.numpy import load_file

    assert _sha(asset_path(name)) == SHIPPED_SHA256[name]
    tensors, meta = load_asset(name)
    arrays, meta2 = load_asset(name, numpy=True)
    raw = load_file(str(asset_path(name)))
    assert set(tensors) == set(arrays) == set(raw) and len(raw) >= 5
    for k, v in raw.items():
        assert isinstance(tensors[k], torch.Tensor) and np.array_equal(tensors[k].numpy(), v)
        assert arrays[k].dtype == v.dtype and np.array_equal(arrays[k], v)
    assert meta == meta2 == json.loads(asset_path(name, ".json").read_text())
    assert isinstance(meta, dict) and meta


def test_torch_round_trip_with_half_params(tmp_path):
    g = torch.Generator().manual_seed(0)
    state = {"w": torch.randn(4, 3, generator=g), "b": torch.randn(3, generator=g),
             "running_var": torch.rand(3, generator=g), "count": torch.tensor([7], dtype=torch.int64)}
    out = save_asset("net", state, {"what": "test", "shape": (4, 3)}, half_params=["w", "b"], root=tmp_path)
    assert out == tmp_path / "net.safetensors" and (tmp_path / "net.json").is_file()
    t, meta = load_asset("net", root=tmp_path)
    assert t["w"].dtype == torch.float16 and torch.equal(t["w"], state["w"].half())
    assert float((t["w"].float() - state["w"]).abs().max()) < 2e-3  # float16: 11 significant bits
    assert t["running_var"].dtype == torch.float32 and torch.equal(t["running_var"], state["running_var"])
    assert torch.equal(t["count"], state["count"])
    assert meta == {"what": "test", "shape": [4, 3]}  # tuples come back as JSON lists
    assert list_assets(root=tmp_path) == ["net"]


def test_numpy_round_trip_all_half(tmp_path):
    a = {"x2.pca": np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), "x2.scale": np.array([2])}
    save_asset("dicts", a, {"scales": [2]}, half_params=True, root=tmp_path)
    t, meta = load_asset("dicts", numpy=True, root=tmp_path)
    assert t["x2.pca"].dtype == np.float16 and np.array_equal(t["x2.pca"], a["x2.pca"].astype(np.float16))
    assert t["x2.scale"].dtype == np.int64 and t["x2.scale"][0] == 2
    assert meta == {"scales": [2]}


def test_existing_files_need_force(tmp_path):
    save_asset("a", {"w": torch.zeros(2)}, {"v": 1}, root=tmp_path)
    with pytest.raises(FileExistsError, match="a.safetensors"):
        save_asset("a", {"w": torch.ones(2)}, {"v": 2}, root=tmp_path)
    assert load_asset_meta("a", root=tmp_path) == {"v": 1}  # nothing was replaced
    save_asset("a", {"w": torch.ones(2)}, {"v": 2}, root=tmp_path, force=True)
    t, meta = load_asset("a", root=tmp_path)
    assert meta == {"v": 2} and float(t["w"].sum()) == 2.0


def test_incomplete_pairs_are_not_listed_and_do_not_load(tmp_path):
    save_asset("pair", {"w": torch.zeros(1)}, {}, root=tmp_path)
    (tmp_path / "orphan.safetensors").write_bytes((tmp_path / "pair.safetensors").read_bytes())
    (tmp_path / "lenet_faces.json").write_text('{"command": "ignored: the table wins"}')
    assert list_assets(root=tmp_path) == ["pair"]
    with pytest.raises(MissingAssetError, match=r"asset 'orphan': expected .*orphan\.json, which is missing; "
                                                r"no command is known to rebuild it"):
        load_asset("orphan", root=tmp_path)
    with pytest.raises(MissingAssetError) as info:
        load_asset("lenet_faces", root=tmp_path)
    assert str(info.value) == (f"asset 'lenet_faces': expected {tmp_path / 'lenet_faces.safetensors'}, which is "
                               f"missing; rebuild it with: python benchmarks/train_lenet.py faces")


def test_missing_asset_error_is_one_line_and_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_asset("gen_ddpm_digits", root=tmp_path)
    err = info.value
    assert isinstance(err, MissingAssetError) and err.name == "gen_ddpm_digits"
    assert err.path == tmp_path / "gen_ddpm_digits.json" and err.command == ASSET_COMMANDS["gen_ddpm_digits"]
    assert "\n" not in str(err) and str(err).endswith("python -m aip.train.shipped runs/gen_ddpm_digits ddpm")


@pytest.mark.parametrize("call, exc, match", [
    (lambda d: save_asset("../up", {"w": torch.zeros(1)}, {}, root=d), ValueError,
     r"name: expected a file stem .*got '\.\./up'"),
    (lambda d: save_asset("x.json", {"w": torch.zeros(1)}, {}, root=d), ValueError, "no folder or suffix"),
    (lambda d: save_asset(3, {"w": torch.zeros(1)}, {}, root=d), TypeError, "name: expected an asset name"),
    (lambda d: save_asset("x", {}, {}, root=d), ValueError, r"tensors: expected a non-empty dict .*\(empty\)"),
    (lambda d: save_asset("x", {"w": torch.zeros(1)}, [1], root=d), TypeError, "meta: expected a dict"),
    (lambda d: save_asset("x", {"w": torch.zeros(1), "v": np.zeros(1)}, {}, root=d), TypeError,
     "all torch tensors or all numpy arrays, got a mix"),
    (lambda d: save_asset("x", {"w": torch.zeros(1)}, {}, half_params=["v"], root=d), ValueError,
     "half_params: expected keys of tensors, got unknown v"),
    (lambda d: save_asset("x", {"w": torch.zeros(1)}, {"f": object()}, root=d), TypeError,
     "meta: expected JSON values .*got object"),
    (lambda d: asset_path("x", ".pt"), ValueError, "suffix: expected one of .safetensors, .json, got '.pt'"),
    (lambda d: list_assets(3), TypeError, "prefix: expected a str"),
])
def test_user_errors_are_one_line(tmp_path, call, exc, match):
    with pytest.raises(exc, match=match):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def _without(tmp_path, monkeypatch, *missing):
    """A copy of the shipped folder lacking the assets ``missing``, made the package's folder."""
    folder = tmp_path / "weights"
    shutil.copytree(weights_dir(), folder, ignore=shutil.ignore_patterns(*[f"{m}.*" for m in missing]))
    monkeypatch.setattr(assets, "weights_dir", lambda: folder)
    return folder


def test_cli_missing_shipped_model_exits_2_naming_its_train_command(tmp_path, monkeypatch, capsys):
    folder = _without(tmp_path, monkeypatch, "gen_cvae_digits")
    from aip.train.shipped import shipped_models

    assert shipped_models() == ["cgan", "ddpm"]
    assert main(["sample", "shipped:cvae", "-n", "2", "-o", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"aip: error: asset 'gen_cvae_digits': expected {folder / 'gen_cvae_digits.json'}, which is "
                   f"missing; rebuild it with: {ASSET_COMMANDS['gen_cvae_digits']}")
    assert "aip train cvae --data digits --steps 3000" in err and not (tmp_path / "g.png").exists()
    # an unknown name is still a ValueError listing the shipped ones
    assert main(["sample", "shipped:nope", "-n", "2", "-o", str(tmp_path / "g.png")]) == 2
    assert "expected one of cgan, ddpm, got 'nope'" in capsys.readouterr().err


def test_missing_lenet_names_its_train_command(tmp_path, monkeypatch):
    _without(tmp_path, monkeypatch, "lenet_faces")
    from aip.models.lenet import load_lenet, shipped_lenets

    assert shipped_lenets() == ["digits", "digits8", "patches"]
    with pytest.raises(MissingAssetError, match="rebuild it with: python benchmarks/train_lenet.py faces$"):
        load_lenet("faces")
    with pytest.raises(ValueError, match=r"dataset: expected one with a shipped LeNet \(digits, digits8, "
                                         r"patches\), got 'cifar'"):
        load_lenet("cifar")


def test_sparse_sr_dictionaries_save_through_the_helper_bit_identically(tmp_path):
    from aip.restore.sparse import save_sr_dictionaries

    shipped, meta = load_asset("sparse_sr", numpy=True)
    assert meta["scales"] == [2, 3] and meta["command"] == ASSET_COMMANDS["sparse_sr"]
    # as train_sr_dictionary returns them: float32 arrays, int64 scale and patch
    x2 = {k[3:]: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in shipped.items() if k[:3] == "x2."}
    out = save_sr_dictionaries({2: x2}, tmp_path / "sr.safetensors", meta={"seconds": 1.5})
    t, m = load_asset("sr", numpy=True, root=tmp_path)
    assert out == tmp_path / "sr.safetensors" and sorted(t) == sorted(k for k in shipped if k.startswith("x2."))
    for k, v in t.items():  # float16 -> float32 -> float16 is exact
        assert v.dtype == shipped[k].dtype and np.array_equal(v, shipped[k])
    assert m["scales"] == [2] and m["arrays"]["x2.dict_low"] == [44, 512] and m["seconds"] == 1.5
    with pytest.raises(ValueError, match=r"path: expected a \.safetensors file, got '.*sr\.npz'"):
        save_sr_dictionaries({2: x2}, tmp_path / "sr.npz")
