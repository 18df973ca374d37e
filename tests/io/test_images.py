"""load_image: one test per bad-input class and per mode conversion, values asserted."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from openbanana.errors import ImageLoadError
from openbanana.io import (
    ALPHA_BACKGROUND,
    as_rgb_uint8,
    decode_png16,
    encode_png16,
    iter_inputs,
    list_inputs,
    load_image,
    load_png16,
    save_png16,
)


def _png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def _rgb(h=6, w=8, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------- good inputs, exact values


def test_rgb_png_round_trip_from_path_bytes_and_fileobj(tmp_path):
    rgb = _rgb()
    data = _png_bytes(Image.fromarray(rgb))
    path = tmp_path / "a.png"
    path.write_bytes(data)
    for src in (path, str(path), data, bytearray(data), io.BytesIO(data), Image.fromarray(rgb)):
        out = load_image(src)
        assert out.dtype == np.uint8 and out.shape == (6, 8, 3) and out.flags.c_contiguous
        np.testing.assert_array_equal(out, rgb)


def test_grayscale_is_repeated_over_channels():
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    out = load_image(_png_bytes(Image.fromarray(gray, "L")))
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))


def test_one_bit_image():
    bits = Image.fromarray((np.arange(16).reshape(4, 4) % 2).astype(bool))
    assert bits.mode == "1"
    out = load_image(_png_bytes(bits))
    assert set(np.unique(out).tolist()) == {0, 255}
    assert out[0, 1, 0] == 255 and out[0, 0, 0] == 0


def test_sixteen_bit_grayscale_scaled_from_full_range():
    vals = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    out = load_image(encode_png16(vals))
    np.testing.assert_array_equal(out[..., 0], [[0, 1, 255, 128]])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_sixteen_bit_rgb_png():
    vals = np.zeros((2, 2, 3), np.uint16)
    vals[0, 0] = (65535, 0, 257 * 100)
    out = load_image(encode_png16(vals))
    np.testing.assert_array_equal(out[0, 0], [255, 0, 100])


def test_rgba_composited_over_documented_background():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red
    rgba[0, 1] = (255, 0, 0, 0)  # fully transparent -> background
    rgba[1, 0] = (0, 0, 0, 128)  # half black over white -> mid gray
    out = load_image(_png_bytes(Image.fromarray(rgba, "RGBA")))
    assert ALPHA_BACKGROUND == (255, 255, 255)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 1], ALPHA_BACKGROUND)
    assert abs(int(out[1, 0, 0]) - 127) <= 1
    custom = load_image(_png_bytes(Image.fromarray(rgba, "RGBA")), background=(0, 0, 255))
    np.testing.assert_array_equal(custom[0, 1], [0, 0, 255])


def test_palette_image_with_and_without_transparency():
    pal = Image.new("P", (3, 1))
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putdata([0, 1, 1])
    np.testing.assert_array_equal(
        load_image(_png_bytes(pal))[0], [[10, 20, 30], [200, 100, 50], [200, 100, 50]]
    )
    out = load_image(_png_bytes(pal, transparency=0))
    np.testing.assert_array_equal(out[0, 0], ALPHA_BACKGROUND)
    np.testing.assert_array_equal(out[0, 1], [200, 100, 50])


def test_cmyk_jpeg_is_converted_to_rgb():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(_png_bytes(cmyk, format="JPEG", quality=95))
    assert out.shape == (8, 8, 3)
    r, g, b = out[4, 4].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_exif_rotation_applied_before_use():
    rgb = np.zeros((2, 4, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)  # red in the top-left corner of the stored pixels
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    data = _png_bytes(img, format="JPEG", quality=100, exif=exif.tobytes(), subsampling=0)
    out = load_image(data)
    assert out.shape == (4, 2, 3)  # upright: width and height swap
    assert out[0, 1, 0] > 200 and out[0, 0, 0] < 80  # top-left went to the top-right


def test_multiframe_gif_gives_first_frame():
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = load_image(buf.getvalue())
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50


def test_arrays_through_the_same_rules():
    np.testing.assert_array_equal(as_rgb_uint8(np.full((2, 2), 65535, np.uint16)), np.full((2, 2, 3), 255))
    np.testing.assert_array_equal(load_image(np.full((2, 2, 1), 0.5)), np.full((2, 2, 3), 128))
    with pytest.raises(ImageLoadError, match="float images"):
        as_rgb_uint8(np.full((2, 2, 3), 2.0))
    with pytest.raises(ImageLoadError, match="shape"):
        as_rgb_uint8(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(ImageLoadError, match="dtype"):
        as_rgb_uint8(np.zeros((2, 2, 3), np.int64))


# ---------------------------------------------------------------- bad inputs, one test per class


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(tmp_path / "e.png")


def test_non_image_text_file(tmp_path):
    (tmp_path / "notes.png").write_text("hello, I am not a picture\n")
    with pytest.raises(ImageLoadError, match="not an image.*text"):
        load_image(tmp_path / "notes.png")


def test_corrupt_file_random_bytes_after_png_signature():
    data = b"\x89PNG\r\n\x1a\n" + bytes(np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8))
    with pytest.raises(ImageLoadError):
        load_image(data)


def test_corrupt_pixel_data():
    data = bytearray(_png_bytes(Image.fromarray(_rgb(32, 32))))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 60] = b"\x00" * 50  # clobber the zlib stream
    with pytest.raises(ImageLoadError, match="corrupt|truncated"):
        load_image(bytes(data))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(fmt):
    data = _png_bytes(Image.fromarray(_rgb(64, 64)), format=fmt)
    with pytest.raises(ImageLoadError, match="truncated|corrupt"):
        load_image(data[: len(data) // 2])


def test_truncated_lazily_opened_pil_image():
    data = _png_bytes(Image.fromarray(_rgb(64, 64)))
    lazy = Image.open(io.BytesIO(data[: len(data) // 2]))  # Pillow reads only the header here
    with pytest.raises(ImageLoadError, match="truncated|corrupt"):
        load_image(lazy)


def test_decompression_bomb_refused_before_decoding():
    # a 20000 x 20000 grayscale PNG header over a tiny stream: the header alone must refuse it (if the
    # loader decoded first, it would report a truncated file instead of the pixel count)
    w = h = 20000
    rows = zlib.compress(b"\x00" * (w + 1) * 8, 9)
    header = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])

    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    assert len(bomb) < 1_000_000
    with pytest.raises(ImageLoadError, match="pixels|bomb"):
        load_image(bomb)  # 400 MP: above Pillow's own MAX_IMAGE_PIXELS as well
    with pytest.raises(ImageLoadError, match="bomb"):
        load_image(bomb, max_pixels=10**12)  # our cap lifted: Pillow's limit still refuses it


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims ``w x h`` over a few bytes of pixel stream."""
    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b"")


@pytest.mark.parametrize("side", [12000, 20000])  # 144 MP (over Pillow's 89 MP warning), 400 MP (its error)
def test_an_image_over_pillows_limit_is_refused_citing_our_cap(tmp_path, side):
    with pytest.raises(ImageLoadError, match=rf"{side * side:,} pixels, more than the cap of 16,000,000") as exc:
        load_image(_png_header(side, side), max_pixels=16_000_000)
    assert "89478485" not in str(exc.value) and "178956970" not in str(exc.value)
    # the demo's loader says the 16 MP it documents
    from openbanana.errors import OpenBananaError
    from openbanana.server.app import MAX_PIXELS, Demo

    path = tmp_path / "big.png"
    path.write_bytes(_png_header(side, side))
    with pytest.raises(OpenBananaError, match=rf"^big\.png: image is {side * side:,} pixels, more than the cap of "
                       rf"{MAX_PIXELS:,}"):
        Demo(pipe=None).load(str(path))


def test_huge_image_over_our_cap():
    data = _png_bytes(Image.new("RGB", (300, 200)))
    with pytest.raises(ImageLoadError, match="60,000 pixels, more than the cap of 50,000"):
        load_image(data, max_pixels=50_000)
    assert load_image(data, max_pixels=60_000).shape == (200, 300, 3)


def test_file_over_byte_cap(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_png_bytes(Image.fromarray(_rgb(64, 64))))
    with pytest.raises(ImageLoadError, match="larger than the cap"):
        load_image(path, max_bytes=100)


def test_wrong_type():
    with pytest.raises(TypeError, match="expected a path"):
        load_image(12345)


# ---------------------------------------------------------------- inputs: files, folders, globs


def test_list_inputs_file_folder_glob(tmp_path):
    for name in ("b.png", "a.JPG", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.png").write_bytes(b"x")
    assert [p.name for p in list_inputs(tmp_path)] == ["a.JPG", "b.png"]
    assert [p.name for p in list_inputs(tmp_path, recursive=True)] == ["a.JPG", "b.png", "d.png"]
    assert [p.name for p in list_inputs(str(tmp_path / "*.png"))] == ["b.png"]
    # explicitly named files are taken whatever their suffix; duplicates are dropped
    assert [p.name for p in list_inputs([tmp_path / "c.txt", tmp_path / "b.png", tmp_path])] == [
        "c.txt",
        "b.png",
        "a.JPG",
    ]
    assert [p.name for p in iter_inputs(str(tmp_path / "**" / "*.png"))] == ["b.png", "d.png"]


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ImageLoadError, match="folder contains no image files"):
        list_inputs(tmp_path)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ImageLoadError, match="1 other file"):
        iter_inputs(tmp_path)  # raised at the call, not lazily


def test_glob_without_matches_and_missing_path(tmp_path):
    with pytest.raises(ImageLoadError, match="pattern matches no image"):
        list_inputs(str(tmp_path / "*.png"))
    with pytest.raises(ImageLoadError, match="no such file or folder"):
        list_inputs(tmp_path / "missing.png")


# ---------------------------------------------------------------- 16-bit PNG codec


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (1, 1)])
def test_png16_round_trip_exact(tmp_path, shape):
    arr = np.random.default_rng(1).integers(0, 65536, shape, dtype=np.uint16)
    path = save_png16(tmp_path / "x.png", arr)
    np.testing.assert_array_equal(load_png16(path), arr)
    # an independent reader agrees: Pillow reads 16-bit grayscale exactly and RGB to 8 bits
    with Image.open(path) as im:
        if len(shape) == 2:
            np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), arr)
        else:
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), arr >> 8)


def test_png16_reads_pillow_files_with_all_filters():
    # Pillow chooses adaptive filters (Average, Paeth...) on a smooth image; our reader inverts them all
    yy, xx = np.mgrid[0:9, 0:11]
    rgb = ((xx * 23 + yy * 7) % 256).astype(np.uint8)[..., None].repeat(3, 2)
    rgb[..., 1] = (yy * 29) % 256
    data = _png_bytes(Image.fromarray(rgb), optimize=True)
    np.testing.assert_array_equal(decode_png16(data), rgb)


def test_png16_rejects_bad_values():
    with pytest.raises(ValueError, match="0, 65535"):
        encode_png16(np.array([[70000]]))
    with pytest.raises(TypeError, match="integer"):
        encode_png16(np.zeros((2, 2), np.float32))
    with pytest.raises(ImageLoadError, match="not a PNG"):
        decode_png16(b"GIF89a....")


def test_list_inputs_and_path_kind_survive_names_too_long_for_the_system(tmp_path):
    from openbanana.io.images import path_kind

    text = "Semantic segmentation. Paint every pixel with the colour of its class: " + "floor: (128, 64, 0); " * 40
    assert path_kind(text) is None and path_kind("a\x00b") is None
    (tmp_path / "a.png").write_bytes(b"x")
    assert path_kind(tmp_path / "a.png") == "file" and path_kind(tmp_path) == "dir"
    with pytest.raises(ImageLoadError) as err:
        list_inputs(text)
    assert str(err.value) == f"{text[:80].rstrip()}…: no such file or folder"
