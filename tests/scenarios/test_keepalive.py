"""The replay's HTTP server keeps connections open without ever mixing up two requests."""
from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask, request

from scenarios.keepalive import make_server


@pytest.fixture
def server():
    app = Flask("ka")

    @app.post("/ignore")
    def ignore():  # never reads its body: the server must drain it before the next request
        return "ignored"

    @app.post("/echo")
    def echo():
        return request.get_data()

    @app.get("/hello")
    def hello():
        return {"hello": request.args.get("name"), "header": request.headers.get("X-Thing")}

    served = make_server("127.0.0.1", 0, app)
    accepted: list[int] = []
    original = served.process_request
    served.process_request = lambda req, addr: (accepted.append(1), original(req, addr))[1]
    thread = threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{served.server_port}", accepted
    served.shutdown()
    served.server_close()


def test_one_connection_carries_many_requests_even_when_a_body_is_left_unread(server):
    url, accepted = server
    with requests.Session() as http:
        assert http.post(f"{url}/ignore", data=b"x" * 70_000).text == "ignored"
        assert http.post(f"{url}/echo", data=b"second body").content == b"second body"
        answer = http.get(f"{url}/hello", params={"name": "Maria"}, headers={"X-Thing": "1"})
        assert answer.json() == {"hello": "Maria", "header": "1"}
        assert answer.headers["Content-Length"] == str(len(answer.content))
    assert len(accepted) == 1


def test_a_chunked_upload_is_refused_and_the_connection_closed(server):
    url, _ = server
    answer = requests.post(f"{url}/echo", data=iter([b"a", b"b"]))
    assert answer.status_code == 411 and answer.headers["Connection"] == "close"
