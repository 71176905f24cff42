//! The memory every call allocates from: a bump allocator over the linear memory above the
//! module's static data, which grows the memory as requests need and is emptied at once by
//! `reset`. The bump logic is std's `FixedBufferAllocator`, whose buffer is the heap so far;
//! this file only makes that buffer bigger when a request does not fit.
//!
//! Emptying the heap wholesale is only safe in a module that imports nothing: with WASI
//! imports, the host's adapter would take memory of its own from `cabi_realloc` and keep it
//! for the life of the instance.

const std = @import("std");
const Allocator = std.mem.Allocator;
const Alignment = std.mem.Alignment;
const FixedBufferAllocator = std.heap.FixedBufferAllocator;

const page_size = std.wasm.page_size;

/// The first byte after the static data, placed by the linker.
extern const __heap_base: u8;

var heap: FixedBufferAllocator = .init(@constCast(@as([*]const u8, @ptrCast(&__heap_base)))[0..0]);

pub const allocator: Allocator = .{
    .ptr = undefined,
    .vtable = &.{
        .alloc = alloc,
        .resize = resize,
        .remap = remap,
        .free = free,
    },
};

/// Frees everything allocated so far. The memory stays, ready for the next call.
pub fn reset() void {
    heap.reset();
}

fn alloc(_: *anyopaque, len: usize, alignment: Alignment, ret_addr: usize) ?[*]u8 {
    if (FixedBufferAllocator.alloc(&heap, len, alignment, ret_addr)) |bytes| return bytes;
    // Room for the request and for the padding that aligns it.
    if (!grow(len +| alignment.toByteUnits())) return null;
    return FixedBufferAllocator.alloc(&heap, len, alignment, ret_addr);
}

/// Only the last allocation can grow, in place: a string being written, say.
fn resize(_: *anyopaque, memory: []u8, alignment: Alignment, new_len: usize, ret_addr: usize) bool {
    if (FixedBufferAllocator.resize(&heap, memory, alignment, new_len, ret_addr)) return true;
    if (!heap.isLastAllocation(memory) or !grow(new_len - memory.len)) return false;
    return FixedBufferAllocator.resize(&heap, memory, alignment, new_len, ret_addr);
}

fn remap(_: *anyopaque, memory: []u8, alignment: Alignment, new_len: usize, ret_addr: usize) ?[*]u8 {
    return if (resize(undefined, memory, alignment, new_len, ret_addr)) memory.ptr else null;
}

fn free(_: *anyopaque, memory: []u8, alignment: Alignment, ret_addr: usize) void {
    FixedBufferAllocator.free(&heap, memory, alignment, ret_addr);
}

/// Makes room for `bytes` more after the last allocation, growing the memory by whole pages;
/// false when the host refuses (the plugin's `memory` limit).
fn grow(bytes: usize) bool {
    const start = @intFromPtr(heap.buffer.ptr);
    const needed = std.math.add(usize, start + heap.end_index, bytes) catch return false;
    const have = @wasmMemorySize(0) * page_size;
    if (needed > have) {
        const pages = std.math.divCeil(usize, needed - have, page_size) catch unreachable;
        if (@wasmMemoryGrow(0, pages) < 0) return false;
    }
    heap.buffer.len = @wasmMemorySize(0) * page_size - start;
    return true;
}
