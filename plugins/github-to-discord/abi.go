//go:build wasip1

// The function-plugin ABI, by hand (plugin-sdk/docs/abi.md, "By hand: a core module"): the
// host writes the envelope into memory from cabi_realloc, calls handle, copies the result
// out and calls cabi_post_handle. Built as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
//
// so the host runs _initialize (the Go runtime and package init) once per instance, then
// calls these exports, once per event or, with reuse = true, for event after event.

package main

import (
	"bytes"
	"fmt"
	"unsafe"
)

// arenaSize bounds the envelope: the host refuses bodies over max_body (1 MiB by default)
// long before, and the WASI adapter takes 128 KiB of the arena for itself.
const arenaSize = 4 << 20

// The arena cabi_realloc hands out. It is a global array, not the Go heap, because
// cabi_realloc runs where Go code cannot do much: the WASI adapter calls it from inside the
// Go runtime's first system call, during _initialize, and while the host is passing the
// envelope no call may leave the instance, when growing the heap reads the clock through
// WASI. The adapter's allocation comes first and is its own for the life of the instance;
// memory is only ever given back from the top, so it is never handed out again.
var (
	arena     [arenaSize]byte
	arenaUsed uint32 // arena[:arenaUsed] is taken
)

// arenaAddress is the linear-memory address of arena[offset].
func arenaAddress(offset uint32) uint32 {
	return uint32(uintptr(unsafe.Pointer(&arena[0]))) + offset
}

// cabiRealloc allocates newSize bytes aligned to align (a power of two). Callers only
// ever allocate (oldPtr is 0), but a reallocation would copy, as the ABI requires.
//
//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldSize, align, newSize uint32) uint32 {
	base := arenaAddress(0)
	start := (base+arenaUsed+align-1)&^(align-1) - base
	end := uint64(start) + uint64(newSize)
	if end > arenaSize {
		// A trap, and a plugin error. Printing the message is a WASI call, which is not
		// allowed while the host is passing the envelope: the host reports the trap alone
		// ("cannot leave component instance"). Raise arenaSize with max_body.
		panic(fmt.Sprintf("github-to-discord: no room for %d bytes (arena of %d bytes)", newSize, arenaSize))
	}
	if oldPtr != 0 {
		copy(arena[start:end], arena[oldPtr-base:oldPtr-base+min(oldSize, newSize)])
	}
	arenaUsed = uint32(end)
	return base + start
}

// resultRecord is the canonical ABI's result<list<u8>, string>: 12 bytes, aligned to 4.
type resultRecord struct {
	isErr uint8 // 0: ok, the payload is the result JSON; 1: err, it is a message
	_     [3]byte
	ptr   uint32
	len   uint32
}

var (
	record resultRecord
	// resultBytes is what record points to. The Go heap never moves an object, and this
	// reference keeps the garbage collector from freeing it before the host has copied it.
	resultBytes []byte
)

//go:wasmexport handle
func handle(ptr, length uint32) uint32 {
	envelope, err := takeEnvelope(ptr, length)
	var output []byte
	if err == nil {
		output, err = transform(envelope)
	}
	if err != nil {
		return answer(1, []byte("github-to-discord: "+err.Error()))
	}
	return answer(0, output)
}

// takeEnvelope copies the envelope out of the arena, then gives its bytes back when they
// are the top of the arena (nothing was allocated after them), so a reused instance fills
// the same bytes event after event.
func takeEnvelope(ptr, length uint32) ([]byte, error) {
	start := ptr - arenaAddress(0)
	end := uint64(start) + uint64(length)
	if ptr < arenaAddress(0) || end > uint64(arenaUsed) {
		return nil, fmt.Errorf("the envelope (%d bytes at %#x) is not in the arena", length, ptr)
	}
	envelope := bytes.Clone(arena[start:end])
	if end == uint64(arenaUsed) {
		arenaUsed = start
	}
	return envelope, nil
}

// answer fills the result record and returns its address.
func answer(isErr uint8, data []byte) uint32 {
	resultBytes = data
	record = resultRecord{
		isErr: isErr,
		ptr:   uint32(uintptr(unsafe.Pointer(unsafe.SliceData(data)))),
		len:   uint32(len(data)),
	}
	return uint32(uintptr(unsafe.Pointer(&record)))
}

// cabiPostHandle runs once the host has copied the result: its bytes may be collected.
//
//go:wasmexport cabi_post_handle
func cabiPostHandle(uint32) {
	resultBytes = nil
	record = resultRecord{}
}

// main is never called: the module is a reactor, and the host calls the exports above.
func main() {}
