//! Turns what the layer walker saw as hostile or odd into findings. The walker only
//! records; the judgement (and its severity) lives here.

use customs_core::{Confidence, Finding, Severity, attack};
use customs_image::walk::{Anomaly, EntryKind, FileEntry};

use crate::{Rule, escaped};

pub(crate) const ID: &str = "layer-anomaly";
pub(crate) const VERSION: u32 = 1;

const PATH_TRAVERSAL: Rule = Rule {
    id: "tar-path-traversal",
    title: "Layer entry climbs out of the image root",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MALICIOUS_IMAGE, attack::ESCAPE_TO_HOST],
    description: "A tar member name uses `..` to reach above the root. No image builder \
        writes this; it targets extraction bugs in runtimes and tools to write files on the \
        host. customs read it as data, clamped to the root.",
};

const ABSOLUTE: Rule = Rule {
    id: "tar-absolute-path",
    title: "Layer entry has an absolute path",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "A tar member name starts with `/`. Runtimes strip it, but image builders \
        never write it, and naive extraction tools write such files on the host.",
};

const LINK_ESCAPES: Rule = Rule {
    id: "tar-link-escapes-root",
    title: "Link in a layer points above the image root",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, attack::ESCAPE_TO_HOST],
    description: "A relative symlink or hard link climbs above the root with `..`. Inside a \
        container it resolves to the root, but tools that extract or copy out of images can \
        be made to read or write host files through it.",
};

const DEVICE: Rule = Rule {
    id: "tar-device-node",
    title: "Device node outside /dev",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, attack::ESCAPE_TO_HOST],
    description: "A character or block device node outside /dev. In a privileged container \
        it gives direct access to host devices (disks, memory) under an innocent name.",
};

const DEVICE_IN_DEV: Rule = Rule {
    id: "tar-device-node-dev",
    title: "Device node in /dev",
    severity: Severity::Info,
    confidence: Confidence::Low,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "Root filesystems made with debootstrap or imported from a machine carry \
        device nodes in /dev; runtimes mount their own /dev over them. Noted for forensics.",
};

const DUPLICATE: Rule = Rule {
    id: "tar-duplicate-entry",
    title: "Same path twice in one layer",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, attack::OBFUSCATED_FILES],
    description: "One layer writes the same path twice; extraction keeps the last copy. \
        Tools that read only the first copy can be shown harmless content. customs reads both.",
};

/// Every rule this analyzer gives, for the documentation check in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[
    &PATH_TRAVERSAL,
    &ABSOLUTE,
    &LINK_ESCAPES,
    &DEVICE,
    &DEVICE_IN_DEV,
    &DUPLICATE,
];

/// The finding for an anomaly the walker reported.
pub fn anomaly_finding(entry: &FileEntry, anomaly: &Anomaly) -> Finding {
    let path = Some(entry.path.as_str());
    match anomaly {
        Anomaly::PathEscapesRoot { raw } => {
            PATH_TRAVERSAL.finding(path, format!("tar member name `{}`", escaped(raw, 300)))
        }
        Anomaly::AbsolutePath { raw } => {
            ABSOLUTE.finding(path, format!("tar member name `{}`", escaped(raw, 300)))
        }
        Anomaly::LinkEscapesRoot { target } => LINK_ESCAPES.finding(
            path,
            format!("{} to `{}`", kind_name(entry.kind), escaped(target, 300)),
        ),
        Anomaly::DeviceNode => {
            let rule = if entry.path == "dev" || entry.path.starts_with("dev/") {
                &DEVICE_IN_DEV
            } else {
                &DEVICE
            };
            rule.finding(
                path,
                format!("{}, mode {:04o}", kind_name(entry.kind), entry.mode),
            )
        }
        Anomaly::DuplicateEntry => DUPLICATE.finding(
            path,
            format!("{} written again in the same layer", kind_name(entry.kind)),
        ),
    }
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "regular file",
        EntryKind::Dir => "directory",
        EntryKind::Symlink => "symlink",
        EntryKind::Hardlink => "hard link",
        EntryKind::CharDevice => "character device",
        EntryKind::BlockDevice => "block device",
        EntryKind::Fifo => "named pipe",
        EntryKind::Other => "special file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 0,
            link: None,
            layer: 0,
        }
    }

    #[test]
    fn device_severity_depends_on_place() {
        let f = anomaly_finding(
            &entry("tmp/sda", EntryKind::BlockDevice),
            &Anomaly::DeviceNode,
        );
        assert_eq!(
            (f.rule.as_str(), f.severity),
            ("tar-device-node", Severity::Medium)
        );
        let f = anomaly_finding(
            &entry("dev/null", EntryKind::CharDevice),
            &Anomaly::DeviceNode,
        );
        assert_eq!(
            (f.rule.as_str(), f.severity),
            ("tar-device-node-dev", Severity::Info)
        );
        let f = anomaly_finding(
            &entry("devil/x", EntryKind::CharDevice),
            &Anomaly::DeviceNode,
        );
        assert_eq!(f.rule, "tar-device-node");
    }

    #[test]
    fn escapes_control_characters() {
        let f = anomaly_finding(
            &entry("etc/x", EntryKind::File),
            &Anomaly::PathEscapesRoot {
                raw: "../\x1b[2Jetc/x".into(),
            },
        );
        assert!(!f.evidence.contains('\x1b'), "{}", f.evidence);
        assert!(f.evidence.contains("\\u{1b}"), "{}", f.evidence);
    }
}
