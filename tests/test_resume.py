"""Reconnect and resume across server processes (PROTOCOL.md "Reconnecting")."""
import signal

import pytest
from chatclient import Socket, guest_session

from conftest import pair_guests, resume_on

pytestmark = pytest.mark.e2e


def texts(frames):
    return [f["text"] for f in frames]


def test_resume_on_other_process_gets_every_missed_line_once(start_server, redis_url):
    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    (a, session_a), (b, _), conversation = pair_guests(one.url, two.url)
    a.send({"type": "message", "text": "before"})
    last_id = a.expect("message")["id"]
    b.expect("message")
    a.sock.close()  # the network drops: no close frame
    assert b.expect("partner_reconnecting")["type"] == "partner_reconnecting"
    for n in range(5):
        b.send({"type": "message", "text": f"while away {n}"})
        b.expect("message")

    a2, resumed = resume_on(two.url, session_a, conversation, last_id)
    assert resumed["conversation"] == conversation
    assert texts(resumed["missed"]) == [f"while away {n}" for n in range(5)]
    assert all(f["from"] == "partner" for f in resumed["missed"])
    b.expect("partner_back")

    b.send({"type": "message", "text": "after"})
    b.expect("message")
    assert a2.expect("message")["text"] == "after"
    a2.send({"type": "message", "text": "back"})
    assert b.expect("message")["text"] == "back"


def test_resume_with_null_after_replays_the_whole_conversation(start_server, redis_url):
    server = start_server(redis_url=redis_url)
    (a, session_a), (b, _), conversation = pair_guests(server.url, server.url)
    for text in ("one", "two"):
        b.send({"type": "message", "text": text})
        b.expect("message")
        a.expect("message")
    a.sock.close()
    _, resumed = resume_on(server.url, session_a, conversation, None)
    assert texts(resumed["missed"]) == ["one", "two"]


def test_resume_after_grace_window_is_refused_and_partner_told(start_server, redis_url):
    one = start_server(redis_url=redis_url, RECONNECT_GRACE_SECONDS="1")
    (a, session_a), (b, _), conversation = pair_guests(one.url, one.url)
    a.sock.close()
    b.expect("partner_reconnecting")
    assert b.expect("partner_left", 10)["reason"] == "disconnected"
    late = Socket(one.url, session_a)
    late.expect("welcome")
    late.send({"type": "resume", "conversation": conversation, "after": None})
    assert late.expect("error")["code"] == "not_in_conversation"


def test_resume_of_someone_elses_conversation_is_refused(start_server, redis_url):
    server = start_server(redis_url=redis_url)
    _, _, conversation = pair_guests(server.url, server.url)
    stranger = Socket(server.url, guest_session(server.url))
    stranger.expect("welcome")
    stranger.send({"type": "resume", "conversation": conversation, "after": None})
    assert stranger.expect("error")["code"] == "not_in_conversation"


def test_sigterm_closes_sockets_with_1012_and_clients_resume_elsewhere(start_server,
                                                                        redis_url):
    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    (a, session_a), (b, _), conversation = pair_guests(one.url, two.url)
    one.process.send_signal(signal.SIGTERM)
    assert a.recv(10) is None
    assert a.close_code == 1012
    b.send({"type": "message", "text": "during the restart"})
    b.expect("message")
    a2, resumed = resume_on(two.url, session_a, conversation, None)
    assert texts(resumed["missed"]) == ["during the restart"]


def test_sigkill_of_a_process_loses_no_conversation(start_server, redis_url):
    one, two = start_server(redis_url=redis_url), start_server(redis_url=redis_url)
    (a, session_a), (b, _), conversation = pair_guests(one.url, two.url)
    a.send({"type": "message", "text": "hello"})
    last_id = a.expect("message")["id"]
    b.expect("message")
    one.process.send_signal(signal.SIGKILL)
    one.process.wait()
    assert b.expect("partner_reconnecting", 15)
    b.send({"type": "message", "text": "are you there?"})
    b.expect("message")
    a2, resumed = resume_on(two.url, session_a, conversation, last_id)
    assert texts(resumed["missed"]) == ["are you there?"]
    b.expect("partner_back")
