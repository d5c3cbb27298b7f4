"""The one serving helper: a free loopback port, keep-alive connections, a clean stop."""
import socket
import time

import pytest
import requests
from flask import Flask, request

from common.serving import serve


def make_app() -> Flask:
    app = Flask("served")

    @app.post("/echo")
    def echo():
        return {"length": len(request.get_data()), "peer": request.remote_addr}

    return app


def test_serves_on_a_free_loopback_port_and_keeps_connections_open():
    with serve(make_app()) as served:
        assert served.url.startswith("http://127.0.0.1:") and served.port > 0
        with requests.Session() as session:
            first = session.post(f"{served.url}/echo", data=b"x" * 70_000)
            second = session.post(f"{served.url}/echo", data=b"y")
        assert first.json() == {"length": 70_000, "peer": "127.0.0.1"}
        assert second.json()["length"] == 1
        assert first.headers.get("Connection", "keep-alive").lower() != "close"
        assert "Server" not in first.headers  # no implementation advertised


def test_stop_closes_the_port_and_open_connections():
    served = serve(make_app())
    session = requests.Session()
    session.post(f"{served.url}/echo", data=b"1")
    served.stop()
    with pytest.raises(requests.ConnectionError):
        session.post(f"{served.url}/echo", data=b"2")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=1)
    served.stop()  # stopping twice is harmless


def test_stop_survives_the_loop_closing_the_trigger_before_our_own_pull(monkeypatch):
    """A worker that just answered a request has pulled the trigger too: the loop may wake for
    that byte, run our close thunk and close the trigger before stop() writes its own byte."""
    served = serve(make_app())
    trigger = served._server.trigger
    own_pull = trigger._physical_pull

    def late_pull():
        own_pull()  # stands for the worker's earlier pull: the loop wakes and runs the thunk
        for _ in range(500):
            if trigger._closed:
                break
            time.sleep(0.01)
        own_pull()  # our own byte, now to a closed pipe

    monkeypatch.setattr(trigger, "_physical_pull", late_pull)
    served.stop()
    assert not served._thread.is_alive()
