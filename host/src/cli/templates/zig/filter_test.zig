//! Unit tests of the filter, run natively by `make check` (zig test filter_test.zig).

const std = @import("std");
const testing = std.testing;
const filter = @import("filter.zig");

fn expectOk(expected: []const u8, outcome: filter.Outcome) !void {
    switch (outcome) {
        .ok => |output| try testing.expectEqualStrings(expected, output),
        .err => |message| {
            std.debug.print("unexpected err: {s}\n", .{message});
            return error.TestUnexpectedError;
        },
    }
}

fn expectErr(outcome: filter.Outcome) !void {
    switch (outcome) {
        .ok => |output| {
            std.debug.print("unexpected ok: {s}\n", .{output});
            return error.TestExpectedError;
        },
        .err => {},
    }
}

test "example.json, a push, passes with types = [\"push\"]" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    const envelope = try std.Io.Dir.cwd().readFileAlloc(
        testing.io,
        "example.json",
        arena.allocator(),
        .limited(1 << 20),
    );
    try expectOk("true", filter.decide(arena.allocator(), envelope));
}

test "an event of another type is dropped" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    try expectOk("false", filter.decide(arena.allocator(),
        \\{"type": "release", "body": {}, "config": {"types": ["push", "ping"]}}
    ));
    try expectOk("true", filter.decide(arena.allocator(),
        \\{"type": "ping", "body": {}, "config": {"types": ["push", "ping"]}}
    ));
}

test "an event without a type is dropped" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    try expectOk("false", filter.decide(arena.allocator(),
        \\{"type": null, "config": {"types": ["push"]}}
    ));
}

test "a missing, empty or malformed config.types is an error" {
    var arena: std.heap.ArenaAllocator = .init(testing.allocator);
    defer arena.deinit();
    for ([_][]const u8{
        \\{"type": "push", "config": {}}
        ,
        \\{"type": "push", "config": {"types": []}}
        ,
        \\{"type": "push", "config": {"types": "push"}}
        ,
        \\{"type": "push", "config": {"types": ["push"]
    }) |envelope| {
        try expectErr(filter.decide(arena.allocator(), envelope));
    }
}
