"""Every reference page as markdown (`.md` URLs and `Accept: text/markdown`), from the same view models as
the HTML pages. Descriptions are the document's own markdown, passed through; everything else is escaped
for its place (table cells, inline code)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from devhub.docs.async_view import AsyncOperationView, MessageView
from devhub.docs.changes import Changes
from devhub.docs.operation_view import MediaView, OperationView, ParamView
from devhub.docs.render import Overview, Reference, SchemaListItem, SchemaPage
from devhub.docs.schema_view import SchemaNode

FENCE_LANG = {"shell": "shell", "python": "python", "javascript": "javascript", "go": "go"}


def code(value: object) -> str:
    """Inline code that survives backticks in the value."""
    text = str(value).replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def block(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def cell(value: object) -> str:
    """Text for a table cell: one line, pipes escaped."""
    if value is None:
        return ""
    return " ".join(str(value).split()).replace("|", "\\|")


def esc(value: object) -> str:
    """Plain text in running markdown: characters that would start markup are escaped."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", str(value))


def link(label: str, url: str | None) -> str:
    if not url:
        return esc(label)
    return f"[{esc(label)}](<{url}>)"


def table(headers: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _join(parts: Iterable[str | None]) -> str:
    return "\n\n".join(p for p in parts if p) + "\n"


# -- schema trees ------------------------------------------------------------------------------------------


def _flags(node: SchemaNode) -> list[str]:
    flags = []
    if node.required:
        flags.append("required")
    if node.nullable:
        flags.append("nullable")
    if node.read_only:
        flags.append("read-only")
    if node.write_only:
        flags.append("write-only")
    if node.deprecated:
        flags.append("deprecated")
    return flags


def _type_md(node: SchemaNode) -> str:
    text = code(node.type_text)
    if node.ref_name and node.ref_url and not (node.items and node.items.ref_name):
        text += " " + link(node.ref_name, node.ref_url)
    elif node.items is not None and node.items.ref_name and node.items.ref_url:
        text += " " + link(node.items.ref_name, node.items.ref_url)
    if node.recursive or (node.items is not None and node.items.recursive):
        text += " (recursive)"
    return text


def _facts(node: SchemaNode) -> list[str]:
    facts = []
    if node.enum:
        facts.append("Enum: " + ", ".join(code(v) for v in node.enum))
    if node.const is not None:
        facts.append("Const: " + code(node.const))
    if node.default is not None:
        facts.append("Default: " + code(node.default))
    if node.constraints:
        facts.append("Constraints: " + ", ".join(node.constraints))
    if node.pattern:
        facts.append("Pattern: " + code(node.pattern))
    if node.examples:
        facts.append("Example: " + code(node.examples[0]))
    if node.all_of:
        facts.append("All of: " + ", ".join(link(name, url) for name, url in node.all_of))
    if node.discriminator:
        mapping = ", ".join(
            f"{code(value)} → {link(name or value, url)}" for value, name, url in node.discriminator.mapping
        )
        facts.append(f"Discriminator: {code(node.discriminator.property_name)}" + (f" ({mapping})" if mapping else ""))
    if node.additional_closed:
        facts.append("No additional properties")
    if node.raw is not None:
        facts.append("Schema: " + code(node.raw))
    if node.unresolved:
        facts.append("Unresolved reference " + code(node.unresolved))
    return facts


def _indent(text: str, pad: str) -> str:
    return "\n".join((pad + line) if line.strip() else "" for line in text.splitlines())


def schema_lines(node: SchemaNode, level: int = 0) -> list[str]:
    """A node's children as a nested bullet list."""
    lines: list[str] = []
    pad = "  " * level
    children: list[SchemaNode] = list(node.properties) + list(node.pattern_properties)
    if node.additional is not None:
        children.append(node.additional)
    items = node.items if node.items is not None and not (node.items.recursive or node.items.truncated) else None
    if items is not None and not items.has_children and items.expandable:
        children.append(items)
    if node.not_schema is not None:
        children.append(node.not_schema)
    for child in children:
        lines.extend(_node_lines(child, level))
    if items is not None and items.has_children:
        lines.extend(schema_lines(items, level))
    for composition in node.compositions:
        lines.append(f"{pad}- *{composition.kind}*:")
        for variant in composition.variants:
            lines.extend(_node_lines(variant, level + 1))
    return lines


def _node_lines(node: SchemaNode, level: int) -> list[str]:
    pad = "  " * level
    flags = _flags(node)
    head = f"{pad}- **{esc(node.label or '')}** {_type_md(node)}"
    if flags:
        head += f" ({', '.join(flags)})"
    lines = [head]
    body = []
    if node.show_title:
        body.append(f"*{esc(node.title)}*")
    if node.description:
        body.append(node.description.strip())
    body.extend(_facts(node))
    for text in body:
        lines.append(_indent(text, pad + "  "))
    if not node.recursive and not node.truncated:
        lines.extend(schema_lines(node, level + 1))
    return lines


def schema_md(node: SchemaNode | None) -> str | None:
    if node is None:
        return None
    parts = []
    head = "Type: " + _type_md(node)
    if _flags(node):
        head += f" ({', '.join(_flags(node))})"
    parts.append(head)
    if node.description:
        parts.append(node.description.strip())
    facts = _facts(node)
    if facts:
        parts.append("\n".join(f"- {fact}" for fact in facts))
    lines = schema_lines(node)
    if lines:
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# -- overview ----------------------------------------------------------------------------------------------


def overview_md(
    ref: Reference, ov: Overview, version: str, lifecycle: str | None, downloads: list[tuple[str, str]]
) -> str:
    parts = [f"# {esc(ov.title)}"]
    meta = [f"Version {code(version)}", ov.format_label]
    if lifecycle:
        meta.append(f"lifecycle: {lifecycle}")
    parts.append(" · ".join(meta))
    if ov.summary:
        parts.append(f"*{esc(ov.summary)}*")
    if ov.description:
        parts.append(ov.description.strip())
    if ov.servers:
        rows = []
        for server in ov.servers:
            variables = "; ".join(
                f"{v.name} = {v.default or ''}" + (f" (one of {', '.join(v.enum)})" if v.enum else "")
                for v in server.variables
            )
            rows.append(
                [
                    code(server.url),
                    cell(server.name),
                    cell(" ".join(x for x in (server.protocol, server.protocol_version) if x)),
                    cell(server.description),
                    cell(variables),
                ]
            )
        parts.append("## Servers\n\n" + table(["URL", "Name", "Protocol", "Description", "Variables"], rows))
    if ov.security_schemes:
        lines = ["## Security schemes"]
        for scheme in ov.security_schemes:
            lines.append(f"### {esc(scheme.name)}\n\nType: {code(scheme.type)}")
            if scheme.description:
                lines.append(scheme.description.strip())
            for label, value, _ in scheme.details:
                lines.append(f"- {label}: {code(value)}")
            for flow in scheme.flows:
                lines.append(f"- Flow {code(flow.name)}")
                for label, value, _ in flow.urls:
                    lines.append(f"  - {label}: {code(value)}")
                for scope, description in flow.scopes:
                    lines.append(f"  - Scope {code(scope)}" + (f": {cell(description)}" if description else ""))
        parts.append("\n\n".join(lines))
    about = []
    if ov.contact_name or ov.contact_url or ov.contact_email:
        contact = [esc(ov.contact_name)] if ov.contact_name else []
        if ov.contact_url:
            contact.append(link(ov.contact_url[0], ov.contact_url[1]))
        if ov.contact_email:
            contact.append(link(ov.contact_email[0], ov.contact_email[1]))
        about.append("- Contact: " + ", ".join(contact))
    if ov.license_name:
        license_ = link(ov.license_name, ov.license_url[1] if ov.license_url else None)
        if ov.license_identifier:
            license_ += f" ({code(ov.license_identifier)})"
        about.append("- Licence: " + license_)
    if ov.terms:
        about.append("- Terms of service: " + link(ov.terms[0], ov.terms[1]))
    if ov.external_docs:
        about.append("- External docs: " + link(ov.external_docs[2] or ov.external_docs[0], ov.external_docs[1]))
    if about:
        parts.append("## About\n\n" + "\n".join(about))
    if ov.tags:
        lines = ["## Tags"]
        for tag in ov.tags:
            lines.append(f"### {esc(tag.name)}" + (f"\n\n{tag.description.strip()}" if tag.description else ""))
        parts.append("\n\n".join(lines))
    if ov.channels:
        rows = [
            [code(c.address), cell(", ".join(f"{e.method} ({e.anchor})" for e in c.ops)), cell(c.description)]
            for c in ov.channels
        ]
        parts.append("## Channels\n\n" + table(["Address", "Operations", "Description"], rows))
    if ref.ops:
        rows = [
            [code(e.method_label), link(e.path, e.url), cell(e.summary) + (" *(deprecated)*" if e.deprecated else "")]
            for e in ref.ops
        ]
        parts.append(
            "## Operations\n\n" + table(["Method", "Path" if not ref.is_async else "Channel", "Summary"], rows)
        )
    if ref.webhooks:
        rows = [[code(e.method_label), link(e.path, e.url), cell(e.summary)] for e in ref.webhooks]
        parts.append("## Webhooks\n\n" + table(["Method", "Name", "Summary"], rows))
    parts.append("## Downloads\n\n" + "\n".join(f"- [{esc(label)}](<{url}>)" for label, url in downloads))
    return _join(parts)


# -- operations --------------------------------------------------------------------------------------------


def _params_table(params: list[ParamView], title: str = "Name") -> str:
    rows = []
    for p in params:
        description = cell(p.description)
        if p.deprecated:
            description = "**Deprecated.** " + description
        rows.append(
            [
                code(p.name),
                cell(p.location),
                code(p.type_text) if p.type_text else "",
                "yes" if p.required else "no",
                description,
                code(p.example_text) if p.example_text else "",
            ]
        )
    return table([title, "In", "Type", "Required", "Description", "Example"], rows)


def _media_md(media: MediaView, heading: str) -> str:
    parts = [f"{heading} {code(media.media_type)}"]
    if media.schema is not None:
        parts.append(schema_md(media.schema))
    for example in media.examples:
        label = (
            "Generated example" if example.generated else f"Example {code(example.name)}" if example.name else "Example"
        )
        if example.summary:
            label += f": {esc(example.summary)}"
        parts.append(label)
        if example.description:
            parts.append(example.description.strip())
        if example.text is not None:
            parts.append(block(example.text, "json" if "json" in media.media_type else ""))
        elif example.external_text:
            parts.append("External: " + link(example.external_text, example.external_url))
    return "\n\n".join(p for p in parts if p)


def _operation_body_md(view: OperationView, level: int) -> list[str]:
    h2, h3, h4 = "#" * level, "#" * (level + 1), "#" * (level + 2)
    parts = []
    if view.security:
        alternatives = [
            " + ".join(code(name) + (f" ({', '.join(scopes)})" if scopes else "") for name, scopes in alt)
            for alt in view.security
        ]
        parts.append(f"{h2} Security\n\n" + "\n".join(f"- {a}" for a in alternatives))
    elif view.security_source == "none":
        parts.append(f"{h2} Security\n\nNo authentication.")
    if view.servers:
        parts.append(f"{h2} Servers\n\n" + "\n".join(f"- {code(s.url)}" for s in view.servers))
    if view.parameters:
        parts.append(f"{h2} Parameters\n\n" + _params_table(view.parameters))
        detailed = [p for p in view.parameters if p.schema is not None and p.schema.has_children]
        for p in detailed:
            parts.append(f"{h3} Parameter {code(p.name)}\n\n" + (schema_md(p.schema) or ""))
    if view.request_body is not None:
        body = view.request_body
        head = f"{h2} Request body" + (" (required)" if body.required else "")
        parts.append(head + (f"\n\n{body.description.strip()}" if body.description else ""))
        for media in body.contents:
            parts.append(_media_md(media, h3))
    if view.responses:
        parts.append(f"{h2} Responses")
        for response in view.responses:
            head = f"{h3} {esc(response.status)}"
            parts.append(head + (f"\n\n{response.description.strip()}" if response.description else ""))
            if response.headers:
                parts.append("Headers:\n\n" + _params_table(response.headers, "Header"))
            for media in response.contents:
                parts.append(_media_md(media, h4))
            for ln in response.links:
                line = f"Link {code(ln.name)}"
                if ln.target_text:
                    line += " → " + link(ln.target_text, ln.target_url)
                if ln.description:
                    line += f": {cell(ln.description)}"
                if ln.parameters:
                    line += " (" + ", ".join(f"{code(k)} = {code(v)}" for k, v in ln.parameters) + ")"
                parts.append(line)
    if view.callbacks:
        parts.append(f"{h2} Callbacks")
        for callback in view.callbacks:
            parts.append(f"{h3} {esc(callback.name)}")
            for expression, ops in callback.expressions:
                for op in ops:
                    parts.append(f"{h4} {code(op.method.upper() + ' ' + expression)}")
                    if op.summary:
                        parts.append(esc(op.summary))
                    if op.description:
                        parts.append(op.description.strip())
                    parts.extend(_operation_body_md(op, min(level + 3, 6)))
    return parts


def operation_md(view: OperationView) -> str:
    parts = [
        f"# {esc(view.title)}",
        code(f"{view.method.upper()} {view.path}") + (" (webhook)" if view.is_webhook else ""),
    ]
    if view.deprecated:
        parts.append("> **Deprecated.** This operation may be removed in a future version.")
    meta = []
    if view.operation_id:
        meta.append(f"Operation ID: {code(view.operation_id)}")
    if view.tags:
        meta.append("Tags: " + ", ".join(esc(t) for t in view.tags))
    if meta:
        parts.append(" · ".join(meta))
    if view.description:
        parts.append(view.description.strip())
    if view.external_docs:
        parts.append("External docs: " + link(view.external_docs[2] or view.external_docs[0], view.external_docs[1]))
    parts.extend(_operation_body_md(view, 2))
    if view.samples:
        parts.append("## Code samples")
        for sample in view.samples:
            parts.append(f"### {sample.label}\n\n" + block(sample.code, FENCE_LANG.get(sample.language, "")))
    return _join(parts)


def message_md(message: MessageView, level: int = 3) -> str:
    h, h2 = "#" * level, "#" * (level + 1)
    title = message.label
    parts = [f"{h} {link(title, message.url) if message.url else esc(title)}"]
    meta = []
    if message.content_type:
        meta.append(f"Content type: {code(message.content_type)}")
    if message.schema_format:
        meta.append(f"Schema format: {code(message.schema_format)}")
    if message.deprecated:
        meta.append("**Deprecated**")
    if meta:
        parts.append(" · ".join(meta))
    if message.summary:
        parts.append(esc(message.summary))
    if message.description:
        parts.append(message.description.strip())
    if message.correlation_id:
        location, description = message.correlation_id
        parts.append(f"Correlation ID: {code(location or '')}" + (f" — {cell(description)}" if description else ""))
    if message.headers is not None:
        parts.append(f"{h2} Headers\n\n" + (schema_md(message.headers) or ""))
    if message.payload is not None:
        parts.append(f"{h2} Payload\n\n" + (schema_md(message.payload) or ""))
    elif message.raw_payload is not None:
        parts.append(f"{h2} Payload\n\n" + block(message.raw_payload, "json"))
    for protocol, value in message.bindings:
        parts.append(f"Binding {code(protocol)}:\n\n" + block(value, "json"))
    for example in message.examples:
        label = (
            "Generated example" if example.generated else f"Example {esc(example.name)}" if example.name else "Example"
        )
        if example.summary:
            label += f": {esc(example.summary)}"
        parts.append(f"{h2} {label}")
        if example.headers is not None:
            parts.append("Headers:\n\n" + block(example.headers, "json"))
        if example.payload is not None:
            parts.append("Payload:\n\n" + block(example.payload, "json"))
    return "\n\n".join(parts)


def async_operation_md(view: AsyncOperationView) -> str:
    parts = [f"# {esc(view.title)}", code(f"{view.action.upper()} {view.address}")]
    if view.deprecated:
        parts.append("> **Deprecated.**")
    parts.append(esc(view.action_text))
    meta = []
    if view.operation_id:
        meta.append(f"Operation ID: {code(view.operation_id)}")
    if view.tags:
        meta.append("Tags: " + ", ".join(esc(t) for t in view.tags))
    if view.servers:
        meta.append("Servers: " + ", ".join(code(s) for s in view.servers))
    if meta:
        parts.append(" · ".join(meta))
    if view.description:
        parts.append(view.description.strip())
    if view.channel_description:
        parts.append("## Channel\n\n" + view.channel_description.strip())
    if view.parameters:
        rows = [
            [code(name), code(node.type_text) if node else "", cell(description), cell(location)]
            for name, description, node, location in view.parameters
        ]
        parts.append("## Parameters\n\n" + table(["Name", "Type", "Description", "Location"], rows))
    if view.security:
        parts.append(
            "## Security\n\n"
            + "\n".join(
                "- " + " + ".join(code(n) + (f" ({', '.join(s)})" if s else "") for n, s in alt)
                for alt in view.security
            )
        )
    for title, bindings in (("Operation bindings", view.bindings), ("Channel bindings", view.channel_bindings)):
        if bindings:
            parts.append(f"## {title}\n\n" + "\n\n".join(f"{code(p)}:\n\n" + block(v, "json") for p, v in bindings))
    if view.messages:
        parts.append("## Messages")
        parts.extend(message_md(m) for m in view.messages)
    if view.reply is not None:
        reply = ["## Reply"]
        if view.reply.channel:
            reply.append(f"Channel: {code(view.reply.channel)}")
        if view.reply.address:
            reply.append(f"Address: {code(view.reply.address)}")
        parts.append("\n\n".join(reply))
        parts.extend(message_md(m) for m in view.reply.messages)
    return _join(parts)


# -- schemas -----------------------------------------------------------------------------------------------


def schemas_md(title: str, items: list[SchemaListItem]) -> str:
    parts = [f"# Schemas · {esc(title)}"]
    if items:
        rows = [
            [link(i.name, i.url), code(i.type_text), cell(i.description) + (" *(deprecated)*" if i.deprecated else "")]
            for i in items
        ]
        parts.append(table(["Name", "Type", "Description"], rows))
    else:
        parts.append("This definition has no named schemas.")
    return _join(parts)


def schema_page_md(page: SchemaPage) -> str:
    parts = [f"# {esc(page.name)}"]
    if page.message is not None:
        parts.append(message_md(page.message, 2))
    else:
        parts.append(schema_md(page.node))
        if page.example:
            parts.append("## Example\n\n" + block(page.example, "json"))
    if page.used_by:
        parts.append(
            "## Used by\n\n" + "\n".join(f"- {link(f'{e.method_label} {e.path}', e.url)}" for e in page.used_by)
        )
    return _join(parts)


# -- changes -----------------------------------------------------------------------------------------------


def changes_md(title: str, old_version: str, new_version: str, changes: Changes) -> str:
    parts = [f"# Changes · {esc(title)}", f"From {code(old_version)} to {code(new_version)}."]
    if changes.empty:
        parts.append("No structural changes.")
        return _join(parts)
    parts.append("\n".join(f"- {label}: {count}" for label, count in changes.counts.items()))

    def op_line(op) -> str:
        return f"- {link(f'{op.method.upper()} {op.path}', op.url)}" + (f" — {cell(op.summary)}" if op.summary else "")

    if changes.operations_added:
        parts.append("## Operations added\n\n" + "\n".join(op_line(o) for o in changes.operations_added))
    if changes.operations_removed:
        parts.append("## Operations removed\n\n" + "\n".join(op_line(o) for o in changes.operations_removed))
    if changes.operations_changed:
        lines = ["## Operations changed"]
        for change in changes.operations_changed:
            lines.append(op_line(change.op) + "\n" + "\n".join(f"  - {d.change}: {d.text}" for d in change.details))
        parts.append("\n\n".join(lines))
    if changes.schemas_added:
        parts.append("## Schemas added\n\n" + "\n".join(f"- {link(s.name, s.url)}" for s in changes.schemas_added))
    if changes.schemas_removed:
        parts.append("## Schemas removed\n\n" + "\n".join(f"- {link(s.name, s.url)}" for s in changes.schemas_removed))
    if changes.schemas_changed:
        lines = ["## Schemas changed"]
        for change in changes.schemas_changed:
            lines.append(
                f"- {link(change.schema.name, change.schema.url)}\n"
                + "\n".join(f"  - {d.change}: {d.text}" for d in change.details)
            )
        parts.append("\n\n".join(lines))
    return _join(parts)
