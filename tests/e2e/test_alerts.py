"""Alert rules and their webhooks: a sighting that matches a rule reaches a receiver the test
runs, signed with the rule's secret, retried with backoff after failures, logged attempt by
attempt, and still delivered after the catalogue restarts; on the embedded and real backends."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.factories import Sites
from tests.support.platform import (
    RunningPlatform,
    admin_token,
    eventually,
    get_media,
    running,
    user_token,
)
from tests.support.results import analysis, animal, person
from tests.support.tiny_models import generate_scene
from wildlens.catalogue.alerts.delivery import RetryPolicy
from wildlens.catalogue.settings import AlertSettings
from wildlens.common.settings import Settings


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: records every request and answers with the queued statuses (then
    200)."""

    url: str
    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def got(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    async def arrived(self) -> list[Received]:
        return self.got()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.requests.append(
                    Received(
                        time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body
                    )
                )
                status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/wildlens"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def signature_is_valid(secret: str, header: str, body: bytes) -> bool:
    """What the documentation tells a receiver to do: HMAC-SHA256 over "<t>." + body."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return abs(time.time() - int(parts["t"])) < 300 and hmac.compare_digest(expected, parts["v1"])


def _scene(seed: int) -> bytes:
    buffer = io.BytesIO()
    generate_scene(320, 240, (0.3, 0.3, 0.3, 0.3), seed=seed).save(buffer, format="JPEG")
    return buffer.getvalue()


async def _upload(wl: Any, site: Site, admin: str, seed: int, captured_at: str) -> str:
    body = await ok(
        await post_media(
            wl.client,
            site.device_token,
            data=_scene(seed),
            filename=f"scene-{seed}.jpg",
            fields={"captured_at": captured_at},
        ),
        202,
    )
    media_id = str(body["media_id"])
    await eventually(lambda: get_media(wl.client, admin, media_id))
    return media_id


async def _analysed(wl: Any, admin: str, media_ids: list[str]) -> None:
    async def done() -> bool:
        for media_id in media_ids:
            media = await get_media(wl.client, admin, media_id)
            if media is None or media["status"] != "analyzed":
                return False
        return True

    await eventually(done)


async def _deliveries(wl: Any, admin: str, site: Site, rule_id: str) -> list[dict[str, Any]]:
    page = await ok(
        await wl.client.get(
            f"/v1/projects/{site.project_id}/alerts/{rule_id}/deliveries", headers=bearer(admin)
        ),
        200,
    )
    return list(page["items"])


async def _rule(wl: Any, admin: str, site: Site, **fields: Any) -> dict[str, Any]:
    body = {"name": "rule", **fields}
    return dict(
        await ok(
            await wl.client.post(
                f"/v1/projects/{site.project_id}/alerts", json=body, headers=bearer(admin)
            ),
            201,
        )
    )


async def test_a_matching_sighting_reaches_the_receiver_signed(
    wl: RunningPlatform, settings: Settings, admin: str, receiver: Receiver, new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    other = await ok(
        await wl.client.post(
            f"/v1/projects/{site.project_id}/locations",
            json={"name": "Elsewhere", "latitude": 51.0, "longitude": 4.5},
            headers=bearer(admin),
        ),
        201,
    )
    # Herons (a family: the species below it count) seen confidently at night, camera time.
    herons = await _rule(
        wl,
        admin,
        site,
        name="Herons at night",
        taxon_id=taxa["Ardeidae"],
        min_confidence=0.6,
        time_from="20:00",
        time_to="04:00",
        date_from="2021-03-01",
        date_to="2021-04-01",
        webhook_url=receiver.url,
        secret="s3cret-s3cret-s3cret",
    )
    assert "secret" not in (
        await ok(
            await wl.client.get(
                f"/v1/projects/{site.project_id}/alerts/{herons['id']}", headers=bearer(admin)
            ),
            200,
        )
    )
    # The same herons, but only at another location: never matches here.
    elsewhere = await _rule(
        wl,
        admin,
        site,
        taxon_id=taxa["Ardeidae"],
        location_ids=[other["id"]],
        webhook_url=receiver.url,
    )
    # Herons, but only in May: these April sightings are out of its season.
    in_may = await _rule(
        wl,
        admin,
        site,
        taxon_id=taxa["Ardeidae"],
        date_from="2021-05-01",
        date_to="2021-05-31",
        webhook_url=receiver.url,
    )
    # 21:30 at the camera (+01:00) is inside the night window; 12:00 is not.
    night = await _upload(wl, site, admin, 1, "2021-04-01T21:30:00+01:00")
    weak = await _upload(wl, site, admin, 2, "2021-04-01T22:00:00+01:00")
    noon = await _upload(wl, site, admin, 3, "2021-04-01T12:00:00+01:00")
    duck = await _upload(wl, site, admin, 4, "2021-04-01T23:00:00+01:00")
    pid = site.project_id
    await wl.platform.contexts["inference"].publish(
        [
            analysis(night, pid, animal(0.9, "Ardea cinerea")),
            analysis(weak, pid, animal(0.4, "Ardea cinerea")),
            analysis(noon, pid, animal(0.95, "Ardea alba")),
            analysis(duck, pid, animal(0.9, "Anas platyrhynchos")),
        ]
    )
    await _analysed(wl, admin, [night, weak, noon, duck])

    requests = await eventually(receiver.arrived, timeout=20)
    assert len(requests) == 1
    request = requests[0]
    assert signature_is_valid(
        "s3cret-s3cret-s3cret", request.headers["wildlens-signature"], request.body
    )
    assert not signature_is_valid(
        "another-secret-entirely", request.headers["wildlens-signature"], request.body
    )
    payload = json.loads(request.body)
    assert request.headers["wildlens-event"] == payload["type"] == "alert.triggered"
    assert request.headers["wildlens-delivery"] == payload["id"]
    assert payload["rule"] == {"id": herons["id"], "name": "Herons at night"}
    assert payload["media"]["id"] == night
    assert payload["media"]["location"]["id"] == site.location_id
    # A link straight to the medium on this platform.
    assert payload["media"]["url"] == f"{settings.public_url}/v1/media/{night}"
    assert [o["scientific_name"] for o in payload["observations"]] == ["Ardea cinerea"]
    assert payload["observations"][0]["confidence"] == pytest.approx(0.9)

    async def delivered() -> list[dict[str, Any]]:
        found = await _deliveries(wl, admin, site, herons["id"])
        return found if found and found[0]["status"] == "delivered" else []

    (delivery,) = await eventually(delivered)
    assert delivery["id"] == payload["id"]
    assert delivery["media_id"] == night
    assert delivery["attempts"] == 1
    assert [(a["status_code"], a["outcome"]) for a in delivery["attempt_log"]] == [
        (200, "delivered")
    ]
    assert await _deliveries(wl, admin, site, elsewhere["id"]) == []
    assert await _deliveries(wl, admin, site, in_may["id"]) == []

    # The same medium analysed again by a newer model: no second alert.
    again = analysis(night, pid, animal(0.97, "Ardea cinerea"))
    again.detector.version = "2.0"
    await wl.platform.contexts["inference"].publish([again])

    async def both_runs() -> bool:
        media = await get_media(wl.client, admin, night)
        return media is not None and len(media["analyses"]) == 2

    await eventually(both_runs)
    assert len(await _deliveries(wl, admin, site, herons["id"])) == 1


async def test_failed_deliveries_are_retried_with_growing_pauses(
    wl: RunningPlatform, admin: str, site: Site, receiver: Receiver
) -> None:
    receiver.answers = [500, 503]
    rule = await _rule(
        wl,
        admin,
        site,
        name="People near the traps",
        observation_type="human",
        min_confidence=0.5,
        webhook_url=receiver.url,
    )
    media_id = await _upload(wl, site, admin, 5, "2021-04-02T10:00:00+01:00")
    await wl.platform.contexts["inference"].publish(
        [analysis(media_id, site.project_id, person(0.8))]
    )

    async def delivered() -> list[dict[str, Any]]:
        found = await _deliveries(wl, admin, site, rule["id"])
        return found if found and found[0]["status"] == "delivered" else []

    (delivery,) = await eventually(delivered, timeout=30)
    assert delivery["attempts"] == 3
    assert [(a["number"], a["status_code"], a["outcome"]) for a in delivery["attempt_log"]] == [
        (1, 500, "retry"),
        (2, 503, "retry"),
        (3, 200, "delivered"),
    ]
    assert "HTTP 500" in delivery["attempt_log"][0]["error"]

    requests = receiver.got()
    assert len(requests) == 3
    # The same alert each time (one delivery id, the same bytes), each signed afresh.
    assert len({r.headers["wildlens-delivery"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    assert all(
        signature_is_valid(rule["secret"], r.headers["wildlens-signature"], r.body)
        for r in requests
    )
    # Exponential backoff: about 1 s, then about 2 s.
    first, second = requests[1].at - requests[0].at, requests[2].at - requests[1].at
    assert first >= 0.9
    assert second >= 1.8
    assert second > first


async def test_pending_deliveries_go_out_after_a_restart(
    settings_for: Any, receiver: Receiver
) -> None:
    settings = settings_for()
    # The receiver is down for longer than this catalogue runs.
    receiver.answers = [502] * 3
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        rule = await _rule(
            wl, admin, site, observation_type="human", min_confidence=0.1, webhook_url=receiver.url
        )
        media_id = await _upload(wl, site, admin, 6, "2021-04-03T10:00:00+01:00")
        await wl.platform.contexts["inference"].publish(
            [analysis(media_id, site.project_id, person(0.7))]
        )

        async def failed_once() -> list[dict[str, Any]]:
            found = await _deliveries(wl, admin, site, rule["id"])
            return found if found and found[0]["attempts"] >= 1 else []

        (pending,) = await eventually(failed_once)
        assert pending["status"] == "pending"
        assert pending["attempt_log"][0]["status_code"] == 502
    seen_before = len(receiver.got())
    receiver.answers = []

    async with running(settings) as wl:

        async def delivered() -> list[dict[str, Any]]:
            found = await _deliveries(wl, admin, site, rule["id"])
            return found if found and found[0]["status"] == "delivered" else []

        (delivery,) = await eventually(delivered, timeout=30)
        assert delivery["id"] == pending["id"]
        assert delivery["attempt_log"][-1]["status_code"] == 200
        assert len(receiver.got()) == seen_before + 1


@pytest.mark.tiny_detector
async def test_the_detector_itself_triggers_an_alert(
    wl: RunningPlatform, admin: str, site: Site, receiver: Receiver
) -> None:
    rule = await _rule(
        wl,
        admin,
        site,
        observation_type="animal",
        min_confidence=0.2,
        webhook_url=receiver.url,
    )
    media_id = await _upload(wl, site, admin, 7, "2021-04-04T06:00:00+01:00")
    (request,) = await eventually(receiver.arrived, timeout=60)
    payload = json.loads(request.body)
    assert payload["media"]["id"] == media_id
    assert payload["observations"][0]["classified_by"].startswith("tiny-detector@")
    assert signature_is_valid(rule["secret"], request.headers["wildlens-signature"], request.body)


async def test_rules_are_checked_and_kept_to_managers(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    elsewhere = await new_site(name="Another project")
    url = f"/v1/projects/{site.project_id}/alerts"
    good = {"name": "r", "observation_type": "animal", "webhook_url": "https://example.org/h"}

    async def refused(body: dict[str, Any], status: int = 422) -> dict[str, Any]:
        return dict(await ok(await wl.client.post(url, json=body, headers=bearer(admin)), status))

    assert "taxon_id" in (await refused({**good, "observation_type": None}))["detail"]
    problem = await refused({**good, "taxon_id": "00000000-0000-4000-8000-000000000000"})
    assert "is not a taxon" in problem["detail"]
    problem = await refused({**good, "location_ids": [elsewhere.location_id]})
    assert "not a location of this project" in problem["detail"]
    assert "time_to" in (await refused({**good, "time_from": "22:00"}))["detail"]
    await refused({**good, "webhook_url": "not a url"})
    await refused({**good, "min_confidence": 1.5})
    await refused({**good, "secret": "short"})

    rule = await ok(
        await wl.client.post(
            url, json={**good, "taxon_id": taxa["Ardea cinerea"]}, headers=bearer(admin)
        ),
        201,
    )
    assert rule["secret"].startswith("whsec_")

    member = user_token(settings, "annotator-1", {site.project_id: "annotator"})
    response = await wl.client.get(url, headers=bearer(member))
    assert response.status_code == 403
    response = await wl.client.post(url, json=good, headers=bearer(member))
    assert response.status_code == 403
    # Another project's rules are invisible.
    response = await wl.client.get(
        f"/v1/projects/{elsewhere.project_id}/alerts/{rule['id']}", headers=bearer(admin)
    )
    assert response.status_code == 404

    paused = await ok(
        await wl.client.patch(
            f"{url}/{rule['id']}", json={"enabled": False}, headers=bearer(admin)
        ),
        200,
    )
    assert paused["enabled"] is False
    assert paused["taxon_id"] == taxa["Ardea cinerea"]
    response = await wl.client.patch(
        f"{url}/{rule['id']}",
        json={"taxon_id": None, "observation_type": None},
        headers=bearer(admin),
    )
    assert response.status_code == 422
    listed = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
    assert [r["id"] for r in listed["items"]] == [rule["id"]]
    assert (await wl.client.delete(f"{url}/{rule['id']}", headers=bearer(admin))).status_code == 204
    response = await wl.client.get(f"{url}/{rule['id']}/deliveries", headers=bearer(admin))
    assert response.status_code == 404


def test_the_pause_between_attempts_doubles_up_to_its_ceiling() -> None:
    policy = RetryPolicy(base_s=1.0, max_delay_s=60.0, jitter=0.2)
    for attempt, expected in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (11, 60.0)]:
        pauses = [policy.delay(attempt) for _ in range(50)]
        assert all(expected <= p <= expected * 1.2 for p in pauses), (attempt, pauses)
    # The defaults keep trying for about half an hour before giving up.
    default = RetryPolicy()
    total = sum(default.delay(n) for n in range(1, default.max_attempts))
    assert 30 * 60 <= total <= 90 * 60


async def test_webhooks_to_private_addresses_are_refused_unless_allowed(
    settings_for: Any, receiver: Receiver
) -> None:
    """By default a rule cannot point at loopback, private, link-local or reserved addresses
    (the cloud metadata service, the platform's own network), when saved or when sent."""
    guarded = settings_for(alerts=AlertSettings())
    async with running(guarded) as wl:
        admin = admin_token(guarded)
        site = await create_site(wl.client, admin)
        url = f"/v1/projects/{site.project_id}/alerts"
        good = {"name": "r", "observation_type": "human", "min_confidence": 0.1}
        for target in (
            receiver.url,
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/hook",
            "http://[::1]:8080/hook",
            "http://localhost/hook",
        ):
            response = await wl.client.post(
                url, json={**good, "webhook_url": target}, headers=bearer(admin)
            )
            assert response.status_code == 422, target
            assert "private or reserved address" in response.json()["detail"], target
            assert "ALLOW_PRIVATE_TARGETS" in response.json()["detail"]
        # A public address is taken, and cannot be changed to a private one.
        rule = await _rule(wl, admin, site, **good, webhook_url="https://93.184.216.34/hook")
        response = await wl.client.patch(
            f"{url}/{rule['id']}", json={"webhook_url": receiver.url}, headers=bearer(admin)
        )
        assert response.status_code == 422
        kept = await ok(await wl.client.get(f"{url}/{rule['id']}", headers=bearer(admin)), 200)
        assert kept["webhook_url"] == "https://93.184.216.34/hook"

    # Saved while an operator allowed private targets, sent after they stopped allowing them:
    # the attempt is refused and logged, and nothing reaches the receiver.
    allowed = guarded.model_copy(update={"alerts": AlertSettings(allow_private_targets=True)})
    async with running(allowed) as wl:
        rule = await _rule(wl, admin, site, **good, webhook_url=receiver.url)
    async with running(guarded) as wl:
        media_id = await _upload(wl, site, admin, 7, "2021-04-03T11:00:00+01:00")
        await wl.platform.contexts["inference"].publish(
            [analysis(media_id, site.project_id, person(0.7))]
        )

        async def attempted() -> list[dict[str, Any]]:
            found = await _deliveries(wl, admin, site, rule["id"])
            return found if found and found[0]["attempts"] >= 1 else []

        (delivery,) = await eventually(attempted)
        assert "private or reserved address" in delivery["attempt_log"][0]["error"]
        assert delivery["attempt_log"][0]["status_code"] is None
    assert receiver.got() == []
