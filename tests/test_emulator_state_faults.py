"""State that survives restarts and crashes, and fault injection that says what was applied."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

ISSUERS = "/api/orgs/acme/oidc/issuers"


def issuer_count(emulator) -> int:
    return len(emulator.issuers("acme"))


# -- state ---------------------------------------------------------------------------------------


def test_issuers_policies_and_minted_tokens_survive_a_restart(emulator):
    issuer_id = emulator.trust_test_issuer()["id"]
    access_token = emulator.exchange(emulator.workload_token()).json()["access_token"]
    issuer = emulator.get(f"{ISSUERS}/{issuer_id}").json()
    policy = emulator.policy_of(issuer_id)

    emulator.restart()

    assert emulator.get(f"{ISSUERS}/{issuer_id}").json() == issuer
    assert emulator.policy_of(issuer_id) == policy and policy["version"] == 2
    user = emulator.get("/api/user", token=access_token)
    assert user.status_code == 200 and user.json()["githubLogin"] == "acme"
    # The restarted emulator has a new test-issuer key; the registered issuer picks it up.
    assert emulator.exchange(emulator.workload_token()).status_code == 200


def test_the_state_file_holds_no_token(emulator):
    emulator.trust_test_issuer()
    access_token = emulator.exchange(emulator.workload_token()).json()["access_token"]
    text = emulator.state_path.read_text()
    assert access_token not in text and emulator.access_token not in text
    assert len(json.loads(text)["tokens"]) == 1  # a SHA-256 of it, and what it is for


def test_a_crash_during_a_burst_of_writes_never_leaves_a_half_written_file(emulator):
    stop = threading.Event()

    def burst():
        with requests.Session() as session:
            session.headers["Authorization"] = "token " + emulator.access_token
            n = 0
            while not stop.is_set():
                try:
                    body = {"name": f"i{n}", "url": emulator.test_issuer_url}
                    session.post(emulator.url(ISSUERS), json=body, timeout=5)
                except requests.RequestException:
                    return
                n += 1

    writers = [threading.Thread(target=burst) for _ in range(4)]
    for w in writers:
        w.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = emulator.state_path.read_text() if emulator.state_path.exists() else ""
        if text and len(json.loads(text)["issuers"]) >= 10:  # every read parses, even mid-burst
            break
        time.sleep(0.02)
    emulator.kill()  # SIGKILL mid-burst
    stop.set()
    for w in writers:
        w.join()

    state = json.loads(emulator.state_path.read_text())  # parses: never half-written
    survived = len(state["issuers"])
    assert survived >= 10
    assert len(state["policies"]) == survived  # each issuer with its policy, written together

    emulator.start()  # same port, same state
    assert issuer_count(emulator) == survived
    leftovers = [p for p in emulator.state_path.parent.iterdir() if p.name.startswith(".emulator-state-")]
    assert leftovers == []


def test_a_corrupt_state_file_stops_the_emulator_instead_of_being_overwritten(start_emulator, tmp_path):
    state = tmp_path / "corrupt.json"
    state.write_text('{"format": 1, "issuers": ')
    with pytest.raises(RuntimeError):
        start_emulator(state=state)
    assert state.read_text() == '{"format": 1, "issuers": '
    assert "cannot start" in (tmp_path / "stderr-0.log").read_text()


# -- faults: before / after ----------------------------------------------------------------------


def register(emulator):
    return emulator.post(ISSUERS, json={"name": "x", "url": emulator.test_issuer_url})


def register_fault(status, when):
    """A script entry failing the next issuer registration."""
    return {"method": "POST", "path_regex": "/oidc/issuers$", "status": status, "when": when}


def test_a_post_faulted_before_is_not_applied(inproc_emulator):
    inproc_emulator.set_faults(script=[register_fault(502, "before")])
    response = register(inproc_emulator)
    assert response.status_code == 502
    assert response.json() == {"code": 502, "message": "Bad Gateway: injected fault"}
    assert issuer_count(inproc_emulator) == 0
    assert inproc_emulator.stats()["requests"][0]["applied"] is False


def test_a_post_faulted_after_is_applied(inproc_emulator):
    started = time.time()
    inproc_emulator.set_faults(script=[register_fault(502, "after")])
    assert register(inproc_emulator).status_code == 502
    assert issuer_count(inproc_emulator) == 1
    first = inproc_emulator.stats()["requests"][0]
    assert first == {
        "method": "POST", "route": "/api/orgs/{orgName}/oidc/issuers", "status": 502, "applied": True, "fault": 502,
        "received": first["received"],
    }
    # When it arrived: what lets a test order the emulator's requests against events elsewhere.
    assert started <= first["received"] <= time.time()


@pytest.mark.parametrize("when,applied", [("before", 0), ("after", 1)])
def test_dropped_connections(inproc_emulator, when, applied):
    inproc_emulator.set_faults(script=[register_fault("drop", when)])
    with pytest.raises(requests.ConnectionError):
        register(inproc_emulator)
    assert issuer_count(inproc_emulator) == applied
    assert inproc_emulator.stats()["requests"][0]["status"] is None


def test_the_script_is_consumed_in_order_and_only_by_matching_requests(inproc_emulator):
    inproc_emulator.set_faults(retry_after=3, script=[
        {"method": "GET", "path_regex": "/oidc/issuers$", "status": 500, "count": 2},
        {"method": "GET", "path_regex": "/oidc/issuers$", "status": 429},
    ])
    inproc_emulator.create_org("acme")
    assert inproc_emulator.get("/api/capabilities").status_code == 200  # does not match: untouched
    statuses = [inproc_emulator.get(ISSUERS) for _ in range(4)]
    assert [r.status_code for r in statuses] == [500, 500, 429, 200]
    assert statuses[2].headers["Retry-After"] == "3"
    assert inproc_emulator.faults()["script"] == []


def test_the_token_endpoint_faults_in_oauth_form(trusted_emulator):
    trusted_emulator.set_faults(script=[{"path_regex": "^/api/oauth/token$", "status": 503}])
    response = trusted_emulator.exchange(trusted_emulator.workload_token())
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json() == {"error": "temporarily_unavailable", "error_description": "injected fault"}
    assert trusted_emulator.exchange(trusted_emulator.workload_token()).status_code == 200


@pytest.fixture
def trusted_emulator(inproc_emulator):
    inproc_emulator.trust_test_issuer()
    return inproc_emulator


def test_random_faults_are_reproducible_with_a_seed(inproc_emulator):
    def run():
        inproc_emulator.set_faults(fault_rate=0.5, fault_status=500, seed=7)
        return [inproc_emulator.get("/api/capabilities").status_code for _ in range(20)]

    first = run()
    assert set(first) == {200, 500}
    assert run() == first


def test_latency_applies_to_the_api_only(inproc_emulator):
    inproc_emulator.set_faults(latency_ms=300)
    started = time.monotonic()
    inproc_emulator.get("/api/capabilities")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    requests.get(inproc_emulator.url("/_emulator/stats"), timeout=5)
    requests.get(inproc_emulator.test_issuer_url + "/jwks", timeout=5)
    assert time.monotonic() - started < 0.3


def test_stats_count_api_requests_per_route_and_reset(inproc_emulator):
    issuer = inproc_emulator.register_issuer()
    inproc_emulator.register_issuer()
    inproc_emulator.get(f"{ISSUERS}/{issuer['id']}")
    inproc_emulator.mint({"sub": "x"})  # /test-issuer: not counted
    counts = inproc_emulator.stats()["counts"]
    assert counts == {
        "POST /api/orgs/{orgName}/oidc/issuers": 2,
        "GET /api/orgs/{orgName}/oidc/issuers/{issuerId}": 1,
    }
    inproc_emulator.reset_stats()
    assert inproc_emulator.stats() == {"counts": {}, "requests": []}


def test_control_routes_are_never_faulted(inproc_emulator):
    inproc_emulator.set_faults(fault_rate=1.0, drop_rate=0.0, fault_status=500)
    assert inproc_emulator.get("/api/capabilities").status_code == 500
    assert requests.get(inproc_emulator.url("/_emulator/health"), timeout=5).json() == {"ok": True}
    assert requests.get(inproc_emulator.test_issuer_url + "/jwks", timeout=5).status_code == 200
    inproc_emulator.clear_faults()
    assert inproc_emulator.get("/api/capabilities").status_code == 200


@pytest.mark.parametrize(
    "config",
    [{"fault_status": 418}, {"fault_when": "during"}, {"fault_rate": 2}, {"bogus": 1},
     {"script": [{"status": "explode"}]}, {"script": [{"status": 500, "path_regex": "("}]}],
)
def test_malformed_fault_configurations_are_refused(inproc_emulator, config):
    response = requests.post(inproc_emulator.url("/_emulator/faults"), json=config, timeout=5)
    assert response.status_code == 400 and response.json()["code"] == 400


def test_command_line_fault_flags(start_emulator):
    faulty = start_emulator("--fault-rate", "1", "--fault-status", "429", "--seed", "1", state=False)
    response = faulty.get("/api/capabilities")
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    dropping = start_emulator("--drop-rate", "1", "--fault-when", "after", state=False)
    with pytest.raises(requests.ConnectionError):
        dropping.get("/api/capabilities")
    slow = start_emulator("--latency-ms", "250", state=False)
    started = time.monotonic()
    assert slow.get("/api/capabilities").status_code == 200
    assert time.monotonic() - started >= 0.25
