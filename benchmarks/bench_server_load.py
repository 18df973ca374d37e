"""The web demo under load: many concurrent requests, good and bad, against a real server.

    .venv/bin/python benchmarks/bench_server_load.py                 # 200 requests, all at once
    .venv/bin/python benchmarks/bench_server_load.py --n 20          # a quick run
    .venv/bin/python benchmarks/bench_server_load.py --model runs/x  # a real pipeline (default: tiny random)

The server runs in its own process, exactly as ``openbanana serve`` builds it (the demo's own caps:
10 MiB uploads, 16 MP images, a queue of 16, one request at a time), on 127.0.0.1 and a free
port. The client fires ``--n`` requests from ``--concurrency`` threads (default: all at once),
each one of these kinds, in a seeded mix:

- ``valid``: a small PNG, depth task (upload, then ``/call/predict``);
- ``bomb-400MP`` / ``bomb-144MP``: PNG headers claiming 20000 x 20000 and 12000 x 12000 pixels
  over a few KB (over Pillow's own limits and over the demo's 16 MP cap);
- ``upload-12MB``: a 12 MB upload (over the 10 MiB cap: HTTP 413);
- ``text-file``: a text file named ``.png``;
- ``truncated-jpeg``: a JPEG cut at 60 %;
- ``malformed``: bodies that are not what the API takes (not JSON, wrong arity, a broken
  multipart upload, a path that was never uploaded);
- ``stalled``: a client that sends headers promising 1 MB and a few bytes, then nothing, and
  closes after ``--stall-s`` seconds.

Every request is bounded (``--timeout`` s; stalls by ``--stall-s``) and so is the run
(``--max-seconds``). It prints one table, requests by kind and outcome (an outcome is expected
when it is the documented one: a result, the loader's one-line message, 413, 503 "queue full",
4xx for malformed bodies); then the server's peak RSS (VmHWM) and RSS before and after, the
unexpected outcomes, the tracebacks in the server's log, whether a valid request still succeeds
after the load, and the seconds taken.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np

EXPECTED_WORDS = {  # kind -> a word the loader's message for it contains
    "bomb-400MP": "more than the cap of 16,000,000",
    "bomb-144MP": "more than the cap of 16,000,000",
    "text-file": "not an image",
    "truncated-jpeg": "truncated",
}
MIX = {"valid": 40, "bomb-400MP": 8, "bomb-144MP": 7, "upload-12MB": 10, "text-file": 10, "truncated-jpeg": 10,
       "malformed": 10, "stalled": 5}


# ---------------------------------------------------------------------------- the server process
def build_tiny_pipeline(path: Path) -> Path:
    """A randomly initialised tiny pipeline (fast on a CPU), saved as a user would get it."""
    import torch

    from openbanana.backends.text import TextEncoderConfig
    from openbanana.backends.tiny import TinyBackend, TinyConfig
    from openbanana.pipeline import OpenBananaPipeline
    from openbanana.pipeline_config import PipelineConfig

    torch.manual_seed(0)
    cfg = TinyConfig(channels=8, channel_mults=(1, 2), num_res_blocks=1, attn_levels=(1,), heads=2, emb_dim=32,
                     text=TextEncoderConfig(dim=32, layers=1, heads=2))
    backend = TinyBackend(cfg)
    OpenBananaPipeline(backend, PipelineConfig(backend="tiny", resolution=32)).save_pretrained(path)
    return path


def serve(model: str, port: int) -> None:
    """The server process: the demo app with its default caps, until stdin closes."""
    from openbanana.pipeline import OpenBananaPipeline
    from openbanana.server.app import build_app, launch

    pipe = OpenBananaPipeline.from_pretrained(model)
    app = build_app(pipe)
    launch(app, port=port, block=False, quiet=True)
    print("ready", flush=True)
    sys.stdin.read()  # the parent closes our stdin to stop us
    app.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


# ---------------------------------------------------------------------------- payloads
def _png_header(w: int, h: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096, 9)) + chunk(
        b"IEND", b"")


def payloads(seed: int = 0) -> dict[str, tuple[str, bytes, str]]:
    """kind -> (file name, bytes, content type)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    png, jpg = io.BytesIO(), io.BytesIO()
    img.save(png, format="PNG")
    img.save(jpg, format="JPEG", quality=90)
    return {
        "valid": ("valid.png", png.getvalue(), "image/png"),
        "bomb-400MP": ("bomb400.png", _png_header(20000, 20000), "image/png"),
        "bomb-144MP": ("bomb144.png", _png_header(12000, 12000), "image/png"),
        "upload-12MB": ("big.png", png.getvalue() + bytes(rng.integers(0, 256, 12_000_000, dtype=np.uint8)),
                        "image/png"),
        "text-file": ("notes.png", b"this is a text file, not a picture\n" * 20, "image/png"),
        "truncated-jpeg": ("cut.jpg", jpg.getvalue()[: len(jpg.getvalue()) * 6 // 10], "image/jpeg"),
    }


# ---------------------------------------------------------------------------- one request
class Client:
    def __init__(self, url: str, timeout: float) -> None:
        import httpx

        self.url, self.timeout = url, timeout
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def upload(self, name: str, data: bytes, ctype: str) -> tuple[int, object]:
        r = self.http.post(f"{self.url}gradio_api/upload", files={"files": (name, data, ctype)})
        try:
            body = r.json()
        except ValueError:
            body = r.text
        return r.status_code, body

    def predict(self, path: str | None, task: str = "depth", instruction: str = "") -> tuple[str, str]:
        """(outcome, message) of one /predict call: complete, error (the message), or an HTTP status."""
        image = None if path is None else {"path": path, "meta": {"_type": "gradio.FileData"}}
        r = self.http.post(f"{self.url}gradio_api/call/predict", json={"data": [image, task, instruction, 0, 0]})
        if r.status_code != 200:
            return f"http {r.status_code}", r.text[:200]
        event_id = r.json()["event_id"]
        return self.result(event_id)

    def result(self, event_id: str) -> tuple[str, str]:
        event = None
        with self.http.stream("GET", f"{self.url}gradio_api/call/predict/{event_id}") as r:
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = line.split(":", 1)[1].strip()
                    if event == "error":
                        try:
                            parsed = json.loads(data)
                            data = parsed.get("message", data) if isinstance(parsed, dict) else str(parsed)
                        except ValueError:
                            pass
                    return event, str(data)
        return "stream ended", ""


def run_one(kind: str, i: int, url: str, files: dict, args: argparse.Namespace) -> tuple[str, str, bool]:
    """(outcome, detail, expected) of request ``i`` of ``kind``."""
    import httpx

    if kind == "stalled":
        return _stall(url, args.stall_s)
    client = Client(url, args.timeout)
    try:
        if kind == "malformed":
            return _malformed(client, i)
        name, data, ctype = files[kind]
        status, body = client.upload(name, data, ctype)
        if status == 413:
            return "413 upload too large", "", kind == "upload-12MB"
        if status != 200:
            return f"upload http {status}", str(body)[:120], False
        outcome, msg = client.predict(body[0])
        if outcome == "complete":
            return "ok", "", kind == "valid"
        if outcome == "http 503":
            return "503 queue full", "", True
        if outcome == "error":
            want = EXPECTED_WORDS.get(kind)
            if want is not None and want in msg and "Traceback" not in msg:
                return "refused, documented message", "", True
            return "refused, other message", msg[:160], False
        return outcome, msg[:160], False
    except httpx.TimeoutException:
        return "timeout", "", False
    except httpx.HTTPError as exc:
        return "connection error", f"{type(exc).__name__}: {exc}"[:160], False
    finally:
        client.close()


def _malformed(client: Client, i: int) -> tuple[str, str, bool]:
    u = client.url
    k = i % 4
    if k == 0:  # not JSON
        r = client.http.post(f"{u}gradio_api/call/predict", content=b"{not json", headers={
            "content-type": "application/json"})
    elif k == 1:  # wrong arity and types
        r = client.http.post(f"{u}gradio_api/call/predict", json={"data": [123, {"x": []}]})
    elif k == 2:  # a broken multipart body
        r = client.http.post(f"{u}gradio_api/upload", content=b"--xyz\r\nContent-Disposition: form-data; na",
                             headers={"content-type": "multipart/form-data; boundary=xyz"})
    else:  # a path that was never uploaded
        outcome, msg = client.predict("/etc/passwd")
        if outcome == "http 503":
            return "503 queue full", "", True
        ok = outcome == "error" and "root:" not in msg
        return ("refused, documented message" if ok else outcome), ("" if ok else msg[:160]), ok
    if r.status_code == 200 and k == 1:  # accepted into the queue: the handler must refuse it
        outcome, msg = client.result(r.json()["event_id"])
        return ("refused, other message" if outcome == "error" else outcome), msg[:120], outcome == "error"
    if r.status_code == 503:
        return "503 queue full", "", True
    if r.status_code == 200 and k == 2 and r.json() == []:
        return "200, nothing uploaded", "", True
    return (f"{r.status_code} malformed refused" if 400 <= r.status_code < 500 else f"http {r.status_code}"), \
        r.text[:120], 400 <= r.status_code < 500


def _stall(url: str, seconds: float) -> tuple[str, str, bool]:
    host, port = url.split("//")[1].rstrip("/").split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
                  b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n--xyz\r\n")
        s.settimeout(seconds)
        t0 = time.monotonic()
        try:
            got = s.recv(1024)
        except TimeoutError:
            return f"stalled {seconds:g} s, then closed by us", "", True
        except OSError as exc:
            return "stalled, reset by server", str(exc), True
        return ("stalled, closed by server" if not got else "stalled, answered"), \
            f"after {time.monotonic() - t0:.1f} s: {got[:40]!r}", True
    finally:
        s.close()


# ---------------------------------------------------------------------------- the run
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="requests (default 200)")
    ap.add_argument("--concurrency", type=int, default=0, help="client threads (default: --n, all at once)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    ap.add_argument("--stall-s", type=float, default=5.0, help="how long a stalled client holds its connection")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="bound on the whole run")
    ap.add_argument("--model", default=None, help="pipeline folder (default: a tiny random pipeline)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.model, args.port)
        return 0

    tmp = tempfile.TemporaryDirectory(prefix="openbanana-load-")
    model = args.model or str(build_tiny_pipeline(Path(tmp.name) / "model"))
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    log = open(Path(tmp.name) / "server.log", "w+")  # noqa: SIM115 -- read back at the end
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--model", model, "--port", str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        if server.stdout.readline().strip() != "ready":
            log.seek(0)
            print("the server did not start:\n" + log.read()[-3000:], file=sys.stderr)
            return 2
        url = f"http://127.0.0.1:{port}/"
        files = payloads(args.seed)
        rss_before = _rss_kb(server.pid)
        rng = random.Random(args.seed)
        # every kind at least once (when --n allows), the rest drawn by the weights of MIX
        kinds = list(MIX)[: args.n] + rng.choices(list(MIX), weights=list(MIX.values()), k=max(0, args.n - len(MIX)))
        rng.shuffle(kinds)
        peak = {"VmHWM": 0}
        done = threading.Event()

        def sample() -> None:  # VmHWM is the kernel's own peak; also keep the largest VmRSS seen
            while not done.wait(0.2):
                peak["VmHWM"] = max(peak["VmHWM"], _rss_kb(server.pid).get("VmHWM", 0))

        threading.Thread(target=sample, daemon=True).start()
        t0 = time.monotonic()
        results: list[tuple[str, str, str, bool]] = []
        workers = args.concurrency or args.n
        pool = cf.ThreadPoolExecutor(max_workers=workers)
        futures = {pool.submit(run_one, k, i, url, files, args): k for i, k in enumerate(kinds)}
        try:
            for fut in cf.as_completed(futures, timeout=args.max_seconds):
                kind = futures[fut]
                try:
                    outcome, detail, ok = fut.result()
                except Exception as exc:  # noqa: BLE001 -- a client-side failure is an outcome too
                    outcome, detail, ok = "client error", f"{type(exc).__name__}: {exc}"[:160], False
                results.append((kind, outcome, detail, ok))
        except cf.TimeoutError:
            for fut, kind in futures.items():
                if not fut.done():
                    results.append((kind, "unfinished at --max-seconds", "", False))
        pool.shutdown(wait=False, cancel_futures=True)
        load_s = time.monotonic() - t0
        after = Client(url, args.timeout)
        try:
            status, body = after.upload(*files["valid"])
            alive = status == 200 and after.predict(body[0])[0] == "complete"
        except Exception:  # noqa: BLE001
            alive = False
        finally:
            after.close()
        done.set()
        rss_after = _rss_kb(server.pid)
        peak_kb = max(peak["VmHWM"], rss_after.get("VmHWM", 0))
    finally:
        if server.poll() is None:
            server.stdin.close()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    log.seek(0)
    server_log = log.read()
    log.close()
    tmp.cleanup()

    table = collections.Counter((k, o) for k, o, _, _ in results)
    outcomes = sorted({o for _, o, _, _ in results})
    print(f"bench_server_load: --n {args.n}, {workers} client threads, per-request timeout {args.timeout:g} s, "
          f"stalls {args.stall_s:g} s; model {'tiny random' if args.model is None else args.model}\n")
    print("| kind | requests | " + " | ".join(outcomes) + " |")
    print("|---|---:|" + "---:|" * len(outcomes))
    for kind in MIX:
        row = [table.get((kind, o), 0) for o in outcomes]
        if sum(row):
            print(f"| {kind} | {sum(row)} | " + " | ".join(str(v) for v in row) + " |")
    unexpected = [(k, o, d) for k, o, d, ok in results if not ok]
    tracebacks = server_log.count("Traceback (most recent call last)")
    print()
    print(f"- requests: {len(results)} in {load_s:.1f} s ({len(results) / max(load_s, 1e-9):.1f}/s)")
    print(f"- server RSS: {rss_before.get('VmRSS', 0) / 1024:.0f} MB before, "
          f"{rss_after.get('VmRSS', 0) / 1024:.0f} MB after, peak {peak_kb / 1024:.0f} MB (VmHWM)")
    print(f"- unexpected outcomes: {len(unexpected)}; tracebacks in the server log: {tracebacks}")
    print(f"- a valid request after the load: {'ok' if alive else 'FAILED'}")
    for k, o, d in unexpected[:10]:
        print(f"    {k}: {o} {d}")
    if tracebacks:
        def last_line(block: str) -> str:  # the exception line (the log's next "ERROR: ..." header is not)
            lines = [ln for ln in block.strip().splitlines() if ln.strip()]
            while len(lines) > 1 and lines[-1].startswith(("ERROR:", "INFO:", "WARNING:")):
                lines.pop()
            return lines[-1][:160] if lines else ""

        kinds = collections.Counter(last_line(b) for b in server_log.split("Traceback (most recent call last)")[1:])
        for last, count in kinds.most_common(5):
            print(f"    server traceback x{count}: {last}")
    return 0 if alive and not unexpected else 1


if __name__ == "__main__":
    sys.exit(main())
