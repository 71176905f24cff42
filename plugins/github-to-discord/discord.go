package main

import (
	"strings"
	"unicode/utf8"
)

// message is the body of Discord's "Execute Webhook" request.
type message struct {
	Username string  `json:"username,omitempty"`
	Content  string  `json:"content"`
	Embeds   []embed `json:"embeds"`
	// AllowedMentions stops "@everyone" or "<@id>" in a pull request title from pinging
	// anyone: the text comes from whoever opened it.
	AllowedMentions allowedMentions `json:"allowed_mentions"`
}

type embed struct {
	Title       string `json:"title"`
	URL         string `json:"url,omitempty"`
	Description string `json:"description,omitempty"`
	Color       int    `json:"color"`
	Author      author `json:"author"`
}

type author struct {
	Name string `json:"name"`
}

type allowedMentions struct {
	Parse []string `json:"parse"` // empty: no kind of mention is parsed
}

// noMentions must encode as [], not null, to mean "none".
var noMentions = allowedMentions{Parse: []string{}}

// Discord refuses a message over these lengths (in characters) with 400 Bad Request.
const (
	maxUsername    = 80
	maxContent     = 2000
	maxTitle       = 256
	maxDescription = 4096
	maxAuthorName  = 256
)

// fitted returns m with every text cut to what Discord accepts, so that a long pull
// request title or commit list still gets posted, shortened.
func (m message) fitted() message {
	m.Content = truncate(m.Content, maxContent)
	embeds := make([]embed, len(m.Embeds))
	for i, e := range m.Embeds {
		e.Title = truncate(e.Title, maxTitle)
		e.Description = truncate(e.Description, maxDescription)
		e.Author.Name = truncate(e.Author.Name, maxAuthorName)
		embeds[i] = e
	}
	m.Embeds = embeds
	return m
}

// truncate cuts s to at most max characters, ending it with an ellipsis when cut.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	kept := 0
	for i := range s { // i is the byte offset of each character
		if kept == max-1 {
			return s[:i] + "…"
		}
		kept++
	}
	return s
}

// markdownEscaper puts a backslash before the characters that Discord's markdown gives a
// meaning to inside a line: emphasis, strikethrough, code, spoilers and masked links.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, "[", `\[`, "]", `\]`,
)

// escape makes text from GitHub (titles, names, commit messages) show as written.
func escape(text string) string {
	return markdownEscaper.Replace(text)
}

// link is a masked link, [label](url); the label must already be escaped. A ")" would end
// the URL early, so it is percent-encoded, as a browser would.
func link(label, url string) string {
	if url == "" {
		return label
	}
	return "[" + label + "](" + strings.ReplaceAll(url, ")", "%29") + ")"
}
