"""The component entry point of {{name}}: the `handle` export of the wasmhook plugin world.

componentize-py generates `wit_world` from plugin.wit when it builds the component. This
file only turns bytes into JSON and back; the decision is in `event_filter.py`.
"""

import json

import wit_world
from componentize_py_types import Err

import event_filter


class WitWorld(wit_world.WitWorld):
    def handle(self, envelope: bytes) -> bytes:
        try:
            verdict = event_filter.passes(json.loads(envelope))
        except ValueError as error:  # the envelope is not JSON, or a ConfigError
            # Raising `Err` returns the WIT result's `err`: a plugin error whose message
            # the host logs. Any other exception traps, with its traceback on stderr.
            raise Err(f"{{name}}: {error}") from None
        return json.dumps(verdict).encode()
