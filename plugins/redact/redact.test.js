// Unit tests of the redact transform, run natively: `node --test redact.test.js`.
// The payloads are real provider examples from the shared fixtures.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  DEFAULT_MASK,
  maskCardNumber,
  parsePointer,
  passesLuhn,
  readConfig,
  redact,
  transform,
} from "./redact.js";
import { handle } from "./plugin.js";

const FIXTURES = new URL("../../../shared/fixtures/", import.meta.url);

function fixture(path) {
  return JSON.parse(readFileSync(new URL(path, FIXTURES), "utf8"));
}

/** A Stripe event around one of the pay-rails `data` fixtures, as Stripe sends it. */
function stripeEvent(type, dataFile) {
  return { id: "evt_1", object: "event", type, data: fixture(`stripe/${dataFile}`) };
}

function envelope(body, config) {
  return { id: "evt_1", source: "test", type: null, headers: {}, body, config };
}

/** Every e-mail-like string in a JSON value, to check that none is left. */
function addressesIn(value) {
  return JSON.stringify(value).match(/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g) ?? [];
}

describe("paths", () => {
  it("masks every member of billing_details in a Stripe charge", () => {
    const event = stripeEvent("charge.succeeded", "pay-rails.charge.succeeded.data.json");
    const { body } = transform(envelope(event, { paths: ["/data/object/billing_details/*"] }));

    assert.deepEqual(body.data.object.billing_details, {
      address: DEFAULT_MASK,
      email: DEFAULT_MASK,
      name: DEFAULT_MASK,
      phone: DEFAULT_MASK,
    });
    // Everything else is untouched.
    const expected = structuredClone(event);
    expected.data.object.billing_details = body.data.object.billing_details;
    assert.deepEqual(body, expected);
  });

  it("masks the customer details of a Stripe checkout session with a custom mask", () => {
    const event = stripeEvent(
      "checkout.session.completed",
      "pay-rails.checkout.session.completed.data.json",
    );
    const config = {
      paths: ["/data/object/customer_details/email", "/data/object/customer_details/name"],
      mask: null,
    };
    const details = transform(envelope(event, config)).body.data.object.customer_details;

    assert.equal(details.email, null);
    assert.equal(details.name, null);
    assert.equal(details.address.postal_code, "42424");
  });

  it("reaches into every array element with *", () => {
    const author = (email) => ({ author: { email } });
    const body = { commits: [author("a@example.com"), author("b@example.com")] };
    const result = redact(body, readConfig({ paths: ["/commits/*/author/email"] }));
    assert.deepEqual(result, { commits: [author(DEFAULT_MASK), author(DEFAULT_MASK)] });
  });

  it("addresses array elements by index", () => {
    const result = redact({ items: ["a", "b", "c"] }, readConfig({ paths: ["/items/1"] }));
    assert.deepEqual(result, { items: ["a", DEFAULT_MASK, "c"] });
  });

  it("changes nothing where a path leads nowhere", () => {
    const body = { items: ["a"], customer: "cus_1", none: null };
    const paths = [
      "/missing",
      "/items/1",
      "/items/-",
      "/items/01",
      "/customer/email",
      "/none/x",
      "/items/*/x",
    ];
    assert.deepEqual(redact(body, readConfig({ paths })), body);
  });

  it("replaces the whole body for the empty pointer", () => {
    assert.equal(redact({ a: 1 }, readConfig({ paths: [""] })), DEFAULT_MASK);
  });

  it("redacts the body it is given in place, and returns it", () => {
    const event = fixture("stripe/event_test_signature.json");
    const result = redact(event, readConfig({ paths: ["/data/object/email"], emails: true }));
    assert.equal(result, event);
    assert.equal(event.data.object.email, DEFAULT_MASK);
  });

  it("keeps a member named __proto__ an own member", () => {
    const body = JSON.parse('{"__proto__": {"email": "a@example.com"}, "x": "b@example.com"}');
    const result = redact(body, readConfig({ paths: ["/__proto__/email"], emails: true }));
    assert.equal(Object.getPrototypeOf(result), Object.prototype);
    assert.deepEqual(Object.keys(result), ["__proto__", "x"]);
    assert.equal(result["__proto__"].email, DEFAULT_MASK);
    assert.equal(result.x, "b***@example.com");
  });
});

describe("parsePointer", () => {
  it("unescapes ~1 and ~0 as RFC 6901 says", () => {
    assert.deepEqual(parsePointer("/a~1b/m~0n/~01"), ["a/b", "m~n", "~1"]);
    assert.deepEqual(redact({ "a/b": 1, "m~n": 2 }, readConfig({ paths: ["/a~1b", "/m~0n"] })), {
      "a/b": DEFAULT_MASK,
      "m~n": DEFAULT_MASK,
    });
  });

  it("keeps empty segments, which name the member \"\"", () => {
    assert.deepEqual(parsePointer("/"), [""]);
  });

  it("rejects pointers that are not RFC 6901", () => {
    assert.throws(() => parsePointer("customer/email"), /must start with "\/"/);
    assert.throws(() => parsePointer("/a~2"), /"~" not followed by 0 or 1/);
    assert.throws(() => parsePointer(7), /must be a string/);
  });
});

describe("emails", () => {
  it("masks the e-mail address of a Stripe customer", () => {
    const event = fixture("stripe/event_test_signature.json");
    const { body } = transform(envelope(event, { emails: true }));
    assert.equal(body.data.object.email, "t***@stripe.com");
    const expected = structuredClone(event);
    expected.data.object.email = "t***@stripe.com";
    assert.deepEqual(body, expected);
  });

  it("leaves no address in a GitHub push", () => {
    const push = fixture("github/push.payload.json");
    assert.equal(addressesIn(push).length, 3);

    const { body } = transform(envelope(push, { emails: true }));
    assert.equal(body.repository.owner.email, "2***@users.noreply.github.com");
    assert.equal(body.pusher.email, "2***@users.noreply.github.com");
    // An SSH address has the form of an e-mail address and is masked too.
    assert.equal(body.repository.ssh_url, "g***@github.com:Codertocat/Hello-World.git");
    assert.deepEqual(
      addressesIn(body).filter((address) => !address.includes("***")),
      [],
    );
    assert.equal(body.repository.clone_url, push.repository.clone_url);
  });

  it("masks every address inside a longer text", () => {
    const body = { text: "From Ann <ann.lee+shop@mail.example.co.uk>, cc b@x.io." };
    assert.deepEqual(redact(body, readConfig({ emails: true })), {
      text: "From Ann <a***@mail.example.co.uk>, cc b***@x.io.",
    });
  });

  it("looks at values, not member names", () => {
    const body = { "ops@example.com": "on call" };
    assert.deepEqual(redact(body, readConfig({ emails: true })), body);
  });

  it("stays fast on a long string without @", () => {
    const blob = "A".repeat(200_000);
    const started = performance.now();
    redact({ blob }, readConfig({ emails: true, card_numbers: true }));
    assert.ok(performance.now() - started < 1000, "linear, not quadratic");
  });
});

describe("card numbers", () => {
  const cards = readConfig({ card_numbers: true });

  it("masks Luhn-valid numbers, keeping the last four digits", () => {
    const text =
      "visa 4242424242424242, amex 378282246310005, mc 5555-5555-5555-4444, printed 4000 0566 5566 5556";
    assert.equal(
      redact(text, cards),
      "visa ************4242, amex ***********0005, mc ****-****-****-4444, printed **** **** **** 5556",
    );
  });

  it("leaves numbers that fail the Luhn check", () => {
    assert.equal(redact("order 4242424242424241", cards), "order 4242424242424241");
  });

  it("leaves digit runs that are too short, too long or part of an id", () => {
    const texts = [
      "424242424242",
      "42424242424242424242",
      "sub_00000000000000",
      "ch_4242424242424242",
      "4242424242424242x",
    ];
    for (const text of texts) assert.equal(redact(text, cards), text);
  });

  it("changes nothing in real Stripe and GitHub payloads without card numbers", () => {
    const payloads = [
      fixture("stripe/pay-rails.customer.subscription.created.data.json"),
      fixture("stripe/dj-stripe.event_external_account_card_created.json"),
      fixture("github/push.with-new-branch.payload.json"),
    ];
    for (const payload of payloads) assert.deepEqual(redact(payload, cards), payload);
  });

  it("does not search JSON numbers", () => {
    assert.deepEqual(redact({ n: 4242424242424242 }, cards), { n: 4242424242424242 });
  });

  it("implements Luhn", () => {
    assert.ok(passesLuhn("79927398713"));
    assert.ok(!passesLuhn("79927398710"));
    assert.equal(maskCardNumber("4242 4242 4242 4242"), "**** **** **** 4242");
  });
});

describe("config", () => {
  it("rejects what would let data through unnoticed", () => {
    assert.throws(() => readConfig({}), /nothing to redact/);
    assert.throws(() => readConfig({ paths: [] }), /nothing to redact/);
    assert.throws(() => readConfig({ card_number: true }), /unknown config key "card_number"/);
    assert.throws(() => readConfig({ paths: "/customer/email" }), /must be an array/);
    assert.throws(() => readConfig({ emails: "yes" }), /config.emails must be true or false/);
    assert.throws(() => readConfig([]), /config must be an object/);
  });
});

describe("transform", () => {
  it("redacts a text body", () => {
    const message = transform(envelope("mail bob@example.com", { emails: true }));
    assert.deepEqual(message, { body: "mail b***@example.com" });
  });

  it("refuses a body it cannot read", () => {
    const binary = { id: "evt_1", body_base64: "/w==", config: { emails: true } };
    assert.throws(() => transform(binary), /not UTF-8 text, so it cannot be redacted/);
  });

  it("keeps nothing from one event for the next", () => {
    const first = transform(envelope({ email: "a@example.com" }, { paths: ["/email"] }));
    const second = transform(envelope({ email: "a@example.com" }, { emails: true }));
    assert.deepEqual(first, { body: { email: DEFAULT_MASK } });
    assert.deepEqual(second, { body: { email: "a***@example.com" } });
  });
});

describe("handle (the component export)", () => {
  const bytes = (value) => new TextEncoder().encode(JSON.stringify(value));
  const decoded = (output) => JSON.parse(new TextDecoder().decode(output));

  it("takes and returns JSON bytes", () => {
    const output = handle(bytes(envelope({ email: "a@example.com" }, { emails: true })));
    assert.ok(output instanceof Uint8Array);
    assert.deepEqual(decoded(output), { body: { email: "a***@example.com" } });
  });

  it("throws a string, which componentize-js returns as err", () => {
    assert.throws(
      () => handle(bytes(envelope({}, {}))),
      (thrown) =>
        thrown === "redact: nothing to redact: set config.paths, config.emails or config.card_numbers",
    );
    const notJson = new TextEncoder().encode("{");
    assert.throws(() => handle(notJson), (thrown) => typeof thrown === "string");
  });
});
