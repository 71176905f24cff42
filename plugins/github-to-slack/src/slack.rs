//! Slack mrkdwn: escaping and links.

/// Escapes the three characters Slack's mrkdwn gives a meaning to.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<url|label>`, or just the label when there is no URL.
pub fn link(url: &str, label: &str) -> String {
    let label = escape(label).replace('|', "¦");
    if url.is_empty() {
        label
    } else {
        format!("<{}|{label}>", escape(url))
    }
}

/// The first line of a commit message.
pub fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("").trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(escape("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
    }

    #[test]
    fn links_escape_the_label() {
        assert_eq!(link("https://x/y", "a|b<c"), "<https://x/y|a¦b&lt;c>");
        assert_eq!(link("", "plain"), "plain");
    }

    #[test]
    fn first_line_of_a_message() {
        assert_eq!(first_line("Fix it\n\nLong story"), "Fix it");
        assert_eq!(first_line(""), "");
    }
}
