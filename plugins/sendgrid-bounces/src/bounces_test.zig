//! Unit tests of the transform, run natively: `make test` (zig test src/bounces_test.zig).
//! Event batches are SendGrid's and anymail's real payloads from the shared fixtures, read at
//! run time relative to the plugin folder, where `make` runs.

const std = @import("std");
const testing = std.testing;
const bounces = @import("bounces.zig");

const fixtures = "../../../shared/fixtures/sendgrid/";

/// Runs the transform on an envelope around `body` with `config`, in `arena`.
fn run(arena: std.mem.Allocator, config: []const u8, body: []const u8) !bounces.Outcome {
    const envelope = try std.mem.concat(arena, u8, &.{
        "{\"id\": \"evt_1\", \"source\": \"sendgrid\", \"type\": \"processed\", \"body\": ",
        body,
        ", \"config\": ",
        config,
        "}",
    });
    return bounces.transform(arena, envelope);
}

fn fixture(arena: std.mem.Allocator, name: []const u8) ![]const u8 {
    const path = try std.mem.concat(arena, u8, &.{ fixtures, name });
    return std.Io.Dir.cwd().readFileAlloc(testing.io, path, arena, .limited(1 << 20));
}

fn expectOk(expected: []const u8, outcome: bounces.Outcome) !void {
    switch (outcome) {
        .ok => |output| try testing.expectEqualStrings(expected, output),
        .err => |message| {
            std.debug.print("unexpected err: {s}\n", .{message});
            return error.TestUnexpectedError;
        },
    }
}

fn expectErr(expected: bounces.Failure, outcome: bounces.Outcome) !void {
    switch (outcome) {
        .ok => |output| {
            std.debug.print("unexpected ok: {s}\n", .{output});
            return error.TestExpectedError;
        },
        .err => |message| try testing.expectEqualStrings(bounces.explain(expected), message),
    }
}

test "a signed batch: the bounce becomes a message, the processed event is dropped" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    const body = try fixture(arena.allocator(), "event-webhook.multi.signed.body");
    try expectOk(
        \\[{"type":"sendgrid.bounce","key":"invalid@gmail.com","body":{"email":"invalid@gmail.com","event":"bounce","reason":"552 5.2.2 The email account that you tried to reach is over quota and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm c17si1130468pgv.34 - gsmtp","status":"5.2.2","timestamp":1619651147,"sg_event_id":"Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w"}}]
    , try run(arena.allocator(), "{}", body));
}

test "a dropped event has no status: the field is left out" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    const body = try fixture(arena.allocator(), "event-webhook.single.signed.body");
    try expectOk(
        \\[{"type":"sendgrid.dropped","key":"hello@world.com","body":{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","timestamp":1600112492,"sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"}}]
    , try run(arena.allocator(), "{}", body));
}

test "anymail's bounce batch" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    const body = try fixture(arena.allocator(), "anymail.bounce.batch.json");
    try expectOk(
        \\[{"type":"sendgrid.bounce","key":"noreply@example.com","body":{"email":"noreply@example.com","event":"bounce","reason":"550 5.1.1 The email account that you tried to reach does not exist.","status":"5.1.1","timestamp":1461095250,"sg_event_id":"lC0Rc-FuQmKbnxCWxX1jRQ"}}]
    , try run(arena.allocator(), "{}", body));
}

test "events not selected are dropped: the result is []" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    for ([_][]const u8{ "anymail.delivered.batch.json", "anymail.processed.batch.json" }) |name| {
        const body = try fixture(arena.allocator(), name);
        try expectOk("[]", try run(arena.allocator(), "{}", body));
    }
    try expectOk("[]", try run(arena.allocator(), "{}", "[]"));
}

test "config.events selects other events; reason falls back to the SMTP response" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    const body = try fixture(arena.allocator(), "anymail.delivered.batch.json");
    try expectOk(
        \\[{"type":"sendgrid.delivered","key":"recipient@example.com","body":{"email":"recipient@example.com","event":"delivered","reason":"250 2.0.0 OK 1461095248 m143si2210036ioe.159 - gsmtp ","timestamp":1461095250,"sg_event_id":"nOSv8m0eTQ-vxvwNwt3fZQ"}}]
    , try run(arena.allocator(), "{\"events\": [\"delivered\"]}", body));
}

test "config.events replaces the defaults" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    const body = try fixture(arena.allocator(), "event-webhook.multi.signed.body");
    try expectOk(
        \\[{"type":"sendgrid.processed","key":"invalid@gmail.com","body":{"email":"invalid@gmail.com","event":"processed","timestamp":1619651146,"sg_event_id":"cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA"}}]
    , try run(arena.allocator(), "{\"events\": [\"processed\", \"open\"]}", body));
}

test "reason falls back to the bounce classification; a missing email leaves the key out" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    try expectOk(
        \\[{"type":"sendgrid.bounce","body":{"event":"bounce","reason":"blocked"}}]
    , try run(arena.allocator(), "{}",
        \\[{"event": "bounce", "email": null, "reason": "", "type": "blocked"}, {"email": "a@example.com"}]
    ));
}

test "events keep their order, one message each" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    try expectOk(
        \\[{"type":"sendgrid.spamreport","key":"a@example.com","body":{"email":"a@example.com","event":"spamreport","timestamp":1,"sg_event_id":"x"}},{"type":"sendgrid.dropped","key":"b@example.com","body":{"email":"b@example.com","event":"dropped","reason":"Unsubscribed Address","timestamp":2,"sg_event_id":"y"}}]
    , try run(arena.allocator(), "{}",
        \\[{"email":"a@example.com","event":"spamreport","timestamp":1,"sg_event_id":"x"},
        \\ {"email":"a@example.com","event":"open","timestamp":2},
        \\ {"email":"b@example.com","event":"dropped","reason":"Unsubscribed Address","timestamp":2,"sg_event_id":"y"}]
    ));
}

test "a field of another type is left out; strings are unescaped and escaped again" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    try expectOk(
        \\[{"type":"sendgrid.bounce","key":"é@example.com","body":{"email":"é@example.com","event":"bounce","reason":"550 \"no\"\nsuch user","timestamp":1.7e9}}]
    , try run(arena.allocator(), "{}",
        \\[{"event": "bounce", "email": "\u00e9@example.com", "status": 550, "reason": {"code": 550},
        \\  "response": "550 \"no\"\nsuch user", "timestamp": 1.7e9, "sg_event_id": ["x"]}]
    ));
}

test "a repeated field counts once, with its last value" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    try expectOk(
        \\[{"type":"sendgrid.dropped","key":"b@example.com","body":{"email":"b@example.com","event":"dropped"}}]
    , try run(arena.allocator(), "{}",
        \\[{"event": "open", "email": "a@example.com", "event": "dropped", "email": "b@example.com"}]
    ));
}

test "a body that is not an array of events is an error" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    try expectErr(error.BodyNotArray, try run(a, "{}", "{\"event\": \"bounce\"}"));
    try expectErr(error.BodyNotArray, try run(a, "{}", "\"email=a%40example.com\""));
    try expectErr(error.BodyNotArray, bounces.transform(a, "{\"body_base64\": \"AAEC\", \"config\": {}}"));
    try expectErr(error.EventNotObject, try run(a, "{}", "[{\"event\": \"bounce\"}, 42]"));
    try expectErr(error.InvalidEnvelope, bounces.transform(a, "{\"body\": [}"));
}

test "config.events must be a non-empty list of names" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    for ([_][]const u8{
        "{\"events\": \"bounce\"}",
        "{\"events\": []}",
        "{\"events\": [\"bounce\", 1]}",
    }) |config| {
        try expectErr(error.InvalidEventsConfig, try run(arena.allocator(), config, "[]"));
    }
}

test "running out of memory is an error, not a crash" {
    var buffer: [256]u8 = undefined;
    var small: std.heap.FixedBufferAllocator = .init(&buffer);
    try expectErr(error.OutOfMemory, bounces.transform(small.allocator(),
        \\{"body": [{"email": "a@example.com", "event": "bounce", "reason": "a long enough reason to run out of memory"}]}
    ));
}

// What plugin.zig and heap.zig do with `reuse = true`: many calls on one bump allocator,
// emptied after each. Every call gives the same answer and uses the same memory.
test "calls on a reused heap neither leak nor see each other's data" {
    const memory = try testing.allocator.alloc(u8, 1 << 20);
    defer testing.allocator.free(memory);
    var heap: std.heap.FixedBufferAllocator = .init(memory);
    var scratch: std.heap.ArenaAllocator = .init(testing.allocator);
    defer scratch.deinit();
    const body = try fixture(scratch.allocator(), "event-webhook.multi.signed.body");

    const first = try scratch.allocator().dupe(u8, (try run(heap.allocator(), "{}", body)).ok);
    const used = heap.end_index;
    heap.reset();
    for (0..100) |i| {
        // A different event in between must not show up in the next answer.
        const other = if (i % 2 == 0) "[{\"email\":\"z@example.com\",\"event\":\"bounce\"}]" else body;
        _ = try run(heap.allocator(), "{\"events\": [\"processed\"]}", other);
        heap.reset();
        try expectOk(first, try run(heap.allocator(), "{}", body));
        try testing.expectEqual(used, heap.end_index);
        heap.reset();
    }
}
