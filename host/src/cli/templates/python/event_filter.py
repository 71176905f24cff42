"""What {{name}} decides: an event passes when its `type` is one of `config.types`.

Plain Python, apart from the component: `app.py` calls it from `handle`, and
`test_event_filter.py` tests it natively. It keeps nothing between calls, so the plugin
may run with `reuse = true`.
"""


class ConfigError(ValueError):
    """The config is unusable: every call is a plugin error until it is fixed."""


def passes(envelope):
    """True when the event's `type` is listed in `config.types`."""
    return envelope.get("type") in wanted_types(envelope.get("config", {}))


def wanted_types(config):
    """`config.types`: a non-empty list of event types."""
    types = config.get("types") if isinstance(config, dict) else None
    if not types or not isinstance(types, list):
        raise ConfigError("config.types is required, e.g. --config '{\"types\": [\"push\"]}'")
    return types
