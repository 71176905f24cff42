package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fixtures holds real GitHub webhook bodies (octokit/webhooks payload examples).
const fixtures = "../../../shared/fixtures/github"

// envelopeJSON wraps a GitHub body as the host would: the event type and the config.
func envelopeJSON(t *testing.T, eventType string, body json.RawMessage, config string) []byte {
	t.Helper()
	e, err := json.Marshal(map[string]any{
		"id":     "evt_test",
		"source": "github",
		"type":   eventType,
		"body":   body,
		"config": json.RawMessage(config),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func fixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// run transforms the envelope and returns the Discord message, or nil when the event is
// dropped. Any error fails the test.
func run(t *testing.T, envelope []byte) *message {
	t.Helper()
	out, err := transform(envelope)
	if err != nil {
		t.Fatalf("transform: %v", err)
	}
	if string(out) == "null" {
		return nil
	}
	var r struct {
		Body *message `json:"body"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Body == nil {
		t.Fatalf("the output is not a message with a body: %s (%v)", out, err)
	}
	return r.Body
}

func expectMessage(t *testing.T, got *message, want message) {
	t.Helper()
	if got == nil {
		t.Fatal("the event was dropped")
	}
	if !reflect.DeepEqual(*got, want) {
		gotJSON, _ := json.MarshalIndent(got, "", "  ")
		wantJSON, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("got\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

const (
	repoURL = "https://github.com/Codertocat/Hello-World"
	pr2     = "#2 Update the README with new information."
)

func TestFixtures(t *testing.T) {
	codertocat := author{Name: "Codertocat"}
	tests := []struct {
		eventType, fixture string
		want               message
	}{{
		"push", "push.payload.json", message{
			Content: "**Codertocat** deleted tag simple-tag in Codertocat/Hello-World",
			Embeds: []embed{{
				Title:  "[Codertocat/Hello-World] Tag simple-tag deleted",
				URL:    repoURL,
				Color:  grey,
				Author: codertocat,
			}},
		},
	}, {
		"push", "push.with-new-branch.payload.json", message{
			Content: "**Codertocat** pushed 1 commit to Codertocat/Hello-World:master",
			Embeds: []embed{{
				Title: "[Codertocat/Hello-World:master] 1 new commit",
				URL:   repoURL + "/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246",
				Description: "[`6113728`](" + repoURL + "/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246)" +
					" Initial commit - Codertocat",
				Color:  blue,
				Author: codertocat,
			}},
		},
	}, {
		"pull_request", "pull_request.opened.payload.json", message{
			Content: "**Codertocat** opened pull request #2 in Codertocat/Hello-World",
			Embeds: []embed{{
				Title:       pr2,
				URL:         repoURL + "/pull/2",
				Description: "This is a pretty simple change that we need to pull into master.",
				Color:       green,
				Author:      codertocat,
			}},
		},
	}, {
		"pull_request", "pull_request.closed.payload.json", message{
			Content: "**Codertocat** closed pull request #2 in Codertocat/Hello-World",
			Embeds:  []embed{{Title: pr2, URL: repoURL + "/pull/2", Color: red, Author: codertocat}},
		},
	}, {
		"issues", "issues.opened.payload.json", message{
			Content: "**Codertocat** opened issue #1 in Codertocat/Hello-World",
			Embeds: []embed{{
				Title:       "#1 Spelling error in the README file",
				URL:         repoURL + "/issues/1",
				Description: "It looks like you accidently spelled 'commit' with two 't's.",
				Color:       green,
				Author:      codertocat,
			}},
		},
	}, {
		"release", "release.published.payload.json", message{
			Content: "**Codertocat** published release 0.0.1 in Codertocat/Hello-World",
			Embeds: []embed{{
				Title:  "0.0.1",
				URL:    repoURL + "/releases/tag/0.0.1",
				Color:  green,
				Author: codertocat,
			}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			tt.want.AllowedMentions = noMentions
			got := run(t, envelopeJSON(t, tt.eventType, fixture(t, tt.fixture), `{}`))
			expectMessage(t, got, tt.want)
		})
	}
}

func TestAMergedPullRequestIsPurple(t *testing.T) {
	var body map[string]any
	if err := json.Unmarshal(fixture(t, "pull_request.closed.payload.json"), &body); err != nil {
		t.Fatal(err)
	}
	body["pull_request"].(map[string]any)["merged"] = true
	raw, _ := json.Marshal(body)
	got := run(t, envelopeJSON(t, "pull_request", raw, `{}`))
	expectMessage(t, got, message{
		Content:         "**Codertocat** merged pull request #2 in Codertocat/Hello-World",
		Embeds:          []embed{{Title: pr2, URL: repoURL + "/pull/2", Color: purple, Author: author{Name: "Codertocat"}}},
		AllowedMentions: noMentions,
	})
}

func TestOtherEventsAndActionsAreDropped(t *testing.T) {
	for eventType, name := range map[string]string{
		"star":         "star.created.payload.json",
		"pull_request": "pull_request.synchronize.payload.json",
		"issues":       "issues.labeled.payload.json",
		"ping":         "ping.payload.json",
	} {
		if got := run(t, envelopeJSON(t, eventType, fixture(t, name), `{}`)); got != nil {
			t.Errorf("%s: got %+v, want the event dropped", name, *got)
		}
	}
	// A source that does not know the event type sends "type": null.
	if got := run(t, []byte(`{"type": null, "body": {"action": "opened"}, "config": {}}`)); got != nil {
		t.Errorf("an event without a type: got %+v, want it dropped", *got)
	}
}

func TestUsername(t *testing.T) {
	body := fixture(t, "issues.opened.payload.json")
	got := run(t, envelopeJSON(t, "issues", body, `{"username": "GitHub"}`))
	if got == nil || got.Username != "GitHub" {
		t.Errorf("got %+v, want the username GitHub", got)
	}
	out, err := transform(envelopeJSON(t, "issues", body, `{}`))
	if err != nil || strings.Contains(string(out), `"username"`) {
		t.Errorf("without config.username: got %s (%v), want no username", out, err)
	}
}

func TestBadConfigIsAnError(t *testing.T) {
	body := fixture(t, "star.created.payload.json")
	for _, config := range []string{
		`{"user_name": "GitHub"}`,
		`{"username": 42}`,
		`{"username": "` + strings.Repeat("x", 81) + `"}`,
		`["username"]`,
	} {
		// Even for an event that would be dropped: the mistake shows on the first event.
		if out, err := transform(envelopeJSON(t, "star", body, config)); err == nil {
			t.Errorf("config %s: got %s, want an error", config, out)
		}
	}
}

func TestBadInputIsAnError(t *testing.T) {
	for _, input := range []string{
		`not json`,
		`{"type": "push", "body": "a string", "config": {}}`,
		`{"type": "push", "config": {}}`,
	} {
		if out, err := transform([]byte(input)); err == nil {
			t.Errorf("%s: got %s, want an error", input, out)
		}
	}
}

func TestTextFromGitHubIsEscapedAndMentionsAreOff(t *testing.T) {
	body := `{"ref": "refs/heads/fix_it", "compare": "https://x/compare", "sender": {"login": "eve"},
		"repository": {"full_name": "acme/my_repo"},
		"commits": [{"id": "0123456789abcdef", "message": "Use *all* the ` + "`code`" + ` @everyone\n\nbody",
		             "url": "https://x/commit/(1)", "author": {"name": "Eve"}}]}`
	got := run(t, envelopeJSON(t, "push", json.RawMessage(body), `{}`))
	expectMessage(t, got, message{
		Content: `**eve** pushed 1 commit to acme/my\_repo:fix\_it`,
		Embeds: []embed{{
			Title:       `[acme/my\_repo:fix\_it] 1 new commit`,
			URL:         "https://x/compare",
			Description: "[`0123456`](https://x/commit/(1%29) Use \\*all\\* the \\`code\\` @everyone - Eve",
			Color:       blue,
			Author:      author{Name: "eve"},
		}},
		AllowedMentions: noMentions,
	})
	out, _ := transform(envelopeJSON(t, "push", json.RawMessage(body), `{}`))
	if !strings.Contains(string(out), `"allowed_mentions":{"parse":[]}`) {
		t.Errorf("mentions must be off: %s", out)
	}
}

func TestLongTextsFitDiscordsLimits(t *testing.T) {
	long := strings.Repeat("é", 5000)
	body := `{"action": "opened", "sender": {"login": "eve"}, "repository": {"full_name": "acme/api"},
		"issue": {"number": 7, "title": "` + long + `", "body": "` + long + `"}}`
	got := run(t, envelopeJSON(t, "issues", json.RawMessage(body), `{}`))
	e := got.Embeds[0]
	if n := utf8.RuneCountInString(e.Title); n != maxTitle || !strings.HasSuffix(e.Title, "…") {
		t.Errorf("title: %d characters, want %d ending with an ellipsis", n, maxTitle)
	}
	if n := utf8.RuneCountInString(e.Description); n != bodyPreview {
		t.Errorf("description: %d characters, want %d", n, bodyPreview)
	}

	commits := make([]map[string]any, 20)
	for i := range commits {
		commits[i] = map[string]any{"id": "0123456789", "message": strings.Repeat("m", 300)}
	}
	raw, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "commits": commits})
	got = run(t, envelopeJSON(t, "push", raw, `{}`))
	if n := utf8.RuneCountInString(got.Embeds[0].Description); n != maxDescription {
		t.Errorf("commit list: %d characters, want %d", n, maxDescription)
	}
}

func TestRefName(t *testing.T) {
	for ref, want := range map[string][2]string{
		"refs/heads/main":      {"branch", "main"},
		"refs/heads/feature/x": {"branch", "feature/x"},
		"refs/tags/v1.2.0":     {"tag", "v1.2.0"},
		"refs/notes/commits":   {"ref", "refs/notes/commits"},
	} {
		if kind, name := refName(ref); kind != want[0] || name != want[1] {
			t.Errorf("refName(%q) = %q, %q; want %q, %q", ref, kind, name, want[0], want[1])
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"ééé", 3, "ééé"},
		{"éééé", 3, "éé…"},
		{"", 1, ""},
	} {
		if got := truncate(tt.s, tt.max); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}
