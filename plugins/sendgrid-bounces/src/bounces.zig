//! The transform itself: SendGrid Event Webhook batches in, one message per delivery problem out.
//!
//! SendGrid posts a JSON array of events. For every event whose `event` is one of
//! `config.events`, this emits a message whose body is a small summary of the event:
//!
//!     {"email", "event", "reason", "status", "timestamp", "sg_event_id"}
//!
//! A field the event lacks, or holds as `null`, `""` or a value of another type, is left out
//! rather than written as `null`, so that route tests in routes.toml, which has no null, can
//! state any expected body. Numbers (the timestamp) go out exactly as they came in. `reason`
//! is the event's `reason`, else its `response` (deferred, delivered), else its `type` (a
//! bounce's classification: "bounce", "blocked", "expired"). The message `type` is
//! "sendgrid.<event>", and its `key` the recipient's address, so that subscribers with
//! `ordering = "per-key"` get each address's events in order.
//!
//! This file knows nothing of WebAssembly: it is a function from envelope bytes to result bytes,
//! tested natively (bounces_test.zig) and wired to the plugin ABI by plugin.zig.

const std = @import("std");
const Allocator = std.mem.Allocator;
const json = std.json;
const Value = json.Value;

/// The events passed on when the config does not list any.
pub const default_events: []const []const u8 = &.{ "bounce", "dropped", "spamreport" };

/// What the host gets back: the result JSON, or a message for the operator.
pub const Outcome = union(enum) {
    ok: []const u8,
    err: []const u8,
};

/// Why an envelope cannot be transformed. Each has a message in `explain`.
pub const Failure = error{
    InvalidEnvelope,
    BodyNotArray,
    EventNotObject,
    InvalidEventsConfig,
} || Allocator.Error;

/// The envelope fields this plugin reads; `ignore_unknown_fields` skips all the others.
const Envelope = struct {
    /// A body that is not UTF-8 arrives as `body_base64` instead, and `body` keeps its default.
    body: Body = .not_an_array,
    /// Small and free-form: read as a dynamic value, then checked by `selectedEvents`.
    config: Value = .null,
};

/// The body, read straight into `Event`s, skipping the fields the summary does not use: the
/// batch is never built as a tree of `std.json.Value`s, which takes twice the time.
const Body = union(enum) {
    events: []const Event,
    not_an_array,
    /// An array with an element that is not an object.
    not_all_objects,

    pub fn jsonParse(arena: Allocator, source: anytype, options: json.ParseOptions) !Body {
        if (try source.peekNextTokenType() != .array_begin) {
            try source.skipValue();
            return .not_an_array;
        }
        _ = try source.next(); // [
        var events: std.ArrayList(Event) = .empty;
        while (try source.peekNextTokenType() == .object_begin) {
            try events.append(arena, try json.innerParse(Event, arena, source, options));
        }
        // Stopped before the end: skip the rest, the body is refused as a whole.
        const complete = try source.peekNextTokenType() == .array_end;
        while (try source.peekNextTokenType() != .array_end) try source.skipValue();
        _ = try source.next(); // ]
        return if (complete) .{ .events = events.items } else .not_all_objects;
    }
};

/// The fields of a SendGrid event that the summary uses.
const Event = struct {
    event: Field(.string) = .{},
    email: Field(.string) = .{},
    reason: Field(.string) = .{},
    response: Field(.string) = .{},
    type: Field(.string) = .{},
    status: Field(.string) = .{},
    timestamp: Field(.number) = .{},
    sg_event_id: Field(.string) = .{},
};

/// An event field holding a JSON string or number (`kind`), kept as its text. It is null when
/// the event lacks the field or holds a value of another type there: a custom argument that
/// reuses a name, say, should not make the whole batch fail.
fn Field(comptime kind: json.TokenType) type {
    return struct {
        text: ?[]const u8 = null,

        pub fn jsonParse(arena: Allocator, source: anytype, options: json.ParseOptions) !@This() {
            if (try source.peekNextTokenType() != kind) {
                try source.skipValue();
                return .{};
            }
            const token = try source.nextAllocMax(arena, .alloc_if_needed, options.max_value_len.?);
            return switch (token) {
                inline .string, .allocated_string, .number, .allocated_number => |text| .{
                    .text = text,
                },
                else => unreachable, // peeked above
            };
        }

        /// The text, unless it is missing or empty.
        fn get(field: @This()) ?[]const u8 {
            const text = field.text orelse return null;
            return if (text.len > 0) text else null;
        }
    };
}

/// A number written out exactly as it came in: a timestamp is not rounded through a float.
const Number = struct {
    text: []const u8,

    pub fn jsonStringify(number: Number, writer: anytype) !void {
        try writer.print("{s}", .{number.text});
    }
};

/// The body of an outgoing message. Declaration order is the JSON key order; null fields are
/// left out (`emit_null_optional_fields = false`).
const Summary = struct {
    email: ?[]const u8,
    event: []const u8,
    reason: ?[]const u8,
    status: ?[]const u8,
    timestamp: ?Number,
    sg_event_id: ?[]const u8,
};

/// One outgoing message. Without an address there is no `key`, and the host's default applies.
const Message = struct {
    type: []const u8,
    key: ?[]const u8,
    body: Summary,
};

/// Transforms one envelope. Everything is allocated from `arena` and never freed one by one:
/// the caller frees the arena as a whole once the result has been read.
pub fn transform(arena: Allocator, envelope: []const u8) Outcome {
    const result = messages(arena, envelope) catch |failure| return .{ .err = explain(failure) };
    return .{ .ok = result };
}

/// The operator-facing text for each failure. Static strings: an error path should not need
/// memory, least of all when memory is what ran out.
pub fn explain(failure: Failure) []const u8 {
    return switch (failure) {
        error.InvalidEnvelope => "sendgrid-bounces: the envelope is not a JSON object",
        error.BodyNotArray => "sendgrid-bounces: the body is not a JSON array of events, " ++
            "as SendGrid's Event Webhook posts (is this route's source SendGrid?)",
        error.EventNotObject => "sendgrid-bounces: the body holds something other than " ++
            "event objects",
        error.InvalidEventsConfig => "sendgrid-bounces: config.events must be a non-empty " ++
            "array of event names, such as [\"bounce\", \"dropped\"]",
        error.OutOfMemory => "sendgrid-bounces: out of memory",
    };
}

/// The result JSON: an array with one message per selected event, `[]` when there is none.
fn messages(arena: Allocator, envelope_json: []const u8) Failure![]const u8 {
    const envelope = json.parseFromSliceLeaky(Envelope, arena, envelope_json, .{
        .ignore_unknown_fields = true,
        .duplicate_field_behavior = .use_last,
        .parse_numbers = false, // in config: no number needs to be read as one
    }) catch |err| return switch (err) {
        error.OutOfMemory => error.OutOfMemory,
        else => error.InvalidEnvelope,
    };
    const wanted = try selectedEvents(arena, envelope.config);
    const events = switch (envelope.body) {
        .events => |events| events,
        .not_an_array => return error.BodyNotArray,
        .not_all_objects => return error.EventNotObject,
    };

    var out: std.Io.Writer.Allocating = .init(arena);
    var writer: json.Stringify = .{
        .writer = &out.writer,
        .options = .{ .emit_null_optional_fields = false },
    };
    // Writing to memory fails only when memory runs out.
    writeMessages(arena, &writer, events, wanted) catch return error.OutOfMemory;
    return out.written();
}

fn writeMessages(
    arena: Allocator,
    writer: *json.Stringify,
    events: []const Event,
    wanted: []const []const u8,
) (json.Stringify.Error || Allocator.Error)!void {
    try writer.beginArray();
    for (events) |event| {
        const name = event.event.get() orelse continue;
        if (!contains(wanted, name)) continue;
        try writer.write(try message(arena, event, name));
    }
    try writer.endArray();
}

/// `config.events`, or the defaults when the config does not set it.
fn selectedEvents(arena: Allocator, config: Value) Failure![]const []const u8 {
    const setting = switch (config) {
        .object => |object| object.get("events") orelse return default_events,
        else => return default_events, // `{}` when routes.toml gives no config
    };
    const names = json.parseFromValueLeaky([]const []const u8, arena, setting, .{}) catch |err|
        return switch (err) {
            error.OutOfMemory => error.OutOfMemory,
            else => error.InvalidEventsConfig,
        };
    // An empty list would silently drop every event: more likely a mistake than a wish.
    if (names.len == 0) return error.InvalidEventsConfig;
    return names;
}

fn message(arena: Allocator, event: Event, name: []const u8) Allocator.Error!Message {
    return .{
        .type = try std.mem.concat(arena, u8, &.{ "sendgrid.", name }),
        .key = event.email.get(),
        .body = .{
            .email = event.email.get(),
            .event = name,
            .reason = event.reason.get() orelse event.response.get() orelse event.type.get(),
            .status = event.status.get(),
            .timestamp = if (event.timestamp.get()) |text| .{ .text = text } else null,
            .sg_event_id = event.sg_event_id.get(),
        },
    };
}

fn contains(names: []const []const u8, name: []const u8) bool {
    for (names) |candidate| {
        if (std.mem.eql(u8, candidate, name)) return true;
    }
    return false;
}
