"""Tests of form_to_json on real provider payloads, run natively: `python3 -m unittest`."""

import copy
import json
import unittest
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from form_to_json import FormError, nest, split_name, transform

FIXTURES = Path(__file__).resolve().parent / "../../../shared/fixtures"

# A Mailchimp "subscribe" webhook, as in Mailchimp's webhook documentation.
MAILCHIMP_SUBSCRIBE = (
    "type=subscribe&fired_at=2009-03-26+21%3A35%3A57&data%5Bid%5D=8a25ff1d98"
    "&data%5Blist_id%5D=a6b5da1054&data%5Bemail%5D=api%40mailchimp.com&data%5Bemail_type%5D=html"
    "&data%5Bmerges%5D%5BEMAIL%5D=api%40mailchimp.com&data%5Bmerges%5D%5BFNAME%5D=Mailchimp"
    "&data%5Bmerges%5D%5BLNAME%5D=API&data%5Bmerges%5D%5BINTERESTS%5D=Group1%2CGroup2"
    "&data%5Bip_opt%5D=10.20.10.30&data%5Bip_signup%5D=10.20.10.30"
)


def form_body(text):
    """The body as wasmhook's ingest gives it for a form: one string per field name (the
    last one wins), members in name order (the host's JSON objects are sorted)."""
    fields = dict(parse_qsl(text, keep_blank_values=True))
    return dict(sorted(fields.items()))


def envelope(body, config=None):
    return {
        "id": "evt_test",
        "source": "hooks",
        "type": None,
        "headers": {},
        "body": body,
        "config": {} if config is None else config,
    }


def run(text, config=None):
    """The body the plugin sends on for the form `text`."""
    return transform(envelope(form_body(text), config))["body"]


class Mailchimp(unittest.TestCase):
    def test_bracketed_fields_become_nested_objects(self):
        self.assertEqual(
            run(MAILCHIMP_SUBSCRIBE),
            {
                "type": "subscribe",
                "fired_at": "2009-03-26 21:35:57",
                "data": {
                    "email": "api@mailchimp.com",
                    "email_type": "html",
                    "id": "8a25ff1d98",
                    "ip_opt": "10.20.10.30",
                    "ip_signup": "10.20.10.30",
                    "list_id": "a6b5da1054",
                    "merges": {
                        "EMAIL": "api@mailchimp.com",
                        "FNAME": "Mailchimp",
                        "INTERESTS": "Group1,Group2",
                        "LNAME": "API",
                    },
                },
            },
        )

    def test_indexed_fields_become_arrays_in_index_order(self):
        # Sorted by name, as the host gives them, [10] comes before [2]: order by index.
        groupings = [
            (f"data[merges][GROUPINGS][{i}][{key}]", f"{key}{i}")
            for i in range(12)
            for key in ("id", "name")
        ]
        body = run(urlencode([("type", "profile"), *groupings]))
        self.assertEqual(
            body["data"]["merges"]["GROUPINGS"],
            [{"id": f"id{i}", "name": f"name{i}"} for i in range(12)],
        )


class Mandrill(unittest.TestCase):
    def setUp(self):
        self.form = (FIXTURES / "mandrill/send.form.body").read_text()
        self.events = json.loads((FIXTURES / "mandrill/anymail.send.events.json").read_text())

    def test_json_fields_are_parsed(self):
        body = run(self.form, {"json_fields": ["mandrill_events"]})
        self.assertEqual(body, {"mandrill_events": self.events})

    def test_fields_not_listed_stay_strings(self):
        body = run(self.form)
        self.assertIsInstance(body["mandrill_events"], str)
        self.assertEqual(json.loads(body["mandrill_events"]), self.events)


class Slack(unittest.TestCase):
    def test_a_slash_command_has_no_brackets_and_comes_out_as_it_went_in(self):
        text = (FIXTURES / "slack/slash-command.signed.body").read_text()
        body = run(text, {"json_fields": ["payload"]})  # no payload here: nothing to parse
        self.assertEqual(body, form_body(text))
        self.assertEqual(body["command"], "/webhook-collect")
        self.assertEqual(body["text"], "")

    def test_an_interactive_payload_is_parsed(self):
        payload = {"type": "block_actions", "user": {"id": "U2CERLKJA"}, "actions": []}
        body = run(urlencode({"payload": json.dumps(payload)}), {"json_fields": ["payload"]})
        self.assertEqual(body, {"payload": payload})


class Names(unittest.TestCase):
    def test_split_name(self):
        self.assertEqual(split_name("type"), ["type"])
        self.assertEqual(split_name("data[merges][FNAME]"), ["data", "merges", "FNAME"])
        self.assertEqual(split_name("a[]"), ["a", ""])
        self.assertEqual(split_name("a[0][b c]"), ["a", "0", "b c"])

    def test_names_that_are_not_bracket_syntax_are_kept_whole(self):
        for name in ("a[b", "a]", "a[b]c", "[a]", "a[b[c]]", ""):
            with self.subTest(name=name):
                self.assertEqual(split_name(name), [name])
        self.assertEqual(nest({"a[b": "1", "a[c]": "2"}), {"a[b": "1", "a": {"c": "2"}})

    def test_names_nested_too_deep_are_kept_whole(self):
        deep = "a" + "[x]" * 33
        self.assertEqual(nest({deep: "1"}), {deep: "1"})
        self.assertEqual(len(split_name("a" + "[x]" * 32)), 33)


class Arrays(unittest.TestCase):
    def test_empty_brackets_append(self):
        self.assertEqual(nest({"a[]": "x"}), {"a": ["x"]})
        self.assertEqual(nest({"a[0]": "x", "a[]": "y"}), {"a": ["x", "y"]})
        self.assertEqual(nest({"a[][b]": "1", "a[][c]": "2"}), {"a": [{"b": "1"}, {"c": "2"}]})

    def test_gaps_are_closed(self):
        self.assertEqual(nest({"a[5]": "y", "a[0]": "x"}), {"a": ["x", "y"]})
        self.assertEqual(nest({"a[999999999]": "x"}), {"a": ["x"]})

    def test_other_keys_make_an_object(self):
        self.assertEqual(nest({"a[0]": "x", "a[b]": "y"}), {"a": {"0": "x", "b": "y"}})
        for key in ("01", "-1", "1.0", "1234567890"):
            with self.subTest(key=key):
                self.assertEqual(nest({f"a[{key}]": "x"}), {"a": {key: "x"}})

    def test_the_top_level_is_always_an_object(self):
        self.assertEqual(nest({"0": "x", "1": "y"}), {"0": "x", "1": "y"})


class Conflicts(unittest.TestCase):
    def test_nested_fields_win_over_a_plain_value_in_any_order(self):
        expected = {"a": {"b": "2"}}
        self.assertEqual(nest({"a": "1", "a[b]": "2"}), expected)
        self.assertEqual(nest({"a[b]": "2", "a": "1"}), expected)
        self.assertEqual(nest({"a[b]": "1", "a[b][c]": "2"}), {"a": {"b": {"c": "2"}}})


class Envelopes(unittest.TestCase):
    def test_bodies_that_are_not_forms_pass_unchanged(self):
        reaction = json.loads((FIXTURES / "slack/events-api.reaction_added.json").read_text())
        for body in (reaction, "plain text", ["a"], None, {"a": 1}):
            with self.subTest(body=body):
                self.assertEqual(transform(envelope(body)), {})
        self.assertEqual(transform({"body_base64": "AAE=", "config": {}}), {})

    def test_the_envelope_is_not_modified(self):
        event = envelope(form_body("a[b]=1&payload=%7B%7D"), {"json_fields": ["payload"]})
        before = copy.deepcopy(event)
        first = transform(event)
        self.assertEqual(event, before)
        self.assertEqual(transform(event), first)  # and a second call gives the same

    def test_a_missing_config_is_no_config(self):
        event = envelope({"a[b]": "1"})
        del event["config"]
        self.assertEqual(transform(event), {"body": {"a": {"b": "1"}}})


class Errors(unittest.TestCase):
    def assertFails(self, body, config, message):
        with self.assertRaises(FormError) as raised:
            transform(envelope(body, config))
        self.assertIn(message, str(raised.exception))

    def test_invalid_json_in_a_json_field(self):
        config = {"json_fields": ["payload"]}
        self.assertFails({"payload": "{nope"}, config, "'payload' is not valid JSON")

    def test_nan_is_not_json(self):
        self.assertFails({"payload": "[NaN]"}, {"json_fields": ["payload"]}, "NaN is not JSON")

    def test_a_json_field_with_nested_fields(self):
        config = {"json_fields": ["data"]}
        self.assertFails({"data[a]": "1"}, config, "'data' is in config.json_fields")

    def test_bad_config(self):
        self.assertFails({}, {"json_fields": "payload"}, "must be a list of field names")
        self.assertFails({}, {"json_fields": [1]}, "must be a list of field names")
        self.assertFails({}, {"json_field": ["payload"]}, "unknown config key(s) json_field")
        self.assertFails({}, [], "config must be an object")

    def test_errors_are_value_errors(self):
        # app.py turns ValueError into the WIT `err`; anything else would trap.
        self.assertTrue(issubclass(FormError, ValueError))


if __name__ == "__main__":
    unittest.main()
