"""Turns a form-encoded webhook body into nested JSON.

wasmhook gives a plugin an `application/x-www-form-urlencoded` body as a flat object of
strings, one member per field. Providers such as MailChimp encode structure in the field
names with PHP-style brackets; this module rebuilds it:

    {"type": "subscribe", "data[email]": "a@b.c", "data[merges][FNAME]": "Ann"}
    -> {"type": "subscribe", "data": {"email": "a@b.c", "merges": {"FNAME": "Ann"}}}

`a[0]`, `a[1]` (or `a[]`) become an array, and the top-level fields named in
`config.json_fields` hold JSON text that is parsed (Mandrill's `mandrill_events`, Slack's
`payload`).

This module is plain Python with no WebAssembly in sight, so that its tests run natively;
`app.py` is the component entry point around it. Nothing is kept between calls, which
makes the plugin safe to run with `reuse = true`.
"""

import json
import re

# An array index: a non-negative integer without leading zeros, at most 9 digits, as PHP
# reads integer keys. Longer digit strings are object keys, which keeps `int()` cheap.
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")

# Deeper names are kept whole, so that a hostile field name cannot nest without bound.
MAX_DEPTH = 32

# The `[]` segment: append to the array.
_APPEND = ""

CONFIG_KEYS = {"json_fields"}


class FormError(ValueError):
    """A problem with the config or with a field's contents: the call is a plugin error."""


def transform(envelope):
    """The plugin: `{"body": nested}` for a form body; `{}` (no change) for any other body.

    A form body is what wasmhook makes of `application/x-www-form-urlencoded`: an object
    whose values are all strings. Other bodies (JSON, text, `body_base64`) pass unchanged,
    so that a source mixing form and JSON requests (a Slack app: slash commands and the
    Events API) can run every event through this transform.
    """
    json_fields = _json_fields(envelope.get("config", {}))
    body = envelope.get("body")
    if not is_form(body):
        return {}
    nested = nest(body)
    for name in json_fields:
        if name in nested:
            nested[name] = _parse_json_field(name, nested[name])
    return {"body": nested}


def is_form(body):
    """Whether `body` is a parsed form: an object of strings."""
    return isinstance(body, dict) and all(isinstance(value, str) for value in body.values())


def nest(fields):
    """Nests the flat `fields` by their bracketed names, in the order they come."""
    root = {}
    for name, value in fields.items():
        _assign(root, split_name(name), value)
    return {key: _finish(value) for key, value in root.items()}


def split_name(name):
    """The path a field name stands for: `data[merges][FNAME]` -> ["data", "merges", "FNAME"].

    A bracketed name is a base, then `[segment]` groups (each possibly empty). Anything else
    (`a[b`, `a[b]c`, `[a]`) is not bracket syntax and is kept as a plain name.

    `[]` gives an empty segment (append). A name that is not bracket syntax, or nests
    deeper than MAX_DEPTH, is a path of one: the name as it is.
    """
    # Plain string operations rather than a regular expression: this runs for every field
    # of every event, and CPython's `re` is slow in WebAssembly.
    head, bracket, rest = name.partition("[")
    if not bracket:
        return [name]
    if not head or "]" in head or not rest.endswith("]"):
        return [name]
    segments = rest[:-1].split("][")
    if len(segments) > MAX_DEPTH or any("[" in s or "]" in s for s in segments):
        return [name]
    return [head, *segments]


def _assign(root, path, value):
    """Stores `value` at `path`, creating containers on the way.

    While building, every container is a dict; arrays become lists in `_finish`, once all
    their keys are known. When a field both holds a value and has nested fields (`a=1` and
    `a[b]=2`), the nested fields win whatever the order, as the structure is what
    consumers of the JSON expect.
    """
    node = root
    for depth, segment in enumerate(path):
        key = _next_index(node) if segment == _APPEND and depth > 0 else segment
        if depth == len(path) - 1:
            if not isinstance(node.get(key), dict):
                node[key] = value
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child


def _next_index(node):
    """The key `[]` appends at: one past the largest index, as in PHP."""
    indices = [int(key) for key in node if _INDEX.fullmatch(key)]
    return str(max(indices) + 1) if indices else "0"


def _finish(value):
    """Turns the dicts keyed only by indices into lists, in index order, recursively.

    Gaps are closed (`a[0]`, `a[5]` is a two-element array), so an index cannot make the
    plugin allocate a huge array. A dict with any other key stays an object.
    """
    if not isinstance(value, dict):
        return value
    if all(_INDEX.fullmatch(key) for key in value):
        return [_finish(value[key]) for key in sorted(value, key=int)]
    return {key: _finish(item) for key, item in value.items()}


def _json_fields(config):
    """`config.json_fields`, checked: a list of strings, empty when absent."""
    if not isinstance(config, dict):
        raise FormError("config must be an object")
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise FormError(f"unknown config key(s) {', '.join(unknown)}; known: json_fields")
    fields = config.get("json_fields", [])
    if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
        raise FormError('config.json_fields must be a list of field names, e.g. ["payload"]')
    return fields


def _parse_json_field(name, text):
    if not isinstance(text, str):
        raise FormError(f"field {name!r} is in config.json_fields but has nested fields")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise FormError(f"field {name!r} is not valid JSON: {error}") from None


def _reject_constant(constant):
    # Python's json reads NaN and Infinity, which are not JSON: the host would refuse the
    # output. Refusing them here names the field at fault instead.
    raise ValueError(f"{constant} is not JSON")
