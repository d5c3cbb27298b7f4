"""Reading the contract the way OpenAPI means it: through its local `$ref`s.

The contract is one file whose schemas refer to each other (`#/components/schemas/Contact`).
Every room that reads it — the fake's validators, the integration's mapping, the linter, the
conformance kit — needs the same three things: follow a reference, name the node it ends on,
and walk operations. They live here so a reference is resolved one way everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_HOPS = 32


class UnresolvableReference(ValueError):
    """A `$ref` that is not local (`#/…`), points nowhere, or loops."""


def escape(token: str) -> str:
    """One JSON Pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer_of(parts: list[str] | tuple[str, ...]) -> str:
    return "".join("/" + escape(str(part)) for part in parts)


def lookup(spec: dict[str, Any], pointer: str) -> Any:
    """The node at a JSON Pointer (`/components/schemas/Contact`, with or without a leading `#`)."""
    node: Any = spec
    for token in pointer.lstrip("#").split("/")[1:]:
        token = unescape(token)
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError, TypeError):
            raise UnresolvableReference(f"nothing at {pointer!r} in the contract") from None
    return node


def follow(spec: dict[str, Any], node: Any) -> tuple[Any, str | None]:
    """Follow `$ref`s from `node` to a non-reference node; also return the last pointer taken."""
    pointer = None
    for _ in range(_MAX_HOPS):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str):
            return node, pointer
        if not ref.startswith("#/"):
            raise UnresolvableReference(f"only local references are supported, not {ref!r}")
        pointer = ref[1:]
        node = lookup(spec, pointer)
    raise UnresolvableReference(f"reference loop through {pointer!r}")


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """`node` with its `$ref`s followed."""
    return follow(spec, node)[0]


def schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """A named schema of `components/schemas`, resolved."""
    try:
        return resolve(spec, spec["components"]["schemas"][name])
    except KeyError:
        raise UnresolvableReference(f"the contract has no schema {name!r}") from None


def canonical_pointer(spec: dict[str, Any], parts: tuple | list) -> str | None:
    """The JSON Pointer of the node reached by walking `parts` and following every `$ref` on the
    way (so two paths to one schema get one name); None when the walk leaves the document."""
    node: Any = spec
    pointer: list[str] = []
    for part in parts:
        node, taken = follow(spec, node)
        if taken is not None:
            pointer = [unescape(token) for token in taken.split("/")[1:]]
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and str(part).isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        pointer.append(str(part))
    return None if node is None else pointer_of(pointer)


@dataclass(frozen=True)
class Operation:
    section: str  # "paths" or "webhooks"
    key: str  # the path template or the webhook name
    method: str
    node: dict[str, Any]  # the operation object itself

    @property
    def operation_id(self) -> str | None:
        return self.node.get("operationId")

    @property
    def label(self) -> str:
        """How a person names it: `GET /contacts`, `webhook contact.updated (POST)`."""
        if self.section == "paths":
            return f"{self.method.upper()} {self.key}"
        return f"webhook {self.key} ({self.method.upper()})"

    @property
    def pointer(self) -> str:
        return pointer_of((self.section, self.key, self.method))


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    """Every operation of `paths` and `webhooks`, in document order."""
    for section in ("paths", "webhooks"):
        for key, item in (spec.get(section) or {}).items():
            item = resolve(spec, item)
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    yield Operation(section, key, method, item[method])
