//! Readings of the router's `/metrics` (Prometheus text), taken at the edges of a phase.

/// One reading of `/metrics`.
pub struct Metrics {
    text: String,
}

impl Metrics {
    pub async fn read(client: &reqwest::Client, admin: &str) -> anyhow::Result<Metrics> {
        let text = client
            .get(format!("{admin}/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(Metrics { text })
    }

    /// The size of the page, which only configured names may grow.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// How many times `text` occurs in the page.
    pub fn mentions(&self, text: &str) -> usize {
        self.text.matches(text).count()
    }

    /// The sum of the samples of `name` that carry each of `labels`.
    pub fn total(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.text
            .lines()
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let rest = series.strip_prefix(name)?;
                let labelled = rest.is_empty() || rest.starts_with('{');
                let matches = labels
                    .iter()
                    .all(|(key, wanted)| rest.contains(&format!("{key}=\"{wanted}\"")));
                (labelled && matches).then(|| value.parse::<f64>().ok())?
            })
            .sum()
    }

    /// How much `name` (with `labels`) grew since `earlier`.
    pub fn since(&self, earlier: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.total(name, labels) - earlier.total(name, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_samples_with_the_labels_asked_for() {
        let metrics = Metrics {
            text: "# TYPE wasmhook_plugin_errors_total counter\n\
                   wasmhook_plugin_errors_total{plugin=\"a\",kind=\"timeout\"} 3\n\
                   wasmhook_plugin_errors_total{plugin=\"b\",kind=\"timeout\"} 4\n\
                   wasmhook_plugin_errors_total_other 100\n\
                   wasmhook_requests_unknown_source_total 7\n"
                .into(),
        };
        let errors = "wasmhook_plugin_errors_total";
        assert_eq!(metrics.total(errors, &[]), 7.0);
        assert_eq!(metrics.total(errors, &[("plugin", "a")]), 3.0);
        assert_eq!(metrics.total(errors, &[("plugin", "c")]), 0.0);
        assert_eq!(
            metrics.total("wasmhook_requests_unknown_source_total", &[]),
            7.0
        );
    }
}
