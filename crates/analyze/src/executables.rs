//! Executables out of place: ELF files in temp or hidden places, names that imitate kernel
//! threads or system daemons, setuid/setgid files, and packed ELF.
//!
//! Package managers put executables in a few directories and never hide them; droppers put
//! them in `/tmp`, behind dot-names, or under a name that looks harmless in `ps`. Without a
//! package database yet, these rules judge by place, name and mode only, and stay quiet on
//! what Debian itself ships (checked by the false-positive harness in `tests/executables.rs`).

use customs_core::{Confidence, Finding, Severity};
use customs_image::walk::{FileContent, FileEntry};

use crate::{FileAnalyzer, Rule, Wants, clip};

const ELF_MAGIC: &[u8] = b"\x7fELF";

const ELF_IN_TEMP: Rule = Rule {
    id: "elf-in-temp-dir",
    title: "ELF binary in a temporary directory",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1036.005"],
    description: "An ELF executable or library ships in /tmp, /var/tmp, /dev/shm or /run. \
        Packages never install there; droppers and miners do, because every user can write \
        there. Build steps that leave compiled files in /tmp are the benign cause: remove them.",
};

const ELF_HIDDEN: Rule = Rule {
    id: "elf-hidden",
    title: "Hidden ELF binary",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1564.001"],
    description: "An ELF file whose own name starts with a dot, or that sits in a hidden \
        directory inside a temporary directory or directly in a system directory (`/.x/`, \
        `/usr/lib/.x/`, `/tmp/.x/`). `ls` does not show it; no package installs binaries this \
        way. Malware hides its payload like this.",
};

const ELF_HIDDEN_DIR: Rule = Rule {
    id: "elf-in-hidden-dir",
    title: "Executable ELF in a hidden directory",
    severity: Severity::Info,
    confidence: Confidence::Low,
    attack: &["T1564.001"],
    description: "An executable ELF file under a hidden directory elsewhere, typically a tool \
        installed into a home directory (`~/.cargo/bin`, `~/.local/bin`, a `.venv`). Common in \
        development images; noted so an analyst can see what runs from hidden places.",
};

const KTHREAD_NAME: Rule = Rule {
    id: "kernel-thread-name",
    title: "Executable named like a kernel thread",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1036.004", "T1036.005"],
    description: "An executable named like a kernel thread (`kworker`, `kthreadd`, \
        `ksoftirqd`, `[name]` in brackets…). Kernel threads have no files; a program that \
        takes their name wants to pass unnoticed in `ps` and `top`. Miners such as Kinsing \
        (`kdevtmpfsi`) and TeamTNT tools do this.",
};

const DAEMON_NAME: Rule = Rule {
    id: "daemon-name-out-of-place",
    title: "ELF named like a system daemon outside system directories",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1036.005"],
    description: "An ELF file named like a system daemon (`sshd`, `cron`, `rsyslogd`, \
        `systemd-*`, …) outside the directories packages install them in. Attackers name their \
        payload after a daemon so it looks at home in a process list.",
};

const SETUID_KNOWN: Rule = Rule {
    id: "setuid-known",
    title: "Well-known setuid/setgid program",
    severity: Severity::Info,
    confidence: Confidence::High,
    attack: &["T1548.001"],
    description: "A setuid or setgid program that distributions ship (`passwd`, `su`, \
        `mount`, …) in a system directory. Expected; listed because every setuid file is a \
        privilege boundary.",
};

const SETUID_SHELL: Rule = Rule {
    id: "setuid-shell",
    title: "Setuid shell or interpreter",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1548.001"],
    description: "A shell, interpreter or tool that can spawn a shell or write any file \
        (bash, python, perl, find, vim, busybox, …) has the setuid or setgid bit. No \
        distribution ships this; it hands its owner's privileges to anyone who runs it, the \
        classic privilege-escalation backdoor.",
};

const SETUID_HIDDEN: Rule = Rule {
    id: "setuid-temp-or-hidden",
    title: "Setuid/setgid file in a temporary or hidden place",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1548.001", "T1564.001"],
    description: "A setuid or setgid file in a temporary directory, behind a dot-name or in \
        a hidden directory. Nothing legitimate installs privileged programs there.",
};

const SETUID_UNLISTED: Rule = Rule {
    id: "setuid-unlisted",
    title: "Setuid/setgid program not in the well-known list",
    severity: Severity::Low,
    confidence: Confidence::Low,
    attack: &["T1548.001"],
    description: "A setuid or setgid file in a system directory whose name is not among the \
        well-known setuid programs. Often a package's own helper; check which package owns it.",
};

const SETUID_UNUSUAL: Rule = Rule {
    id: "setuid-unusual-path",
    title: "Setuid/setgid file outside system directories",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1548.001"],
    description: "A setuid or setgid file outside the directories packages install programs \
        in (for example in /home, /root, /srv, /var or an application directory). Such files \
        are rarely needed and are a common way to keep root after a compromise.",
};

const UPX: Rule = Rule {
    id: "elf-upx-packed",
    title: "UPX-packed ELF",
    severity: Severity::Medium,
    confidence: Confidence::High,
    attack: &["T1027.002"],
    description: "An ELF file carries the UPX packer's markers: its code is compressed and \
        only unpacked in memory, which hides it from string and signature matching. Some \
        projects pack release binaries to save space; most packed ELF in images is malware \
        (miners, botnets).",
};

const HIGH_ENTROPY: Rule = Rule {
    id: "elf-packed-high-entropy",
    title: "ELF that looks packed (high entropy, no sections, no imports)",
    severity: Severity::Medium,
    confidence: Confidence::Low,
    attack: &["T1027.002"],
    description: "An ELF file whose bytes are almost random (Shannon entropy above 7.2 \
        bits/byte), with no section headers and a tiny or no dynamic symbol table: the shape \
        of a packed or encrypted executable whose packer markers were removed. Compilers \
        never produce this; self-extracting installers sometimes do.",
};

/// Kernel thread names that no file has a reason to carry: prefixes (the kernel appends a
/// CPU or device number: `kworker/0:1`, `ksoftirqd/0`, `kswapd0`). From `ps` output of
/// Linux 6.x, and from public reports on Kinsing (`kdevtmpfsi`) and TeamTNT (`kthreaddk`).
const KTHREAD_PREFIXES: &[&str] = &[
    "kworker",
    "ksoftirqd",
    "kswapd",
    "kthreadd",
    "kdevtmpfs",
    "khugepaged",
    "kcompactd",
    "kblockd",
    "kauditd",
    "kintegrityd",
    "khungtaskd",
    "kthrotld",
    "kcryptd",
    "jbd2",
    "rcu_sched",
    "rcu_preempt",
    "rcu_gp",
    "rcu_par_gp",
];
const KTHREAD_NAMES: &[&str] = &["kacpid", "ksmd", "kpsmoused", "oom_reaper", "watchdogd"];

/// Operating-system daemons (not applications: nginx or mysqld are often built into
/// `/usr/local` or `/opt` on purpose). Names as Debian, Fedora and Alpine install them.
const DAEMON_NAMES: &[&str] = &[
    "sshd",
    "cron",
    "crond",
    "anacron",
    "atd",
    "rsyslogd",
    "syslogd",
    "syslog-ng",
    "klogd",
    "dbus-daemon",
    "dbus-broker",
    "systemd",
    "udevd",
    "auditd",
    "polkitd",
    "agetty",
    "getty",
    "accounts-daemon",
    "irqbalance",
    "acpid",
    "chronyd",
    "ntpd",
    "avahi-daemon",
    "cupsd",
    "snapd",
    "upowerd",
    "udisksd",
    "NetworkManager",
    "ModemManager",
    "wpa_supplicant",
    "networkd-dispatcher",
    "rpcbind",
    "nscd",
    "sssd",
];

/// Setuid/setgid programs that distributions ship (Debian bookworm/trixie, Fedora/RHEL,
/// Alpine), by file name. Source: the packages' file lists (`find / -perm /6000` on
/// installed systems) and distribution security documentation.
const KNOWN_SETUID: &[&str] = &[
    "passwd",
    "chsh",
    "chfn",
    "gpasswd",
    "newgrp",
    "sg",
    "su",
    "sudo",
    "sudoedit",
    "mount",
    "umount",
    "pkexec",
    "polkit-agent-helper-1",
    "ssh-keysign",
    "ssh-agent",
    "dbus-daemon-launch-helper",
    "unix_chkpwd",
    "pam_timestamp_check",
    "expiry",
    "chage",
    "wall",
    "write",
    "bsd-write",
    "crontab",
    "at",
    "dotlockfile",
    "dotlock.mailutils",
    "mutt_dotlock",
    "lockfile",
    "procmail",
    "fusermount",
    "fusermount3",
    "ntfs-3g",
    "pppd",
    "Xorg.wrap",
    "chrome-sandbox",
    "newuidmap",
    "newgidmap",
    "utempter",
    "mount.nfs",
    "mount.cifs",
    "mount.ecryptfs_private",
    "postdrop",
    "postqueue",
    "exim4",
    "screen",
    "bbsuid",
    "userhelper",
    "usernetctl",
    "grub2-set-bootflag",
    "snap-confine",
    "dmcrypt-get-device",
    "mlocate",
    "plocate",
    "ping",
    "ping6",
    "traceroute6.iputils",
    "staprun",
    "kismet_cap_linux_wifi",
];

/// Shells, interpreters and tools that give a shell or arbitrary file writes when setuid.
/// Source: GTFOBins' "SUID" category (names only).
const SHELL_NAMES: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "ash",
    "zsh",
    "ksh",
    "ksh93",
    "mksh",
    "pdksh",
    "csh",
    "tcsh",
    "fish",
    "yash",
    "busybox",
    "node",
    "nodejs",
    "expect",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "find",
    "vi",
    "vim",
    "vim.basic",
    "vim.tiny",
    "rvim",
    "view",
    "nvim",
    "emacs",
    "less",
    "more",
    "env",
    "nice",
    "xargs",
    "strace",
    "gdb",
    "nmap",
    "socat",
    "nc",
    "ncat",
    "netcat",
    "nc.openbsd",
    "nc.traditional",
    "tar",
    "cp",
    "dd",
    "tee",
    "chmod",
    "chown",
    "install",
    "rsync",
    "wish",
    "script",
];
/// Interpreters that carry a version in their name (`python3.11`, `perl5.36.0`).
const SHELL_PREFIXES: &[&str] = &["python", "perl", "ruby", "php", "lua", "tclsh"];

/// Hidden directories that build tools create wherever they are run, even at `/` or in
/// `/opt`: a Python virtual environment, libtool's and auditwheel's bundled libraries.
const TOOL_DIRS: &[&str] = &[".venv", ".libs"];

/// A dot-name: `ls` hides it.
fn hidden(name: &str) -> bool {
    name.starts_with('.') && name != "." && name != ".."
}

/// The temporary directory (no leading `/`) that `path` lies in, if any.
pub(crate) fn temp_dir(path: &str) -> Option<&'static str> {
    const TEMP_DIRS: &[&str] = &["tmp", "var/tmp", "dev/shm", "run", "var/run"];
    let path = path.trim_start_matches('/');
    TEMP_DIRS.iter().copied().find(|d| {
        path.strip_prefix(d)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    })
}

/// The first hidden directory on the way to `path` (its own name excluded), with its parent.
fn hidden_dir(path: &str) -> Option<(&str, &str)> {
    let path = path.trim_start_matches('/');
    let (dirs, _) = path.rsplit_once('/')?;
    let mut start = 0;
    for c in dirs.split('/') {
        if hidden(c) {
            let parent = dirs[..start].trim_end_matches('/');
            return Some((parent, c));
        }
        start += c.len() + 1;
    }
    None
}

/// Why a path named in a config file (an absolute path, as the system would resolve it) is
/// a place for droppers rather than for installed software: in a temporary directory, in a
/// hidden directory, hidden itself, or not absolute.
pub(crate) fn dropper_location(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some("relative path".into());
    }
    if let Some(t) = temp_dir(path) {
        return Some(format!("in /{t}"));
    }
    if let Some((_, d)) = hidden_dir(path) {
        return Some(format!("in hidden directory `{d}`"));
    }
    if path.rsplit('/').next().is_some_and(hidden) {
        return Some("hidden file name".into());
    }
    None
}

/// Directories whose hidden subdirectories are suspicious: the root and system trees, where
/// packages never create dot-directories (home directories are not in it: tools live in
/// `~/.cargo`, `~/.local` and the like).
fn system_parent(parent: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "",
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "etc",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/lib",
        "usr/lib32",
        "usr/lib64",
        "usr/libexec",
        "usr/share",
        "usr/include",
        "usr/src",
        "usr/local",
        "usr/local/bin",
        "usr/local/sbin",
        "usr/local/lib",
        "usr/local/share",
        "var",
        "var/lib",
        "var/log",
        "var/cache",
        "var/spool",
        "var/mail",
        "var/opt",
        "var/backups",
        "opt",
        "srv",
        "mnt",
        "media",
        "boot",
        "dev",
    ];
    SYSTEM.contains(&parent)
        || ["lib/", "usr/lib/"]
            .iter()
            .any(|p| parent.strip_prefix(p).is_some_and(multiarch))
}

/// A Debian multiarch triplet directory name (`x86_64-linux-gnu`).
fn multiarch(dir: &str) -> bool {
    !dir.contains('/') && dir.contains("-linux-")
}

/// Whether `path` is where packages install programs: directly in a bin directory, or
/// anywhere below a library, libexec or vendor tree.
fn package_path(path: &str) -> bool {
    const BIN: &[&str] = &[
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "usr/local/bin",
        "usr/local/sbin",
        "usr/games",
    ];
    const TREES: &[&str] = &[
        "lib/",
        "lib32/",
        "lib64/",
        "libx32/",
        "usr/lib/",
        "usr/lib32/",
        "usr/lib64/",
        "usr/libexec/",
        "usr/local/lib/",
        "usr/local/libexec/",
        "opt/",
        "nix/store/",
        "gnu/store/",
        "snap/",
    ];
    if temp_dir(path).is_some() || hidden_dir(path).is_some() {
        return false;
    }
    let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
    BIN.contains(&parent) || TREES.iter().any(|t| path.starts_with(t))
}

fn kernel_thread_name(name: &str) -> bool {
    let name = name.trim_start_matches('.');
    (name.len() > 2 && name.starts_with('[') && name.ends_with(']'))
        || KTHREAD_NAMES.contains(&name)
        || KTHREAD_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn daemon_name(name: &str) -> bool {
    DAEMON_NAMES.contains(&name) || name.starts_with("systemd-")
}

fn shell_name(name: &str) -> bool {
    SHELL_NAMES.contains(&name)
        || SHELL_PREFIXES.iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        })
}

/// What kind of ELF object the header says it is, for evidence.
fn elf_kind(data: &[u8]) -> &'static str {
    let e_type = match (data.get(5), data.get(16..18)) {
        (Some(2), Some(b)) => u16::from_be_bytes([b[0], b[1]]),
        (_, Some(b)) => u16::from_le_bytes([b[0], b[1]]),
        _ => 0,
    };
    match e_type {
        1 => "ELF relocatable object",
        2 => "ELF executable",
        3 => "ELF shared object or PIE executable",
        4 => "ELF core dump",
        _ => "ELF file",
    }
}

fn mode_note(mode: u32) -> String {
    let exec = if mode & 0o111 != 0 {
        "executable"
    } else {
        "not executable"
    };
    format!("mode {mode:04o}, {exec}")
}

/// Place, name and mode of every regular file; ELF recognised by its magic.
pub(crate) struct Executables;

impl Executables {
    /// `place` is the path that decides where the file lies: the path itself, or for a
    /// member of an archive its path inside the archive.
    fn setuid(&self, entry: &FileEntry, place: &str, member: bool, out: &mut Vec<Finding>) {
        let name = place.rsplit('/').next().unwrap_or(place);
        let bits = match entry.mode & 0o6000 {
            0o6000 => "setuid and setgid",
            0o4000 => "setuid",
            _ => "setgid",
        };
        let owner = if entry.mode & 0o4000 != 0 {
            format!(", owner uid {}", entry.uid)
        } else {
            format!(", group gid {}", entry.gid)
        };
        let mut evidence = format!("{bits}, mode {:04o}{owner}", entry.mode);
        let rule = if let Some(t) = temp_dir(place) {
            evidence.push_str(&format!(", in /{t}"));
            &SETUID_HIDDEN
        } else if hidden(name) || hidden_dir(place).is_some() {
            &SETUID_HIDDEN
        } else if shell_name(name) {
            &SETUID_SHELL
        } else if member {
            // Where an archive is unpacked is unknown (a root filesystem tarball holds
            // `passwd` and `su`): only what is suspicious anywhere counts.
            return;
        } else if !package_path(place) {
            &SETUID_UNUSUAL
        } else if KNOWN_SETUID.contains(&name) {
            &SETUID_KNOWN
        } else {
            &SETUID_UNLISTED
        };
        out.push(rule.finding(Some(&entry.path), evidence));
    }
}

impl FileAnalyzer for Executables {
    fn id(&self) -> &'static str {
        "executables"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        // Every file: place, name and mode need no content, and the ELF header's first 18
        // bytes tell the magic and the object type.
        Wants {
            paths: vec![],
            max_size: None,
            bytes: 18,
            whole: false,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        let path = entry.path.as_str();
        // Members of archives (`opt/x.tgz!/usr/bin/su`) are judged by their path inside.
        let (place, member) = match path.rfind("!/") {
            Some(i) => (&path[i + 2..], true),
            None => (path, false),
        };
        let name = place.rsplit('/').next().unwrap_or(place);
        if entry.mode & 0o6000 != 0 {
            self.setuid(entry, place, member, out);
        }
        let elf = content.data.starts_with(ELF_MAGIC);
        let runnable = elf || entry.mode & 0o111 != 0 || content.data.starts_with(b"#!");
        if runnable && kernel_thread_name(name) {
            let what = if elf {
                elf_kind(content.data)
            } else {
                "script"
            };
            out.push(KTHREAD_NAME.finding(
                Some(path),
                format!("{what} named `{}`, {}", clip(name), mode_note(entry.mode)),
            ));
        }
        if !elf {
            return;
        }
        let kind = elf_kind(content.data);
        let modes = mode_note(entry.mode);
        if daemon_name(name) && !member && !package_path(place) {
            out.push(DAEMON_NAME.finding(
                Some(path),
                format!(
                    "{kind} named `{}` outside system directories, {modes}",
                    clip(name)
                ),
            ));
        }
        let temp = temp_dir(place);
        let hidden_in = hidden_dir(place);
        if hidden(name) {
            out.push(ELF_HIDDEN.finding(Some(path), format!("{kind} with a dot-name, {modes}")));
        } else if let Some((parent, dir)) = hidden_in.filter(|(parent, dir)| {
            temp.is_some() || (system_parent(parent) && !TOOL_DIRS.contains(dir))
        }) {
            let at = if parent.is_empty() {
                format!("/{dir}")
            } else {
                format!("/{parent}/{dir}")
            };
            out.push(ELF_HIDDEN.finding(
                Some(path),
                format!("{kind} in hidden directory `{}`, {modes}", clip(&at)),
            ));
        } else if let Some(t) = temp {
            out.push(ELF_IN_TEMP.finding(Some(path), format!("{kind} in /{t}, {modes}")));
        } else if let Some((_, dir)) = hidden_in.filter(|_| entry.mode & 0o111 != 0) {
            out.push(ELF_HIDDEN_DIR.finding(
                Some(path),
                format!("{kind} under hidden directory `{}`, {modes}", clip(dir)),
            ));
        }
    }
}

/// Files larger than this are not what the packing rules look for: droppers are small, and
/// a packed executable over 32 MiB would unpack to hundreds of MiB.
const PACKED_MAX: u64 = 32 << 20;
/// Above this many bits per byte an executable is compressed or encrypted: machine code and
/// symbol tables stay well under it (the highest in Debian bookworm's ELF files, 7.75, is a
/// gconv table library with full section headers).
const ENTROPY_MIN: f64 = 7.2;
/// Entropy means little on a few hundred bytes.
const ENTROPY_MIN_SIZE: usize = 4096;
/// A dynamically linked program imports at least a few libc symbols; a packer stub imports
/// none or almost none.
const TINY_IMPORTS: usize = 8;

/// UPX markers and packed-looking ELF; needs whole files for the entropy.
pub(crate) struct PackedElf;

/// Where a UPX marker is, if the file has one in a place where only UPX writes it.
fn upx_marker(data: &[u8], header: &goblin::elf::header::Header) -> Option<String> {
    // UPX writes its `l_info` block (checksum, then `UPX!`) right after the program headers,
    // and its pack header (`UPX!`…) in the last bytes of the file. The `upx` tool itself
    // holds `UPX!` strings too, but deep inside its data.
    let ph_end = header
        .e_phoff
        .saturating_add(u64::from(header.e_phnum) * u64::from(header.e_phentsize));
    let ph_end = usize::try_from(ph_end).unwrap_or(usize::MAX);
    if let Some(i) = data
        .get(ph_end..ph_end.saturating_add(16).min(data.len()))
        .and_then(|w| find(w, b"UPX!"))
    {
        return Some(format!(
            "`UPX!` header at offset {} (right after the program headers)",
            ph_end + i
        ));
    }
    let tail = data.len().saturating_sub(64);
    if let Some(i) = find(&data[tail..], b"UPX!") {
        return Some(format!(
            "`UPX!` pack header at offset {} (end of file)",
            tail + i
        ));
    }
    let names = upx_sections(data, header).unwrap_or_default();
    (!names.is_empty()).then(|| format!("UPX section names {}", names.join(", ")))
}

/// Section names that UPX and its derivatives give their sections, read from the section
/// headers and their name table only (not the whole file).
fn upx_sections(data: &[u8], header: &goblin::elf::header::Header) -> Option<Vec<String>> {
    if header.e_shnum == 0 {
        return None;
    }
    let ctx = goblin::container::Ctx::new(header.container().ok()?, header.endianness().ok()?);
    let offset = usize::try_from(header.e_shoff).ok()?;
    let sections =
        goblin::elf::SectionHeader::parse(data, offset, header.e_shnum.into(), ctx).ok()?;
    let table = sections.get(usize::from(header.e_shstrndx))?;
    let start = usize::try_from(table.sh_offset).ok()?;
    let len = usize::try_from(table.sh_size).ok()?;
    let table = data.get(start..start.checked_add(len)?)?;
    Some(
        sections
            .iter()
            .filter_map(|s| {
                let name = table.get(s.sh_name..)?;
                let name = &name[..name.iter().position(|&b| b == 0)?];
                matches!(name, b"UPX0" | b"UPX1" | b"UPX2" | b".upx")
                    .then(|| String::from_utf8_lossy(name).into_owned())
            })
            .collect(),
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Shannon entropy in bits per byte.
fn entropy(data: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

impl FileAnalyzer for PackedElf {
    fn id(&self) -> &'static str {
        "packed-elf"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants {
            paths: vec![],
            max_size: Some(PACKED_MAX),
            bytes: PACKED_MAX as usize,
            whole: true,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        let data = content.data;
        if !data.starts_with(ELF_MAGIC) || !content.complete {
            return;
        }
        let Ok(header) = goblin::elf::Elf::parse_header(data) else {
            return;
        };
        if let Some(marker) = upx_marker(data, &header) {
            out.push(UPX.finding(Some(&entry.path), format!("{}: {marker}", elf_kind(data))));
            return;
        }
        if header.e_shnum != 0 || data.len() < ENTROPY_MIN_SIZE {
            return;
        }
        let bits = entropy(data);
        if bits <= ENTROPY_MIN {
            return;
        }
        // Only now is a full parse worth it: the dynamic symbols come from PT_DYNAMIC.
        let imports = match goblin::elf::Elf::parse(data) {
            Ok(elf) => elf.dynsyms.len(),
            Err(_) => 0,
        };
        if imports <= TINY_IMPORTS {
            out.push(HIGH_ENTROPY.finding(
                Some(&entry.path),
                format!(
                    "{}: entropy {bits:.2} bits/byte over {} bytes, no section headers, {imports} dynamic symbols",
                    elf_kind(data),
                    data.len()
                ),
            ));
        }
    }
}

/// Every rule of the module, for the docs check.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[
    &ELF_IN_TEMP,
    &ELF_HIDDEN,
    &ELF_HIDDEN_DIR,
    &KTHREAD_NAME,
    &DAEMON_NAME,
    &SETUID_KNOWN,
    &SETUID_SHELL,
    &SETUID_HIDDEN,
    &SETUID_UNLISTED,
    &SETUID_UNUSUAL,
    &UPX,
    &HIGH_ENTROPY,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places() {
        assert_eq!(temp_dir("tmp/x"), Some("tmp"));
        assert_eq!(temp_dir("/var/tmp/.x/y"), Some("var/tmp"));
        assert_eq!(temp_dir("tmpfoo/x"), None);
        assert_eq!(temp_dir("runner/x"), None);
        assert_eq!(hidden_dir("tmp/.x/kworker"), Some(("tmp", ".x")));
        assert_eq!(hidden_dir(".x/y"), Some(("", ".x")));
        assert_eq!(hidden_dir("root/.x"), None);
        assert!(system_parent("usr/lib/x86_64-linux-gnu"));
        assert!(!system_parent("usr/lib/debug"));
        assert!(!system_parent("root"));
        assert!(package_path("usr/sbin/sshd"));
        assert!(package_path("usr/lib/openssh/ssh-keysign"));
        assert!(!package_path("usr/lib/.x/sshd"));
        assert!(!package_path("usr/share/sshd"));
        assert!(!package_path("usr/bin/x/sshd"));
        assert_eq!(dropper_location("/lib/x.so"), None);
        assert!(dropper_location("/dev/shm/x.so").is_some());
        assert!(dropper_location("/usr/lib/.cache/x.so").is_some());
        assert!(dropper_location("/usr/lib/.x.so").is_some());
        assert!(dropper_location("x.so").is_some());
    }

    #[test]
    fn names() {
        for n in [
            "kworker",
            "kworker34",
            "[kworker]",
            ".kdevtmpfsi",
            "kthreaddk",
            "kswapd0",
        ] {
            assert!(kernel_thread_name(n), "{n}");
        }
        for n in ["[", "[[", "kerneloops", "worker", "k"] {
            assert!(!kernel_thread_name(n), "{n}");
        }
        assert!(shell_name("python3.11") && shell_name("perl5.36.0") && shell_name("bash"));
        assert!(!shell_name("python3-config") && !shell_name("passwd"));
        assert!(daemon_name("systemd-journald") && !daemon_name("sshd-session"));
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(entropy(&[7u8; 1000]), 0.0);
        let all: Vec<u8> = (0..=255u8).cycle().take(256 * 16).collect();
        assert!((entropy(&all) - 8.0).abs() < 1e-9);
    }
}
