#!/usr/bin/env python3
"""Writes reporunner_client/_api.py from Repo Runner's OpenAPI document.

    python3 generate.py openapi.json            # write the module
    python3 generate.py openapi.json --check    # exit 1 if the module is not what it gives

The document comes from a running node (`curl localhost:8080/openapi.json`). Every schema
becomes a TypedDict, and every operation a method of `Operations` named after its resource
and its operationId (`runs_start`, `users_list`, `admin_restart`), with its path parameters
as arguments, its JSON body as a TypedDict, its query parameters as keywords, and its
answer's type. Only the standard library is used, here and in the client.
"""

from __future__ import annotations

import json
import keyword
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "reporunner_client" / "_api.py"

SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def py_type(schema: dict | None) -> str:
    """The Python annotation for a JSON schema."""
    if not schema:
        return "Any"
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type")
    if isinstance(kind, list):
        inner = [k for k in kind if k != "null"]
        base = py_type({**schema, "type": inner[0]}) if len(inner) == 1 else "Any"
        return f"Optional[{base}]" if "null" in kind else base
    if kind == "array":
        return f"List[{py_type(schema.get('items'))}]"
    if kind == "object":
        return "Dict[str, Any]"
    return SCALARS.get(kind, "Any")


def ident(name: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in name)
    return name + "_" if keyword.iskeyword(name) else name


def method_name(path: str, op: dict) -> str:
    """`runs_start` for POST /v1/runs (operationId `start`); `healthz` for GET /healthz."""
    parts = [p for p in path.strip("/").split("/") if p and not p.startswith("{")]
    if parts and parts[0] == "v1":
        parts = parts[1:]
    resource = parts[0] if parts else ""
    oid = op["operationId"]
    if not resource or oid.startswith(resource):
        return ident(oid)
    return ident(f"{resource}_{oid}")


def answer(op: dict) -> tuple[str, str]:
    """The annotation of a successful answer, and how it is read: json, text, stream, none."""
    for status, response in sorted(op.get("responses", {}).items()):
        if not status.startswith("2"):
            continue
        content = response.get("content") or {}
        if "application/json" in content:
            return py_type(content["application/json"].get("schema")), "json"
        if "text/event-stream" in content:
            return "Iterator[Event]", "stream"
        if "text/plain" in content:
            return "str", "text"
        return "None", "none"
    return "None", "none"


def generate(doc: dict) -> str:
    out = [
        '"""Generated from Repo Runner\'s OpenAPI document by generate.py: do not edit."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any, Dict, Iterator, List, Optional",
        "",
        "from typing_extensions_shim import TypedDict, NotRequired",
        "",
        "from ._transport import Event, Transport",
        "",
        f"API_TITLE = {doc['info']['title']!r}",
        f"API_VERSION = {doc['info']['version']!r}",
        "",
    ]
    for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items()):
        out.append("")
        out.append(f"class {name}(TypedDict):")
        desc = (schema.get("description") or name).strip().replace('"""', "'")
        desc = desc.replace("\n", "\n    ")
        out.append(f'    """{desc}"""')
        out.append("")
        required = set(schema.get("required", []))
        props = schema.get("properties", {})
        if not props:
            out.append("    pass")
        for prop, sub in sorted(props.items()):
            annotation = py_type(sub)
            if prop not in required:
                annotation = f"NotRequired[{annotation}]"
            out.append(f"    {ident(prop)}: {annotation}")
            if sub.get("description"):
                text = sub["description"].strip().replace('"""', "'").replace("\n", "\n    ")
                out.append(f'    """{text}"""')
        out.append("")
    out.append("")
    out.append("class Operations:")
    out.append('    """Every operation of the API, one method each."""')
    out.append("")
    out.append("    _transport: Transport")
    ops = []
    for path, item in doc.get("paths", {}).items():
        for verb, op in item.items():
            ops.append((method_name(path, op), verb.upper(), path, op))
    seen = set()
    for name, verb, path, op in sorted(ops):
        if name in seen:
            raise SystemExit(f"two operations would be called {name}: add a rule to method_name")
        seen.add(name)
        params = op.get("parameters", [])
        path_params = [p for p in params if p["in"] == "path"]
        query_params = [p for p in params if p["in"] == "query"]
        args = ["self"] + [f"{ident(p['name'])}: str" for p in path_params]
        body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
        if body:
            args.append(f"body: {py_type(body.get('schema'))}")
        if query_params:
            args.append("*")
            for p in query_params:
                kind = py_type(p.get("schema"))
                if not kind.startswith("Optional["):
                    kind = f"Optional[{kind}]"
                args.append(f"{ident(p['name'])}: {kind} = None")
        returns, mode = answer(op)
        out.append("")
        out.append(f"    def {name}({', '.join(args)}) -> {returns}:")
        summary = (op.get("summary") or op["operationId"]).strip().replace('"""', "'")
        summary = summary.replace("\n", "\n        ")
        out.append(f'        """{verb} {path}: {summary}"""')
        url = "f" + repr(path) if path_params else repr(path)
        query = "{" + ", ".join(f"{p['name']!r}: {ident(p['name'])}" for p in query_params) + "}"
        out.append(
            f"        return self._transport.call({verb!r}, {url}, "
            f"body={'body' if body else 'None'}, query={query if query_params else 'None'}, "
            f"mode={mode!r})  # type: ignore[return-value]"
        )
    out.append("")
    text = "\n".join(out)
    # TypedDict and NotRequired from typing where this Python has them.
    return text.replace(
        "from typing_extensions_shim import TypedDict, NotRequired",
        "from ._typing import NotRequired, TypedDict",
    )


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    doc = json.loads(Path(sys.argv[1]).read_text())
    text = generate(doc)
    if "--check" in sys.argv[2:]:
        if TARGET.read_text() != text:
            print(
                f"{TARGET} is not what the API's document gives: run "
                f"`python3 {Path(__file__).name} openapi.json` and commit it",
                file=sys.stderr,
            )
            return 1
        print(f"{TARGET.name} matches the API's document")
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
