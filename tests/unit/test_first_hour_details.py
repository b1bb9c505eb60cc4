"""Issue 17's smaller defects, each pinned without a stack: the gateway's hint for a Kafka-record file,
the demo's certificate numbers per run and its projection text, and the SDK's login error."""

from __future__ import annotations

import json
import socket
import uuid

from corridor.core.settings import PROJECT_ROOT
from corridor.demo.run import describe_projection
from corridor.demo.story import chromite_story, explosives_story, run_suffix
from corridor.gateway import cloudevents
from corridor.sdk.consumer import login_failure


def test_posting_a_contracts_example_file_says_it_is_a_kafka_record_not_a_cloudevent() -> None:
    example = PROJECT_ROOT / "contracts/examples/valid/OrderPlaced.json"
    errors = cloudevents.parse_single(cloudevents.STRUCTURED, {}, example.read_bytes())
    assert isinstance(errors, list)
    assert errors[0].field == "(event)" and "Kafka record as contracts/examples/ shows it" in errors[0].reason
    assert '"specversion": "1.0"' in errors[0].reason
    # a CloudEvent with a mistake gets no such hint
    doc = json.loads(example.read_text(encoding="utf-8"))
    wrong = {"specversion": "1.0", "id": "x", "source": "/s", "type": doc["type"]}
    errors = cloudevents.parse_single(cloudevents.STRUCTURED, {}, json.dumps(wrong).encode())
    assert isinstance(errors, list) and all("Kafka record" not in e.reason for e in errors)


def test_demo_runs_number_their_certificates_apart() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()

    def numbers(story: object) -> set[str]:
        return {e.certificate_number for e in story.events if hasattr(e, "certificate_number")}  # type: ignore[attr-defined]

    a = numbers(chromite_story(first, numbers_suffix=run_suffix(first)))
    b = numbers(chromite_story(second, numbers_suffix=run_suffix(second)))
    assert a and b and not a & b
    assert f"CPFTA-PK-2026-118734-{first.hex[:6].upper()}" in a
    assert numbers(chromite_story()) == {"CPFTA-PK-2026-118734", "SGS-KHI-MIN-26-03391"}  # tests' stories
    assert not numbers(explosives_story(first, numbers_suffix="X1")) & numbers(explosives_story())


def test_the_projection_never_prints_none() -> None:
    view = {
        "trade_id": "t",
        "status": "ACCEPTED",
        "order": {"order_id": "MCCK-PO-2026-0042", "status": "ACCEPTED", "revision": 0},
        "shipments": [
            {"shipment_id": "NLC-1", "status": "BOOKED", "actual_departure": None, "actual_arrival": None}
        ],
        "certificates": [],
    }
    text = describe_projection(view, "http://ledger")
    assert "None" not in text
    assert "departed not yet, arrived not yet, no customs event yet" in text


def test_a_refused_login_is_told_apart_from_an_address_that_does_not_answer() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        refused = login_failure(f"127.0.0.1:{port}", "acme", OSError("Unable to bootstrap"))
    assert "refused the SCRAM-SHA-512 login of 'acme'" in refused and "rotate-key" in refused
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    silent = login_failure(f"127.0.0.1:{closed_port}", "acme", OSError("Unable to bootstrap"))
    assert "no Kafka partner listener answers" in silent and "corridor stack status" in silent
