"""The component entry point: the `handle` export of the wasmhook plugin world.

componentize-py generates `wit_world` from plugin.wit when it builds the component; this
file only moves bytes in and out and maps errors, the work is in `form_to_json`.
"""

import json

import wit_world
from componentize_py_types import Err

import form_to_json


class WitWorld(wit_world.WitWorld):
    def handle(self, envelope: bytes) -> bytes:
        try:
            event = json.loads(envelope)
            if not isinstance(event, dict):
                raise ValueError("the envelope is not a JSON object")
            result = form_to_json.transform(event)
            # allow_nan=False and a strict UTF-8 encoding: never hand the host output it
            # would refuse; a ValueError here becomes an `err` that says why.
            return json.dumps(result, ensure_ascii=False, allow_nan=False).encode()
        except ValueError as error:
            # `Err` is the WIT `result`'s err: a plugin error, with this message in the
            # host's log. Any other exception traps, also a plugin error, with the traceback
            # on stderr.
            raise Err(f"form-to-json: {error}") from None
