"""The console's JSON shapes: a call to make and its result, the credentials one may call with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool
Value = Scalar | list[Scalar]


class ConsoleParameters(BaseModel):
    """Values by location and name, as the operation declares them; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    path: dict[str, Value] = Field(default_factory=dict)
    query: dict[str, Value] = Field(default_factory=dict)
    header: dict[str, Value] = Field(default_factory=dict)
    cookie: dict[str, Value] = Field(default_factory=dict)


class ConsoleCallIn(BaseModel):
    """One call of an operation. There is no URL or host to give: the portal builds the URL from the
    product's gateway route and the operation's path template."""

    model_config = ConfigDict(extra="forbid")

    api: str = Field(description="The API: `namespace/name` or `api:namespace/name`.", examples=["default/petstore"])
    version: str = Field(description="A published version of it.", examples=["1.0.0"])
    operation: str = Field(description="The operation: its anchor in the docs or its operationId.")
    credential: str = Field(
        description="An API key's id (`dh_test_<id>`: the id part), an OAuth2 client id, or `keyless` to call "
        "without one through a product with a keyless plan."
    )
    environment: Literal["sandbox", "production"] = "sandbox"
    product: str | None = Field(None, description="The product to call through, when several offer the API.")
    parameters: ConsoleParameters = Field(default_factory=ConsoleParameters)
    body: Any = Field(None, description="The request body: a string is sent as it is, anything else as JSON.")
    content_type: str | None = Field(None, description="One of the operation's request media types.")


class ConsoleHeader(BaseModel):
    name: str
    value: str


class ConsoleCallOut(BaseModel):
    method: str
    url: str = Field(description="The gateway URL called (its public address).")
    status: int
    headers: list[ConsoleHeader]
    body: str = Field(description="The response body as text (JSON indented), cut at 256 KiB.")
    body_json: Any = Field(None, description="The body parsed, when it is JSON.")
    truncated: bool
    size: int = Field(description="The response body's size in bytes.")
    elapsed_ms: float
    curl: str = Field(description="The same call as a curl command; the key is a placeholder, never the secret.")
    credential: str
    product: str


class ConsoleApplication(BaseModel):
    id: str
    name: str


class ConsoleChoiceOut(BaseModel):
    credential: str = Field(description="What `credential` takes in a call: a key id, a client id or `keyless`.")
    kind: Literal["api_key", "oauth2", "keyless"]
    label: str = Field(description="What identifies the credential on screen (never a secret).")
    environment: str = Field(description="Where the gateway sends the call (for `keyless`: fixed by the product).")
    product: str
    application: ConsoleApplication | None = Field(description="The application holding it; none for `keyless`.")


class ConsoleChoicesOut(BaseModel):
    items: list[ConsoleChoiceOut]
    get_access: list[str] = Field(description="Pages of the products offering this API, to get access.")
