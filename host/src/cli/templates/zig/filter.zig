//! {{name}}: the filter. It passes the events whose `type` is one of `config.types`.
//!
//! `decide` is a function from envelope bytes to result bytes and knows nothing of
//! WebAssembly, so `zig test` runs it natively (filter_test.zig). plugin.zig wires it to the
//! plugin ABI.

const std = @import("std");

/// What the host gets back: the result JSON, or a message for the operator (a plugin error).
pub const Outcome = union(enum) {
    ok: []const u8,
    err: []const u8,
};

/// The envelope fields the filter reads; `ignore_unknown_fields` skips all the others.
const Envelope = struct {
    /// The provider's event type; null when the source does not know it.
    type: ?[]const u8 = null,
    config: struct {
        types: []const []const u8 = &.{},
    } = .{},
};

/// Decides on one envelope. Everything is allocated from `arena`, which the caller frees as a
/// whole once the result has been read.
pub fn decide(arena: std.mem.Allocator, envelope_json: []const u8) Outcome {
    const envelope = std.json.parseFromSliceLeaky(Envelope, arena, envelope_json, .{
        .ignore_unknown_fields = true,
    }) catch |err| return .{ .err = switch (err) {
        error.OutOfMemory => "{{name}}: out of memory",
        else => "{{name}}: the envelope is not JSON, or config.types is not a list of strings",
    } };
    const wanted = envelope.config.types;
    if (wanted.len == 0) return .{ .err = "{{name}}: config.types is required, " ++
        "such as --config '{\"types\": [\"push\"]}'" };
    const event_type = envelope.type orelse return .{ .ok = "false" };
    for (wanted) |name| {
        if (std.mem.eql(u8, name, event_type)) return .{ .ok = "true" };
    }
    return .{ .ok = "false" };
}
