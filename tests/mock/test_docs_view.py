"""The fake serves the contract's documentation at /docs/ (what `make docs` built) and the contract's YAML,
and says how to build the HTML when it is not there. The rendered page itself is read by a browser in
tests/browser/test_contract_docs.py."""
from __future__ import annotations

import dataclasses

import pytest

from contract import spec_path
from mock_agentbuddy import create_app, stop_background

from .mock_helpers import small_config


@pytest.fixture
def docs_client(tmp_path):
    def make(docs_dir):
        app = create_app(dataclasses.replace(small_config(), docs_dir=docs_dir))
        apps.append(app)
        return app.test_client()

    apps: list = []
    yield make
    for app in apps:
        stop_background(app)


def test_a_built_folder_is_served_at_docs(docs_client, tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html><body>rendered contract</body></html>")
    (tmp_path / "errors.html").write_text("<html><body>catalogue</body></html>")
    (tmp_path / "assets" / "mermaid.min.js").write_text("// mermaid")
    client = docs_client(str(tmp_path))
    moved = client.get("/docs")
    assert moved.status_code == 308 and moved.headers["Location"].endswith("/docs/")
    page = client.get("/docs/")
    assert page.status_code == 200 and b"rendered contract" in page.data and page.mimetype == "text/html"
    assert client.get("/docs/errors.html").data == b"<html><body>catalogue</body></html>"
    assert client.get("/docs/assets/mermaid.min.js").status_code == 200
    assert client.get("/docs/../secret").status_code == 404
    assert client.get("/docs/nothing.html").status_code == 404


def test_the_raw_contract_is_always_linked(docs_client, tmp_path):
    client = docs_client(str(tmp_path / "absent"))
    for path in ("/openapi.yaml", "/docs/agentbuddy.yaml"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.mimetype == "application/yaml"
        assert answer.data == spec_path().read_bytes()


def test_without_the_html_the_page_says_how_to_build_it(docs_client, tmp_path):
    client = docs_client(str(tmp_path / "absent"))
    page = client.get("/docs/")
    assert page.status_code == 404 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "make docs" in text and "--docs-dir" in text and 'href="agentbuddy.yaml"' in text
    assert str(tmp_path / "absent") in text
    assert docs_client(None).get("/docs/").status_code == 404
