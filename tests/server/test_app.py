"""The Gradio demo over HTTP: the app is launched on a free port in this process (a tiny random
pipeline loaded from disk) and called with ``gradio_client`` and raw HTTP, as a remote user would."""

from __future__ import annotations

import inspect
import socket

import numpy as np
import pytest
from PIL import Image
from surfaces_helpers import BAD, ODD_GOOD

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file

from openbanana.server import app as server_app

MAX_BYTES = 200_000
MAX_PIXELS = 1_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pipe(model_dir):
    from openbanana.pipeline import OpenBananaPipeline

    return OpenBananaPipeline.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def url(pipe):
    app = server_app.build_app(pipe, max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES, queue_size=4)
    port = _free_port()
    server_app.launch(app, port=port, max_bytes=MAX_BYTES, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def client(url):
    return Client(url, verbose=False)


def _predict(client, path, task="depth", instruction=""):
    return client.predict(handle_file(str(path)), task, instruction, 0, 0, api_name="/predict")


def test_defaults_are_safe(pipe):
    sig = inspect.signature(server_app.launch)
    assert sig.parameters["host"].default == "127.0.0.1"
    assert server_app.MAX_UPLOAD_BYTES == 10 * 2**20 and server_app.MAX_PIXELS == 16_000_000
    assert server_app.QUEUE_SIZE == 16
    app = server_app.build_app(pipe)  # the queue is capped on the app itself
    assert app._queue.max_size == server_app.QUEUE_SIZE
    assert app._queue.default_concurrency_limit == server_app.CONCURRENCY


def test_depth_then_click_reads_metres(client, inputs, pipe):
    generated, view, summary, *_ = _predict(client, inputs["rgb"])
    gen = np.asarray(Image.open(generated))
    api = pipe.predict(np.asarray(Image.open(inputs["rgb"])), task="depth")
    np.testing.assert_array_equal(gen, api.generated)
    assert np.asarray(Image.open(view)).shape == (24, 36, 3)
    assert "depth" in summary and " m" in summary
    readout = client.predict(3, 4, api_name="/depth_at")
    assert readout == f"depth at (3, 4) = {api.answer[4, 3]:.2f} m"


@pytest.mark.parametrize("task", ["depth", "normals", "instance", "referring"])
def test_each_task_runs(client, inputs, task):
    instr = "segment the red car in (255, 0, 0)" if task == "referring" else ""
    generated, view, summary, *_ = _predict(client, inputs["rgb"], task, instr)
    assert np.asarray(Image.open(generated)).shape == (24, 36, 3)
    assert view is not None and f"`{task}`" in summary


def test_referring_without_instruction_says_what_to_type(client, inputs):
    with pytest.raises(Exception, match="needs an instruction saying what to segment"):
        _predict(client, inputs["rgb"], "referring")


def test_free_instruction_with_palette_in_any_notation(client, inputs):
    instr = "Semantic segmentation: the sky is #4682B4, the road is (128, 64, 128), trees are dark green"
    _, _view, summary, *_ = _predict(client, inputs["rgb"], server_app.CUSTOM, instr)
    assert "`semantic`" in summary and "distinct values" in summary


def test_text_to_image_and_edit_tabs(client, inputs):
    out = client.predict("a red ball on a wooden floor", 0, 0, api_name="/generate")
    assert np.asarray(Image.open(out)).ndim == 3
    out = client.predict(handle_file(str(inputs["rgb"])), "make the sky purple", 0, 0, api_name="/edit")
    assert np.asarray(Image.open(out)).shape == (24, 36, 3)


@pytest.mark.parametrize("name", ODD_GOOD)
def test_odd_but_valid_uploads(client, inputs, name):
    generated, *_ = _predict(client, inputs[name])
    shape = np.asarray(Image.open(generated)).shape
    assert shape == ((36, 24, 3) if name == "exif_rotated" else (24, 36, 3))


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_upload_is_a_message(client, inputs, name):
    with pytest.raises(Exception) as info:
        _predict(client, inputs[name])
    msg = str(info.value)
    assert BAD[name] in msg and inputs[name].name in msg
    assert "Traceback" not in msg and "/tmp" not in msg


def test_bad_upload_in_edit_tab(client, inputs):
    with pytest.raises(Exception, match="not an image"):
        client.predict(handle_file(str(inputs["not_image"])), "make it blue", 0, 0, api_name="/edit")


def test_oversize_upload_is_413(url):
    import httpx

    r = httpx.post(
        f"{url}gradio_api/upload", files={"files": ("big.png", b"\0" * (MAX_BYTES + 1), "image/png")}
    )
    assert r.status_code == 413 and "maximum allowed size" in r.text
    r = httpx.post(f"{url}gradio_api/upload", files={"files": ("ok.png", b"\0" * 1000, "image/png")})
    assert r.status_code == 200


def test_unknown_task_is_refused(client, inputs):
    with pytest.raises(Exception, match="depht"):
        _predict(client, inputs["rgb"], "depht")


def test_instruction_without_parsable_palette(client, inputs):
    with pytest.raises(Exception, match="class -> colour"):
        _predict(
            client,
            inputs["rgb"],
            server_app.CUSTOM,
            "semantic segmentation with these colours: sky is blorple",
        )


def test_missing_image_empty_instruction_long_text(client, inputs):
    with pytest.raises(Exception, match="upload an image"):
        client.predict(None, "depth", "", 0, 0, api_name="/predict")
    with pytest.raises(Exception, match="choose a task or type an instruction"):
        _predict(client, inputs["rgb"], server_app.CUSTOM, "")
    with pytest.raises(Exception, match="characters long"):
        _predict(client, inputs["rgb"], server_app.CUSTOM, "x" * (server_app.MAX_INSTRUCTION_CHARS + 1))
    with pytest.raises(Exception, match="type a prompt"):
        client.predict("", 0, 0, api_name="/generate")


def test_click_before_depth_says_what_to_do(url):
    fresh = Client(url, verbose=False)  # a new session has no depth yet
    assert "Run the depth task first" in fresh.predict(1, 1, api_name="/depth_at")


def test_serve_command_with_a_bad_model_is_one_line(tmp_path, capsys):
    from openbanana.cli import main

    with pytest.raises(SystemExit) as info:
        main(["serve", "--model", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "no such folder" in err and "Traceback" not in err


@pytest.mark.slow
def test_serve_command_binds_loopback_only(model_dir):
    import subprocess
    import sys
    import time

    import httpx

    psutil = pytest.importorskip("psutil")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openbanana", "serve", "--model", str(model_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.time() < deadline, "server did not come up"
            time.sleep(0.5)
        listening = [c.laddr.ip for c in psutil.Process(proc.pid).net_connections() if c.status == "LISTEN"]
        assert listening == ["127.0.0.1"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
