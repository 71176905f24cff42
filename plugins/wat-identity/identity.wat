;; The identity transform: `handle` answers `ok` with the envelope it was given.
(module
  (memory (export "memory") 1)

  ;; Bytes 0..12 hold the result record; the arena for cabi_realloc starts at 16.
  (global $next (mut i32) (i32.const 16))

  ;; cabi_realloc(old_ptr, old_size, align, new_size) -> ptr. The host only allocates
  ;; (old_ptr = 0), so this bump allocator ignores the first two parameters.
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32)
                                (param $align i32) (param $new_size i32) (result i32)
    (local $ptr i32) (local $end i32)
    ;; round up to `align` (a power of two)
    (local.set $ptr
      (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
               (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $new_size)))
    ;; grow memory by whole 64 KiB pages when the arena runs past its end
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq (memory.grow
                      (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535))
                                          (i32.const 16))
                               (memory.size)))
                    (i32.const -1))
          (then unreachable))))
    (global.set $next (local.get $end))
    (local.get $ptr))

  ;; handle(envelope_ptr, envelope_len) -> pointer to result<list<u8>, string>
  (func (export "handle") (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 offset=0 (i32.const 0) (i32.const 0))     ;; 0 = ok (1 = err)
    (i32.store  offset=4 (i32.const 0) (local.get $ptr))  ;; the bytes: the envelope itself
    (i32.store  offset=8 (i32.const 0) (local.get $len))  ;; their length
    (i32.const 0))

  ;; The host has copied the result: free everything this call allocated.
  (func (export "cabi_post_handle") (param $result i32)
    (global.set $next (i32.const 16)))
)
