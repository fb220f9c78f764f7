"""The tests' free-port helper starts again on another port when a race was lost."""

import socket

import pytest

import net


def test_a_start_that_lost_its_port_is_tried_again_on_another(monkeypatch):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        ports = iter([held, held])  # the first two "free" ports are taken meanwhile
        real = net.free_port
        monkeypatch.setattr(net, "free_port", lambda: next(ports, None) or real())
        tried = []

        def start(port):
            tried.append(port)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError as e:
                    raise net.PortTaken(port) from e
            return port

        port = net.on_free_port(start)
    assert tried[:2] == [held, held] and port == tried[-1] != held and len(tried) == 3

    def always_taken(port):
        raise net.PortTaken(port)

    with pytest.raises(net.PortTaken):  # not forever: the last attempt's error is raised
        net.on_free_port(always_taken, attempts=2)
    assert net.taken("rnnkit: error: cannot listen on 127.0.0.1:80 (Address already in use)")
    assert net.taken("code: -98, name: EADDRINUSE") and not net.taken("connection refused")
