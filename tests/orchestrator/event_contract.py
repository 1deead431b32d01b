"""contracts/asyncapi.yaml read as a consumer reads it: per routing key, the exchange, the message's
content type, AMQP type, delivery mode, message id and payload schema (the payloads are `$ref`s into
contracts/events.schema.json, resolved here with that file as the one source)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from tests.conftest import ROOT

CONTRACTS = ROOT / "contracts"
ASYNCAPI = CONTRACTS / "asyncapi.yaml"
EVENTS_SCHEMA = CONTRACTS / "events.schema.json"


@cache
def asyncapi() -> dict[str, Any]:
    return yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))


@cache
def events_schema() -> dict[str, Any]:
    return json.loads(EVENTS_SCHEMA.read_text(encoding="utf-8"))


def local(ref: str) -> Any:
    """A `#/...` reference inside the AsyncAPI document."""
    assert ref.startswith("#/"), ref
    node: Any = asyncapi()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(node: Any) -> Any:
    while isinstance(node, dict) and set(node) == {"$ref"} and node["$ref"].startswith("#/"):
        node = local(node["$ref"])
    return node


def file_ref(node: dict[str, Any]) -> str:
    """`./events.schema.json#/$defs/x` -> `#/$defs/x`: the part of events.schema.json a payload uses."""
    path, _, pointer = node["$ref"].partition("#")
    assert path == "./events.schema.json", f"payloads are referenced from events.schema.json, not {path!r}"
    return f"#{pointer}"


def _validator(pointer: str) -> Draft7Validator:
    """Draft 7: the AsyncAPI schema format (the default schemaFormat of AsyncAPI 3.0)."""
    schema = events_schema()
    registry: Registry[Any] = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft7Validator(
        {"$ref": f"{schema['$id']}{pointer}"}, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER
    )


@dataclass(frozen=True)
class MessageContract:
    routing_key: str
    exchange: dict[str, Any]
    name: str
    content_type: str
    amqp_type: str
    delivery_mode: int
    payload_pointer: str  # into events.schema.json
    message_id_pointer: str
    examples: tuple[dict[str, Any], ...]

    def check(self, *, exchange: str, routing_key: str, properties: Any, payload: dict[str, Any]) -> None:
        """A delivery as RabbitMQ hands it to a consumer (pika's method and properties) matches the
        document; jsonschema raises naming the first field that does not."""
        assert (exchange, routing_key) == (self.exchange["name"], self.routing_key)
        assert properties.content_type == self.content_type
        assert properties.type == self.amqp_type
        assert properties.delivery_mode == self.delivery_mode
        _validator(self.message_id_pointer).validate(properties.message_id)
        _validator(self.payload_pointer).validate(payload)


@cache
def messages() -> dict[str, MessageContract]:
    """Routing key -> what the document promises about the messages published with it."""
    document = asyncapi()
    found = {}
    for operation in document["operations"].values():
        assert operation["action"] == "send"
        channel = deref(operation["channel"])
        bindings = deref(channel["bindings"])["amqp"]
        delivery = deref(operation["bindings"])["amqp"]
        for ref in operation["messages"]:
            message = deref(ref)
            found[channel["address"]] = MessageContract(
                routing_key=channel["address"],
                exchange=bindings["exchange"],
                name=message["name"],
                content_type=message.get("contentType", document.get("defaultContentType")),
                amqp_type=message["bindings"]["amqp"]["messageType"],
                delivery_mode=delivery["deliveryMode"],
                payload_pointer=file_ref(message["payload"]),
                message_id_pointer=file_ref(message["x-amqp-message-id"]["schema"]),
                examples=tuple(example["payload"] for example in message.get("examples", [])),
            )
    return found


def validate_payload(contract: MessageContract, payload: dict[str, Any]) -> None:
    _validator(contract.payload_pointer).validate(payload)
