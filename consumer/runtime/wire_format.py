"""The schema registry's wire format, when one is configured: framed inputs and framed scores.

Without a registry everything is plain JSON and nothing here calls out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from consumer.config.settings import Settings
from consumer.pipeline.scoring import ScoreFraming
from schemas.registry import subject_for
from schemas.wire import FramedApplicationDecoder

if TYPE_CHECKING:  # the registry client is imported only when a registry is configured
    from confluent_kafka.schema_registry import SchemaRegistryClient


class WireFormat(TypedDict, total=False):
    framed: FramedApplicationDecoder
    frame_score: ScoreFraming


def registry_wire_format(settings: Settings) -> WireFormat:
    """With a schema registry: inputs framed or plain, scores framed by the registry's
    serializer (LoanScored must be registered already). Without one: nothing, plain JSON."""
    if settings.schema_registry_url is None:
        return {}
    from consumer.kafka.schema_registry import loan_scored_framing, registry_client

    client = registry_client(settings)
    return {
        "framed": _framed_decoder(client, settings.input_topic),
        "frame_score": loan_scored_framing(client, settings.output_topic),
    }


def framed_input_decoder(settings: Settings, topic: str) -> FramedApplicationDecoder | None:
    """Reads `topic`'s applications in the registry's wire format and as plain JSON alike, as
    the stream does; None without a registry (plain JSON only)."""
    if settings.schema_registry_url is None:
        return None
    from consumer.kafka.schema_registry import registry_client

    return _framed_decoder(registry_client(settings), topic)


def _framed_decoder(client: SchemaRegistryClient, topic: str) -> FramedApplicationDecoder:
    from consumer.kafka.schema_registry import schema_lookup

    return FramedApplicationDecoder(schema_lookup(client, subject_for(topic)))
