//! {{name}}: the wasmhook function-plugin ABI, by hand. A core module exporting `memory`,
//! `cabi_realloc`, `handle` and `cabi_post_handle`, importing nothing; wasmhook wraps it into a
//! component of the `wasmhook:plugin` world when it loads it. The contract:
//! https://github.com/wasmhook/wasmhook/blob/main/plugin-sdk/docs/abi.md
//!
//! Everything a call allocates (the envelope the host writes, the parsed JSON, the result)
//! comes from `heap`, and `cabi_post_handle` empties it once the host has copied the result
//! out. So a warm instance (`reuse = true`) neither leaks from call to call nor keeps anything
//! of one event when it handles the next.

const std = @import("std");
const filter = @import("filter.zig");
const heap = @import("heap.zig");

/// The canonical ABI layout of `result<list<u8>, string>` on wasm32: 12 bytes, aligned to 4.
const Result = extern struct {
    /// 0 = ok, 1 = err.
    is_err: u8,
    /// The ok JSON, or the err message (UTF-8).
    ptr: [*]const u8,
    len: usize,
};

/// Static, not on the heap: the host reads it after `handle` returns, before the reset.
var result: Result = undefined;

/// The host gets memory for the envelope with `cabi_realloc(0, 0, 1, len)`.
export fn cabi_realloc(old_ptr: ?[*]u8, old_size: usize, alignment: usize, new_size: usize) [*]u8 {
    // A zero-length request still gets a valid address.
    const size = @max(new_size, 1);
    const bytes = heap.allocator.rawAlloc(size, .fromByteUnits(alignment), @returnAddress()) orelse
        @trap(); // out of memory: a trap is a plugin error
    if (old_ptr) |old| {
        const kept = @min(old_size, new_size);
        @memcpy(bytes[0..kept], old[0..kept]);
    }
    return bytes;
}

export fn handle(envelope_ptr: [*]const u8, envelope_len: usize) *const Result {
    result = switch (filter.decide(heap.allocator, envelope_ptr[0..envelope_len])) {
        .ok => |output| .{ .is_err = 0, .ptr = output.ptr, .len = output.len },
        .err => |message| .{ .is_err = 1, .ptr = message.ptr, .len = message.len },
    };
    return &result;
}

/// The host has copied the result: everything this call allocated is free again.
export fn cabi_post_handle(_: *const Result) void {
    heap.reset();
}
