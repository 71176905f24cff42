package main

import (
	"fmt"
	"strings"
)

// payload holds the fields of GitHub webhook bodies that the messages use. Which of them
// are set depends on the event type.
type payload struct {
	Action     string     `json:"action"`
	Sender     user       `json:"sender"`
	Repository repository `json:"repository"`

	// push
	Ref     string   `json:"ref"`
	Created bool     `json:"created"`
	Deleted bool     `json:"deleted"`
	Compare string   `json:"compare"`
	Commits []commit `json:"commits"`
	Pusher  struct {
		Name string `json:"name"`
	} `json:"pusher"`

	PullRequest *issue   `json:"pull_request"`
	Issue       *issue   `json:"issue"`
	Release     *release `json:"release"`
}

type user struct {
	Login string `json:"login"`
}

type repository struct {
	FullName string `json:"full_name"`
	HTMLURL  string `json:"html_url"`
}

type commit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	URL     string `json:"url"`
	Author  struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"author"`
}

// issue is an issue or a pull request: the fields they share, and merged.
type issue struct {
	Number  int    `json:"number"`
	Title   string `json:"title"`
	HTMLURL string `json:"html_url"`
	Body    string `json:"body"`
	Merged  bool   `json:"merged"`
}

type release struct {
	TagName string `json:"tag_name"`
	Name    string `json:"name"`
	HTMLURL string `json:"html_url"`
	Body    string `json:"body"`
}

// renderers maps the GitHub event types (X-GitHub-Event) this plugin posts to their
// message. A renderer answers false for an action it does not post, such as a pull
// request being labeled: the event is then dropped.
var renderers = map[string]func(payload) (message, bool){
	"push":         pushMessage,
	"pull_request": pullRequestMessage,
	"issues":       issuesMessage,
	"release":      releaseMessage,
}

// Embed colours, after GitHub's own: blue for pushes, green for what opens, purple for
// what is merged or completed, red for a pull request closed unmerged, grey for deletions.
const (
	blue   = 0x0969DA
	green  = 0x1F883D
	purple = 0x8250DF
	red    = 0xCF222E
	grey   = 0x59636E
)

// bodyPreview is how much of a pull request, issue or release description is shown: enough
// to tell what it is about without filling the channel with a template.
const bodyPreview = 500

func pushMessage(p payload) (message, bool) {
	kind, name := refName(p.Ref)
	repo := escape(p.Repository.FullName)
	switch {
	case p.Deleted:
		return post(p, fmt.Sprintf("deleted %s %s in %s", kind, escape(name), repo), embed{
			Title: fmt.Sprintf("[%s] %s %s deleted", repo, capitalize(kind), escape(name)),
			URL:   p.Repository.HTMLURL,
			Color: grey,
		}), true
	case len(p.Commits) == 0:
		// A new tag, or a branch created at an existing commit: nothing new to list.
		return post(p, fmt.Sprintf("created %s %s in %s", kind, escape(name), repo), embed{
			Title: fmt.Sprintf("[%s] New %s %s", repo, kind, escape(name)),
			URL:   p.Compare,
			Color: blue,
		}), true
	}
	target := repo + ":" + escape(name)
	return post(p, fmt.Sprintf("pushed %s to %s", count(len(p.Commits), "commit"), target), embed{
		Title:       fmt.Sprintf("[%s] %s", target, count(len(p.Commits), "new commit")),
		URL:         p.Compare,
		Description: commitList(p.Commits),
		Color:       blue,
	}), true
}

// commitList has one line per commit, as GitHub's Discord integration shows them:
// the short id linked to the commit, the first line of the message, the author.
func commitList(commits []commit) string {
	lines := make([]string, len(commits))
	for i, c := range commits {
		lines[i] = fmt.Sprintf("%s %s - %s",
			link("`"+shortID(c.ID)+"`", c.URL), escape(firstLine(c.Message)), escape(commitAuthor(c)))
	}
	return strings.Join(lines, "\n")
}

func pullRequestMessage(p payload) (message, bool) {
	pr := p.PullRequest
	if pr == nil {
		return message{}, false
	}
	var verb string
	var color int
	switch {
	case p.Action == "opened" || p.Action == "reopened":
		verb, color = p.Action, green
	case p.Action == "closed" && pr.Merged:
		verb, color = "merged", purple
	case p.Action == "closed":
		verb, color = "closed", red
	default:
		return message{}, false
	}
	return post(p, fmt.Sprintf("%s pull request #%d in %s", verb, pr.Number, escape(p.Repository.FullName)),
		itemEmbed(*pr, p.Action == "opened", color)), true
}

func issuesMessage(p payload) (message, bool) {
	is := p.Issue
	if is == nil {
		return message{}, false
	}
	var color int
	switch p.Action {
	case "opened":
		color = green
	case "closed":
		color = purple
	default:
		return message{}, false
	}
	return post(p, fmt.Sprintf("%s issue #%d in %s", p.Action, is.Number, escape(p.Repository.FullName)),
		itemEmbed(*is, p.Action == "opened", color)), true
}

// itemEmbed shows an issue or pull request: number and title, linked, and the start of its
// description when it was just opened (on a close, the reader has seen it already).
func itemEmbed(it issue, withBody bool, color int) embed {
	e := embed{
		Title: fmt.Sprintf("#%d %s", it.Number, escape(it.Title)),
		URL:   it.HTMLURL,
		Color: color,
	}
	if withBody {
		e.Description = truncate(strings.TrimSpace(it.Body), bodyPreview)
	}
	return e
}

func releaseMessage(p payload) (message, bool) {
	r := p.Release
	if r == nil || p.Action != "published" {
		return message{}, false
	}
	label := r.TagName
	if r.Name != "" && r.Name != r.TagName {
		label += " " + r.Name
	}
	return post(p, fmt.Sprintf("published release %s in %s", escape(r.TagName), escape(p.Repository.FullName)), embed{
		Title:       escape(label),
		URL:         r.HTMLURL,
		Description: truncate(strings.TrimSpace(r.Body), bodyPreview),
		Color:       green,
	}), true
}

// post is the message for what the event's actor did: `**actor** what` as the content,
// above e, whose author is the actor too.
func post(p payload, what string, e embed) message {
	name := actor(p)
	e.Author = author{Name: name}
	return message{
		Content:         "**" + escape(name) + "** " + what,
		Embeds:          []embed{e},
		AllowedMentions: noMentions,
	}
}

// actor is who did it: the sender's login, else the pusher's name.
func actor(p payload) string {
	for _, name := range []string{p.Sender.Login, p.Pusher.Name} {
		if name != "" {
			return name
		}
	}
	return "someone"
}

// refName splits a Git ref: "refs/heads/main" is the branch "main", "refs/tags/v1" the
// tag "v1". Any other ref is named in full.
func refName(ref string) (kind, name string) {
	if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return "branch", name
	}
	if name, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return "tag", name
	}
	return "ref", ref
}

func commitAuthor(c commit) string {
	if c.Author.Username != "" {
		return c.Author.Username
	}
	return c.Author.Name
}

// shortID is the 7-character form Git shows for a commit id.
func shortID(id string) string {
	if len(id) > 7 {
		return id[:7]
	}
	return id
}

func firstLine(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	return strings.TrimSpace(line)
}

// count is "1 commit", "3 commits".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func capitalize(word string) string {
	if word == "" {
		return word
	}
	return strings.ToUpper(word[:1]) + word[1:]
}
