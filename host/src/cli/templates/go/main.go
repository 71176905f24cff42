// {{name}}: a wasmhook filter in Go, built as a WASI command plugin.
//
// It reads the event envelope (JSON) on stdin and writes true to stdout when the event's
// type is one of config.types, false otherwise. A missing or empty config.types, or input
// that is not an envelope, is a plugin error: a message on stderr and exit status 1.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// envelope is the part of the wasmhook envelope this filter reads; the rest is ignored.
type envelope struct {
	Type   *string `json:"type"` // null when the source does not know the event type
	Config struct {
		Types []string `json:"types"`
	} `json:"config"`
}

// pass reports whether the event goes on.
func pass(input []byte) (bool, error) {
	var e envelope
	if err := json.Unmarshal(input, &e); err != nil {
		return false, fmt.Errorf("invalid envelope: %w", err)
	}
	if len(e.Config.Types) == 0 {
		return false, errors.New(`config.types is required, e.g. config = { types = ["push"] }`)
	}
	return e.Type != nil && slices.Contains(e.Config.Types, *e.Type), nil
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	verdict := false
	if err == nil {
		verdict, err = pass(input)
	}
	if err != nil {
		// A non-zero exit is a plugin error; the host logs what the plugin wrote to stderr.
		fmt.Fprintln(os.Stderr, "{{name}}:", err)
		os.Exit(1)
	}
	fmt.Println(verdict) // true or false
}
