// Command github-to-discord is a wasmhook transform that turns GitHub webhook events into
// Discord "Execute Webhook" messages.
//
// The transform itself (this file, github.go and discord.go) is plain Go that builds and is
// tested on any platform. abi.go, built only for GOOS=wasip1, exports it to the host as a
// function plugin.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// envelope is the part of the wasmhook envelope this plugin reads. Every other field is
// ignored: the result replaces only the body, so the host carries the rest.
type envelope struct {
	Type   *string         `json:"type"` // null when the source does not know the type
	Body   json.RawMessage `json:"body"`
	Config json.RawMessage `json:"config"`
}

// config is the plugin's table in routes.toml.
type config struct {
	// Username overrides the webhook's default name in Discord.
	Username string `json:"username"`
}

// result is what a transform answers for one message: its body replaces the envelope's.
type result struct {
	Body message `json:"body"`
}

// transform turns one envelope into the plugin's result JSON: a Discord message for the
// events this plugin knows, `null` (drop the event) for any other. An error is a plugin
// error for the operator: the host logs it and applies the plugin's on_error.
func transform(input []byte) ([]byte, error) {
	var e envelope
	if err := json.Unmarshal(input, &e); err != nil {
		return nil, fmt.Errorf("invalid envelope: %w", err)
	}
	// The config is checked on every event, dropped ones included, so that a typo in
	// routes.toml shows up at once rather than on the first matching event.
	c, err := parseConfig(e.Config)
	if err != nil {
		return nil, err
	}
	if e.Type == nil {
		return []byte("null"), nil
	}
	render, ok := renderers[*e.Type]
	if !ok {
		return []byte("null"), nil
	}
	var p payload
	if err := json.Unmarshal(e.Body, &p); err != nil {
		return nil, fmt.Errorf("invalid %s body: %w", *e.Type, err)
	}
	m, ok := render(p)
	if !ok {
		return []byte("null"), nil
	}
	m.Username = c.Username
	return encode(result{Body: m.fitted()})
}

// parseConfig reads the plugin's config, refusing unknown keys so that a misspelt key is
// reported instead of silently ignored.
func parseConfig(raw json.RawMessage) (config, error) {
	var c config
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("invalid config (the only key is \"username\", a string): %w", err)
	}
	if n := len([]rune(c.Username)); n > maxUsername {
		return c, fmt.Errorf("config.username has %d characters; Discord allows %d", n, maxUsername)
	}
	return c, nil
}

// encode writes v as JSON, leaving <, > and & as they are: the result is for Discord, not
// for an HTML page, and the text stays readable in logs.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
