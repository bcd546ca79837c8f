"""Dataset lookup order and the checksummed, safe download — against a zip served on loopback."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthneg.data import load_beir, resolve_dataset
from synthneg.data.locate import download_beir, safe_extract
from synthneg.errors import DataError, SynthnegError

from conftest import make_beir


def _zip_folder(folder: Path, arcroot: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f"{arcroot}/{f.relative_to(folder)}")
    return buf.getvalue()


@pytest.fixture
def zip_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{{name}}.zip", files, hits
    finally:
        server.shutdown()


def test_download_verifies_and_caches(tmp_path: Path, zip_server) -> None:
    url, files, hits = zip_server
    body = _zip_folder(make_beir(tmp_path / "src"), "tinyset")
    files["/tinyset.zip"] = body
    md5 = hashlib.md5(body).hexdigest()
    dest = tmp_path / "cache"
    folder = download_beir("tinyset", base_url=url, md5=md5, dest_root=dest, show_progress=False)
    assert folder == (dest / "tinyset").resolve()
    assert len(load_beir(folder).corpus) == 6
    again = download_beir("tinyset", base_url=url, md5=md5, dest_root=dest, show_progress=False)
    assert again == folder and hits == ["/tinyset.zip"]  # second call: no request


def test_checksum_mismatch_keeps_nothing(tmp_path: Path, zip_server) -> None:
    url, files, _ = zip_server
    files["/tinyset.zip"] = _zip_folder(make_beir(tmp_path / "src"), "tinyset")
    dest = tmp_path / "cache"
    with pytest.raises(SynthnegError, match="checksum mismatch"):
        download_beir("tinyset", base_url=url, md5="0" * 32, dest_root=dest, show_progress=False)
    assert not (dest / "tinyset").exists()
    assert list(dest.iterdir()) == []


def test_http_error_is_clear(tmp_path: Path, zip_server) -> None:
    url, _, _ = zip_server
    with pytest.raises(SynthnegError, match=r"download of .*missing\.zip failed"):
        download_beir("missing", base_url=url, md5="0" * 32, dest_root=tmp_path, show_progress=False)


def test_zip_slip_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/corpus.jsonl", "{}\n")
        zf.writestr("../../escaped.txt", "gotcha")
    target = tmp_path / "out" / "inner"
    with pytest.raises(DataError, match="escapes the target folder"):
        safe_extract(archive, target)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "escaped.txt").exists()


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_beir(tmp_path / "env" / "beir" / "tinyset")
    make_beir(tmp_path / "explicit" / "tinyset")
    monkeypatch.setenv("SYNTHNEG_DATA", str(tmp_path / "env"))
    assert resolve_dataset("tinyset") == tmp_path / "env" / "beir" / "tinyset"
    assert resolve_dataset("tinyset", data_dir=tmp_path / "explicit") == tmp_path / "explicit" / "tinyset"
    assert resolve_dataset(str(tmp_path / "explicit" / "tinyset")) == tmp_path / "explicit" / "tinyset"
    with pytest.raises(DataError, match="not found under --data-dir"):
        resolve_dataset("nope", data_dir=tmp_path / "explicit")
    with pytest.raises(SynthnegError, match="unknown dataset 'nope'"):
        resolve_dataset("nope")


def test_shared_data_found(scifact_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHNEG_DATA", raising=False)
    assert resolve_dataset("scifact").resolve() == scifact_dir.resolve()
