"""Server-sent events: a write over the API shows up as a `block` event on a live server."""

from __future__ import annotations

import json
import threading

import httpx

from tests.server.live import live_server

API = "/api/v1/channels/mychannel"


def _read_events(response: httpx.Response, want: int, out: list[dict], ready: threading.Event):
    event = None
    for line in response.iter_lines():
        if line.startswith(": stream from block"):
            ready.set()
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "block":
            out.append(json.loads(line[6:]))
            if len(out) >= want:
                return


def test_block_event_after_a_write(fresh):
    with live_server(fresh.path) as base, httpx.Client(base_url=base, timeout=30) as c:
        events: list[dict] = []
        ready = threading.Event()
        url = f"{API}/events?access_token={fresh.tokens['read']}"
        with c.stream("GET", url) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            reader = threading.Thread(target=_read_events, args=(stream, 1, events, ready))
            reader.start()
            assert ready.wait(20)
            r = c.post(
                f"{API}/contracts/datacontract/transactions",
                headers=fresh.auth("write"),
                json={"function": "storeData", "args": ["live", "1"]},
            )
            assert r.status_code == 200
            reader.join(30)
        assert not reader.is_alive()
        block = c.get(f"{API}/blocks/{r.json()['block']}", headers=fresh.auth("read")).json()
        assert events == [
            {
                "number": block["number"],
                "tx_count": 1,
                "data_hash": block["data_hash"],
                "time": block["first_timestamp"],
            }
        ]


def test_events_replay_from_a_block_and_refuse_strangers(fresh):
    with live_server(fresh.path) as base, httpx.Client(base_url=base, timeout=30) as c:
        assert c.get(f"{API}/events").status_code == 401
        bad = c.get(f"{API}/events?access_token={fresh.tokens['wrong']}")
        assert bad.status_code == 401
        events: list[dict] = []
        ready = threading.Event()
        with c.stream("GET", f"{API}/events?from=2", headers=fresh.auth("read")) as stream:
            _read_events(stream, 3, events, ready)
        assert [e["number"] for e in events] == [2, 3, 4]
