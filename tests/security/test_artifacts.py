"""Another tenant's files: an id learnt any way fetches, deletes or brings nothing (404 /
422), and the same bytes uploaded by two tenants stay two files. Run against the gateway as
deployed (its own NATS identity with the shipped permissions, its Object Store rights)."""

from __future__ import annotations

import hashlib

from tests.gateway.conftest import RunningGateway, onboard
from tests.security.conftest import Participants

SECRET = b"customer,iban\nAda,GB33BUKB20201555555555\n"
SECRET_ID = hashlib.sha256(SECRET).hexdigest()


async def test_another_tenant_cannot_fetch_delete_or_bring_a_file(
    production_gateway: RunningGateway, participants: Participants
) -> None:
    gw = production_gateway
    acme = await onboard(gw, "Acme")
    mallory = await onboard(gw, "Mallory")
    async with gw.client(acme.api_key) as a, gw.client(mallory.api_key) as m:
        r = await a.post("/v1/artifacts", params={"name": "customers.csv"}, content=SECRET,
                         headers={"Content-Type": "text/csv"})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["artifact_id"] == SECRET_ID  # the id is just the hash: guessable

        stolen = await m.get(f"/v1/artifacts/{SECRET_ID}")
        assert stolen.status_code == 404 and SECRET not in stolen.content
        assert stolen.headers["content-type"] == "application/problem+json"
        assert (await m.delete(f"/v1/artifacts/{SECRET_ID}")).status_code == 404
        assert (await m.get("/v1/artifacts")).json()["data"] == []
        brought = await m.post("/v1/tasks", json={
            "goal": 'Upload "customers.csv" to Document',
            "start_url": "https://example.com/upload", "files": [SECRET_ID],
        })  # fmt: skip
        assert brought.status_code == 422, brought.text

        # The same bytes uploaded by Mallory are Mallory's own file; deleting it leaves Acme's.
        r = await m.post("/v1/artifacts", params={"name": "mine.csv"}, content=SECRET,
                         headers={"Content-Type": "text/csv"})  # fmt: skip
        assert r.status_code == 201 and r.json()["name"] == "mine.csv"
        assert (await m.delete(f"/v1/artifacts/{SECRET_ID}")).status_code == 204
        kept = await a.get(f"/v1/artifacts/{SECRET_ID}")
        assert kept.status_code == 200 and kept.content == SECRET
    assert participants.errors == []
