"""The partner SDK: read your trades' events from your Corridor partner topic as typed events.

``PartnerConsumer`` logs in to the broker's partner listener with your SCRAM-SHA-512 credentials
(``corridor partners add`` prints them once), reads ``partner.<your id>.v1`` with a consumer group of
yours (``<your id>.<anything>``), decodes every record through the schema registry into the models of
``corridor.core.domain.events`` and commits a record only after your code is done with it::

    async with PartnerConsumer(bootstrap=..., username=..., password=..., partner_id="acme",
                               registry_url=..., group="acme.erp") as consumer:
        async for event in consumer:
            await book(event)  # the record is committed when the loop asks for the next one
"""

from corridor.sdk.consumer import (
    BACKFILL_HEADER,
    SIGNATURE_HEADER,
    PartnerConsumer,
    PartnerLoginError,
    PartnerRecord,
    UndecodableRecord,
)

__all__ = [
    "BACKFILL_HEADER",
    "SIGNATURE_HEADER",
    "PartnerConsumer",
    "PartnerLoginError",
    "PartnerRecord",
    "UndecodableRecord",
]
