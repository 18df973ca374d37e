"""scripts/photo_sheet.py: the shipped model on photos, from paths and from installed packages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from script_loader import load_script

photo_sheet = load_script("photo_sheet")


def _photo(path, size=(48, 32), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Folders named like scikit-image and scikit-learn holding their photos, first on sys.path."""
    root = tmp_path / "site"
    for i, (package, rel, _, _) in enumerate(photo_sheet.PACKAGE_PHOTOS):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("raise ImportError('the script must not import me')\n")
        _photo(root / package / rel, seed=i)
    monkeypatch.syspath_prepend(str(root))
    return root


def test_package_photos_are_found_without_importing_the_packages(fake_packages):
    photos = photo_sheet.package_photos()
    assert [p.path.name for p in photos] == ["astronaut.png", "coffee.png", "chelsea.png", "china.jpg"]
    assert photos[1].classes == ("cup", "table", "wall") and photos[1].refer == "the cup"
    assert all(p.path.is_file() for p in photos)


def test_missing_package_says_how_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(photo_sheet, "PACKAGE_PHOTOS", [("no_such_package_here", "a.png", ("wall",), "the wall")])
    with pytest.raises(FileNotFoundError, match="pip install scikit-image scikit-learn"):
        photo_sheet.package_photos()
    assert photo_sheet.main(["--package-photos", "--out", str(tmp_path / "s.png")]) == 2
    assert "pip install" in capsys.readouterr().err


def test_main_draws_one_row_per_photo(fake_packages, tmp_path, capsys):
    mine = _photo(tmp_path / "mine.png", size=(40, 40), seed=9)
    out = tmp_path / "sheet.png"
    rc = photo_sheet.main([str(mine), "--classes", "wall, floor", "--refer", "the chair", "--package-photos",
                           "--out", str(out)])
    assert rc == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["photo"] for r in rows] == ["mine.png", "astronaut.png", "coffee.png", "chelsea.png", "china.jpg"]
    assert rows[0]["classes"] == ["wall", "floor"] and rows[0]["refer"] == "the chair"
    for r in rows:
        assert 0 <= r["semantic_void_share"] <= 1 and 0 <= r["referring_marked_share"] <= 1
        assert 0 <= r["depth_p5_m"] <= r["depth_median_m"] <= r["depth_p95_m"]
    sheet = Image.open(out)
    # square photo: 5 panels of 160; 48x32 photos: 5 panels of 240; one 14 px label line per row
    assert sheet.size == (5 * 240, 5 * (160 + 14))
    px = np.asarray(sheet.convert("RGB"))
    assert np.array_equal(px[14 + 80, 20], np.asarray(Image.open(mine).convert("RGB").resize((160, 160), Image.BILINEAR))[80, 20])


def test_bad_arguments_exit_cleanly(tmp_path, capsys):
    with pytest.raises(SystemExit):
        photo_sheet.main([])
    with pytest.raises(SystemExit):
        photo_sheet.main([str(tmp_path / "a.png"), "--classes", "a,b,c,d,e,f,g"])
    with pytest.raises(SystemExit):
        photo_sheet.main([str(tmp_path / "a.png"), "--refer", " "])
    assert photo_sheet.main([str(tmp_path / "nope.png"), "--out", str(tmp_path / "s.png")]) == 2
    assert "no such photo" in capsys.readouterr().err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert photo_sheet.main([str(broken), "--out", str(tmp_path / "s.png")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "s.png").exists()
