package main

import (
	"encoding/json"
	"os"
	"testing"
)

// example returns example.json, a GitHub push envelope, with its config replaced when
// config is not nil.
func example(t *testing.T, config any) []byte {
	t.Helper()
	input, err := os.ReadFile("example.json")
	if err != nil {
		t.Fatal(err)
	}
	if config == nil {
		return input
	}
	var e map[string]any
	if err := json.Unmarshal(input, &e); err != nil {
		t.Fatal(err)
	}
	e["config"] = config
	input, err = json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return input
}

func types(names ...string) map[string]any {
	return map[string]any{"types": names}
}

func TestAPushPasses(t *testing.T) {
	for _, input := range [][]byte{example(t, nil), example(t, types("release", "push"))} {
		if got, err := pass(input); !got || err != nil {
			t.Errorf("%s: got %v, %v; want true", input, got, err)
		}
	}
}

func TestOtherTypesAreDropped(t *testing.T) {
	if got, err := pass(example(t, types("release"))); got || err != nil {
		t.Errorf("got %v, %v; want false", got, err)
	}
	// A source that does not know the event type sends "type": null.
	if got, err := pass([]byte(`{"type": null, "config": {"types": ["push"]}}`)); got || err != nil {
		t.Errorf("an event without a type: got %v, %v; want false", got, err)
	}
}

func TestMissingTypesIsAnError(t *testing.T) {
	for _, input := range [][]byte{
		example(t, map[string]any{}),
		example(t, types()),
		example(t, map[string]any{"types": "push"}),
		[]byte("not json"),
	} {
		if got, err := pass(input); err == nil {
			t.Errorf("%s: got %v, want an error", input, got)
		}
	}
}
