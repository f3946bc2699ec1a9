"""The model store: where models live, install and fetch by checksum, and how a model parameter resolves."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from mmfusion_annotate.errors import ConfigError, ModelError
from mmfusion_annotate.prelabel.model_store import (
    ENV_MODEL_DIR,
    MODEL_KEY,
    fetch,
    install,
    is_installed,
    known_model,
    model_dir,
    resolve_model,
)

DEIM = known_model("deimv2-femto")
YOLOX = known_model("yolox-nano")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(shared_models):
    """An HTTP server on 127.0.0.1 serving ../shared/models; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(shared_models))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


def test_the_model_directory_is_the_option_then_the_environment_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path / "env"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert model_dir(tmp_path / "opt") == tmp_path / "opt"
    assert model_dir() == tmp_path / "env"
    monkeypatch.delenv(ENV_MODEL_DIR)
    assert model_dir() == tmp_path / "xdg" / "mmfusion_annotate" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_dir() == tmp_path / "home" / ".local" / "share" / "mmfusion_annotate" / "models"


def test_install_copies_a_verified_file_and_nothing_else(tmp_path, shared_models):
    target = install(DEIM.name, shared_models / DEIM.file, tmp_path / "models")
    assert target == tmp_path / "models" / DEIM.file and is_installed(DEIM, tmp_path / "models")
    assert not is_installed(YOLOX, tmp_path / "models")
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [DEIM.file]  # no temporary file left


def test_install_refuses_a_file_that_is_not_the_model(tmp_path, shared_models):
    with pytest.raises(ModelError, match="larger than yolox-nano"):
        install(YOLOX.name, shared_models / DEIM.file, tmp_path)  # the bigger file: stopped while copying
    truncated = tmp_path / "short.onnx"
    truncated.write_bytes((shared_models / DEIM.file).read_bytes()[:1000])
    with pytest.raises(ModelError, match="not deimv2-femto .*1000 bytes"):
        install(DEIM.name, truncated, tmp_path / "models")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    with pytest.raises(ModelError, match="unknown model 'resnet'.*deimv2-femto, yolox-nano"):
        install("resnet", truncated, tmp_path)


def test_fetch_downloads_by_checksum(server, tmp_path):
    target = fetch(YOLOX.name, tmp_path, url=f"{server}/{YOLOX.file}")
    assert is_installed(YOLOX, tmp_path) and target.name == YOLOX.file
    with pytest.raises(ModelError, match="not deimv2-femto|larger than deimv2"):
        fetch(DEIM.name, tmp_path / "wrong", url=f"{server}/{YOLOX.file}")  # another file at that URL
    with pytest.raises(ModelError, match="cannot download .HTTP 404"):
        fetch(DEIM.name, tmp_path / "missing", url=f"{server}/nothing.onnx")
    assert not any((tmp_path / "wrong").iterdir())  # the partial download was removed
    assert not (tmp_path / "missing").exists()


def test_a_model_parameter_is_an_installed_name_or_a_file(model_dir, tmp_path, shared_models):
    assert resolve_model(DEIM.name, model_dir) == (model_dir / DEIM.file, "deimv2")
    assert resolve_model(str(shared_models / YOLOX.file), tmp_path) == (shared_models / YOLOX.file, None)
    with pytest.raises(ConfigError, match=f"key '{MODEL_KEY}'.*not installed.*mmfusion models fetch"):
        resolve_model(DEIM.name, tmp_path)
    with pytest.raises(ConfigError, match="neither a known model"):
        resolve_model(str(tmp_path / "missing.onnx"), tmp_path)
    (tmp_path / DEIM.file).write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="does not match the sha256"):
        resolve_model(DEIM.name, tmp_path)
