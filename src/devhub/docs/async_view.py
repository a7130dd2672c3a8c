"""AsyncAPI (2.x and 3.x) operations and messages as view models: the channel with its address,
parameters and bindings, the action, the messages with their headers, payload and examples, the reply
(3.x), bindings and security."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devhub.docs.refs import as_dict, as_list, component_key, deref, ref_of
from devhub.docs.render import (
    OpEntry,
    Reference,
    bindings_view,
    channel_address,
    channel_parameters,
    operation_object,
    path_item,
    safe_url,
    security_requirements,
    slugify,
    tag_names,
    text,
)
from devhub.docs.schema_view import SchemaNode, example_text, example_value, json_text

JSON_SCHEMA_FORMATS = ("application/vnd.aai.asyncapi", "application/schema", "application/vnd.oai.openapi")

ACTIONS = {
    "publish": "Other applications publish messages to this channel; the application receives them.",
    "subscribe": "Other applications subscribe to this channel; the application sends these messages.",
    "send": "The application sends these messages to the channel.",
    "receive": "The application receives these messages from the channel.",
}


@dataclass
class MessageExample:
    name: str | None
    summary: str | None
    headers: str | None
    payload: str | None
    generated: bool = False


@dataclass
class MessageView:
    name: str
    title: str | None
    summary: str | None
    description: str | None
    content_type: str | None
    schema_format: str | None
    headers: SchemaNode | None
    payload: SchemaNode | None
    raw_payload: str | None
    correlation_id: tuple[str | None, str | None] | None
    bindings: list[tuple[str, str]]
    examples: list[MessageExample]
    tags: list[str]
    deprecated: bool
    url: str | None  # its page in the schema browser
    id: str = ""

    @property
    def label(self) -> str:
        return self.title or self.name


@dataclass
class ReplyView:
    address: str | None
    channel: str | None
    messages: list[MessageView]


@dataclass
class AsyncOperationView:
    entry: OpEntry
    action: str
    action_text: str
    channel_key: str | None
    address: str
    summary: str | None
    description: str | None
    deprecated: bool
    operation_id: str | None
    tags: list[str]
    external_docs: tuple[str, str | None, str | None] | None
    channel_description: str | None
    parameters: list
    channel_bindings: list[tuple[str, str]]
    bindings: list[tuple[str, str]]
    messages: list[MessageView]
    security: list[list[tuple[str, list[str]]]]
    servers: list[str]
    reply: ReplyView | None = None
    samples: list = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.summary or self.operation_id or f"{self.action} {self.address}"


def _with_traits(doc: Any, obj: dict) -> dict:
    """Traits applied: each trait's fields fill what the object does not set itself."""
    traits = as_list(obj.get("traits"))
    if not traits:
        return obj
    merged = dict(obj)
    for raw in traits:
        for key, value in as_dict(deref(doc, raw)).items():
            merged.setdefault(key, value)
    return merged


def message_view(ref: Reference, raw: Any, name: str, id_prefix: str = "message-") -> MessageView:
    doc = ref.doc
    key = component_key(ref_of(raw))
    message = _with_traits(doc, as_dict(deref(doc, raw)))
    builder = ref.builder()
    schema_format = text(message.get("schemaFormat"))
    payload = message.get("payload")
    if isinstance(payload, dict) and "schema" in payload and "schemaFormat" in payload:  # AsyncAPI 3 multi-format
        schema_format = text(payload.get("schemaFormat"))
        payload = payload.get("schema")
    json_schema = schema_format is None or schema_format.startswith(JSON_SCHEMA_FORMATS)
    payload_node = builder.build(payload) if payload is not None and json_schema else None
    raw_payload = None if json_schema or payload is None else json_text(payload, indent=2)
    headers = message.get("headers")
    if isinstance(headers, dict) and "schema" in headers and "schemaFormat" in headers:
        headers = headers.get("schema")
    headers_node = builder.build(headers) if headers is not None else None
    correlation = as_dict(deref(doc, message.get("correlationId")))
    examples = []
    for i, example in enumerate(as_list(message.get("examples")), 1):
        example = as_dict(example)
        examples.append(
            MessageExample(
                name=text(example.get("name")) or (None if i == 1 else f"Example {i}"),
                summary=text(example.get("summary")),
                headers=example_text(example["headers"]) if "headers" in example else None,
                payload=example_text(example["payload"]) if "payload" in example else None,
            )
        )
    if not examples and payload is not None and json_schema:
        value = example_value(doc, payload, mode="response")
        if value is not None:
            examples.append(MessageExample(None, None, None, example_text(value), generated=True))
    return MessageView(
        name=text(message.get("name")) or name,
        title=text(message.get("title")),
        summary=text(message.get("summary")),
        description=text(message.get("description")),
        content_type=text(message.get("contentType")) or text(doc.get("defaultContentType")),
        schema_format=schema_format,
        headers=headers_node,
        payload=payload_node,
        raw_payload=raw_payload,
        correlation_id=(text(correlation.get("location")), text(correlation.get("description")))
        if correlation
        else None,
        bindings=bindings_view(message.get("bindings")),
        examples=examples,
        tags=tag_names(message.get("tags")),
        deprecated=message.get("deprecated") is True,
        url=ref.schema_url(key),
        id=id_prefix + slugify(name),
    )


def _messages_2(ref: Reference, op: dict) -> list[MessageView]:
    raw = op.get("message")
    if raw is None:
        return []
    resolved = as_dict(deref(ref.doc, raw))
    members = as_list(resolved.get("oneOf")) if "oneOf" in resolved and "payload" not in resolved else [raw]
    views = []
    for i, member in enumerate(members, 1):
        target = as_dict(deref(ref.doc, member))
        key = component_key(ref_of(member))
        name = text(target.get("name")) or (key.split("/", 1)[-1] if key else f"message-{i}")
        views.append(message_view(ref, member, name))
    return _unique_ids(views)


def _messages_3(ref: Reference, op: dict, channel: dict, prefix: str = "message-") -> list[MessageView]:
    channel_messages = as_dict(channel.get("messages"))
    chosen = as_list(op.get("messages")) if "messages" in op else list(channel_messages.values())
    views = []
    for i, raw in enumerate(chosen, 1):
        ref_text = ref_of(raw) or ""
        name = ref_text.rsplit("/", 1)[-1] if ref_text else f"message-{i}"
        target_ref = ref_of(deref_once(ref, raw))
        member = {"$ref": target_ref} if target_ref else raw
        views.append(message_view(ref, member, name, prefix))
    return _unique_ids(views)


def deref_once(ref: Reference, raw: Any) -> Any:
    """The value a reference points at, without following it further (to keep a component's name)."""
    from devhub.docs.refs import pointer

    target = ref_of(raw)
    return pointer(ref.doc, target) if target else raw


def _unique_ids(views: list[MessageView]) -> list[MessageView]:
    used: set[str] = set()
    for view in views:
        base, n = view.id, 1
        while view.id in used:
            n += 1
            view.id = f"{base}-{n}"
        used.add(view.id)
    return views


def async_operation_view(ref: Reference, entry: OpEntry) -> AsyncOperationView:
    doc = ref.doc
    op = _with_traits(doc, operation_object(ref, entry))
    external = as_dict(op.get("externalDocs"))
    reply = None
    if ref.flavour == "asyncapi2":
        channel_key = str(entry.locator[1])
        channel = path_item(doc, as_dict(doc.get("channels")).get(entry.locator[1]))
        address = channel_key
        messages = _messages_2(ref, op)
    else:
        channel_ref = ref_of(op.get("channel"))
        channel_key = channel_ref.rsplit("/", 1)[-1] if channel_ref else None
        channel = as_dict(deref(doc, op.get("channel")))
        address = channel_address(doc, channel_key, channel)
        messages = _messages_3(ref, op, channel)
        raw_reply = as_dict(deref(doc, op.get("reply")))
        if raw_reply:
            reply_channel = as_dict(deref(doc, raw_reply.get("channel")))
            reply_address = as_dict(deref(doc, raw_reply.get("address")))
            reply_channel_ref = ref_of(raw_reply.get("channel"))
            reply = ReplyView(
                address=text(reply_address.get("location")) or text(reply_address.get("description")),
                channel=(
                    channel_address(
                        doc, reply_channel_ref.rsplit("/", 1)[-1] if reply_channel_ref else None, reply_channel
                    )
                    if reply_channel
                    else None
                ),
                messages=_messages_3(ref, raw_reply, reply_channel, "reply-message-"),
            )
    servers = []
    for server in as_list(channel.get("servers")):
        if isinstance(server, str):
            servers.append(server)
        elif ref_of(server):
            servers.append(ref_of(server).rsplit("/", 1)[-1])
    return AsyncOperationView(
        entry=entry,
        action=entry.method,
        action_text=ACTIONS.get(entry.method, ""),
        channel_key=channel_key,
        address=address,
        summary=text(op.get("summary")) or text(op.get("title")),
        description=text(op.get("description")),
        deprecated=op.get("deprecated") is True,
        operation_id=text(op.get("operationId")) or (str(entry.locator[1]) if entry.locator[0] == "op" else None),
        tags=tag_names(op.get("tags")),
        external_docs=(
            (external["url"], safe_url(external["url"]), text(external.get("description")))
            if text(external.get("url"))
            else None
        ),
        channel_description=text(channel.get("description")) or text(channel.get("summary")),
        parameters=channel_parameters(ref, channel),
        channel_bindings=bindings_view(channel.get("bindings")),
        bindings=bindings_view(op.get("bindings")),
        messages=messages,
        security=security_requirements(op.get("security"), doc),
        servers=servers,
        reply=reply,
    )
