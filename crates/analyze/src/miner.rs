//! Recognizers for cryptominer settings, shared by the config analyzer and the IOC file
//! analyzer: pool domains from the IOC list, stratum URLs, miner command-line flags and
//! Monero wallet addresses.

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::ioc::IocEntry;
use crate::search_windows;

/// Finds pool domains (and their subdomains) in bytes, on label boundaries, ASCII case
/// insensitively.
#[derive(Debug)]
pub(crate) struct PoolMatcher {
    ac: Option<AhoCorasick>,
    /// A fast test for whether `ac` can match at all: SIMD (Teddy) over the lowercased
    /// bytes. Case-insensitive Aho-Corasick only gets a one-byte prefilter here and cost
    /// about 5% of a whole scan; pool domains are rare, so most files stop at this test.
    quick: Option<aho_corasick::packed::Searcher>,
    /// The longest domain, the overlap between lowercased chunks.
    longest: usize,
    domains: Vec<IocEntry>,
    ports: HashSet<u16>,
}

thread_local! {
    static LOWERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One pool domain found in some bytes.
pub(crate) struct PoolHit<'a> {
    /// Where the whole host name starts (subdomains included).
    pub host_start: usize,
    /// Where the listed domain starts.
    pub start: usize,
    /// Where the domain ends.
    pub end: usize,
    /// The port written right after it (`host:3333`), if any.
    pub port: Option<u16>,
    /// The list entry.
    pub entry: &'a IocEntry,
    hay: &'a [u8],
}

impl PoolHit<'_> {
    /// `host[:port]` as written.
    pub fn address(&self) -> String {
        let host = String::from_utf8_lossy(&self.hay[self.host_start..self.end]);
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host.into_owned(),
        }
    }
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

impl PoolMatcher {
    pub(crate) fn new(domains: &[IocEntry], ports: HashSet<u16>) -> PoolMatcher {
        let ac = (!domains.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(domains.iter().map(|e| e.value.as_bytes()))
                .expect("a few hundred short domains always build")
        });
        let quick = (!domains.is_empty())
            .then(|| {
                let mut b = aho_corasick::packed::Config::new().builder();
                b.extend(domains.iter().map(|e| e.value.to_ascii_lowercase()));
                b.build()
            })
            .flatten();
        PoolMatcher {
            ac,
            quick,
            longest: domains.iter().map(|e| e.value.len()).max().unwrap_or(0),
            domains: domains.to_vec(),
            ports,
        }
    }

    /// Whether a listed domain may occur in `hay`, in any case (true when unsure).
    fn may_occur(&self, hay: &[u8]) -> bool {
        let Some(quick) = &self.quick else {
            return true;
        };
        LOWERED.with_borrow_mut(|low| {
            search_windows(hay.len(), self.longest).any(|window| {
                low.clear();
                low.extend(hay[window].iter().map(u8::to_ascii_lowercase));
                quick.find(&low[..]).is_some()
            })
        })
    }

    /// Whether `port` is a published stratum port.
    pub(crate) fn is_stratum_port(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }

    /// Every listed domain in `hay` that stands as a whole host name or its parent domain
    /// (`pool.supportxmr.com`, not `notsupportxmr.com` or `supportxmr.com.example`).
    pub(crate) fn find<'a>(&'a self, hay: &'a [u8]) -> impl Iterator<Item = PoolHit<'a>> + 'a {
        let ac = self.ac.as_ref().filter(|_| self.may_occur(hay));
        ac.into_iter()
            .flat_map(move |ac| ac.find_iter(hay))
            .filter_map(move |m| {
                let (start, end) = (m.start(), m.end());
                let before = start.checked_sub(1).map(|i| hay[i]);
                if before.is_some_and(is_label_byte) {
                    return None;
                }
                match hay.get(end) {
                    Some(&b) if is_label_byte(b) => return None,
                    Some(b'.') if hay.get(end + 1).is_some_and(|&b| is_label_byte(b)) => {
                        return None;
                    }
                    _ => {}
                }
                let mut host_start = start;
                if before == Some(b'.') {
                    while host_start > 0
                        && start - host_start < 200
                        && (is_label_byte(hay[host_start - 1]) || hay[host_start - 1] == b'.')
                    {
                        host_start -= 1;
                    }
                }
                Some(PoolHit {
                    host_start,
                    start,
                    end,
                    port: port_after(hay, end),
                    entry: &self.domains[m.pattern().as_usize()],
                    hay,
                })
            })
    }
}

/// `:1234` right after `end`.
fn port_after(hay: &[u8], end: usize) -> Option<u16> {
    if hay.get(end) != Some(&b':') {
        return None;
    }
    let digits: Vec<u8> = hay[end + 1..]
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Strings that, close to a pool domain, show it is a miner's connection setting rather than
/// a mention (a blocklist, a news article). JSON keys of XMRig-style configs and the flags
/// of common miners.
const MINER_KEYS: &[&str] = &[
    "stratum+",
    "\"pools\"",
    "\"url\"",
    "\"user\"",
    "\"pass\"",
    "\"algo\"",
    "\"coin\"",
    "\"rig-id\"",
    "donate-level",
    "--url",
    "--user",
    "--pass",
    "--algo",
    "--coin",
    "--pool",
    "--wallet",
    " -o ",
    " -u ",
];

/// How far around a pool domain [`MINER_KEYS`] are looked for.
const NEAR: usize = 256;

/// Why a pool hit is a pool address (a stratum scheme before it, a stratum port after it,
/// miner settings around it), or `None` for a plain mention.
pub(crate) fn pool_context(hay: &[u8], hit: &PoolHit<'_>, pools: &PoolMatcher) -> Option<String> {
    if let Some(p) = hit.port.filter(|&p| pools.is_stratum_port(p)) {
        return Some(format!("stratum port {p}"));
    }
    let lead = &hay[hit.host_start.saturating_sub(16)..hit.host_start];
    if lead.ends_with(b"://") {
        let scheme = &lead[..lead.len() - 3];
        if let Some(i) = find_ci(scheme, b"stratum") {
            return Some(format!(
                "scheme {}",
                String::from_utf8_lossy(&scheme[i..]).to_ascii_lowercase()
            ));
        }
    }
    let window = &hay[hit.host_start.saturating_sub(NEAR)..(hit.end + NEAR).min(hay.len())];
    MINER_KEYS
        .iter()
        .find(|k| find_ci(window, k.as_bytes()).is_some())
        .map(|k| format!("near `{}`", k.trim()))
}

/// ASCII case-insensitive search.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Every stratum URL in `text` (`stratum+tcp://host:port`, `stratum2+ssl://…`), as written.
pub(crate) fn stratum_urls(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = find_ci(&b[from..], b"stratum").map(|i| i + from) {
        from = i + 7;
        if i > 0 && b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut j = i + 7;
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if b.get(j) != Some(&b'+') {
            continue;
        }
        let scheme_end = b[j + 1..]
            .iter()
            .position(|c| !c.is_ascii_alphabetic())
            .map_or(b.len(), |k| j + 1 + k);
        if !(2..=5).contains(&(scheme_end - j - 1)) || !b[scheme_end..].starts_with(b"://") {
            continue;
        }
        let host_start = scheme_end + 3;
        let end = b[host_start..]
            .iter()
            .position(|&c| !(is_label_byte(c) || c == b'.' || c == b':'))
            .map_or(b.len(), |k| host_start + k);
        if end > host_start {
            out.push(&text[i..end]);
            from = end;
        }
    }
    out
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Every Monero address in `text`: a whole base58 word of 95 characters starting `4` or `8`
/// (standard and subaddress), or 106 starting `4` (integrated), whose second character is
/// one the network prefix allows (`1`–`9`, `A`, `B`).
pub(crate) fn monero_wallets(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !BASE58.contains(&b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && BASE58.contains(&b[i]) {
            i += 1;
        }
        let word = &text[start..i];
        let w = word.as_bytes();
        let second_ok = w.len() > 1 && matches!(w[1], b'1'..=b'9' | b'A' | b'B');
        let shape_ok = match w.len() {
            95 => matches!(w[0], b'4' | b'8'),
            106 => w[0] == b'4',
            _ => false,
        };
        // A base58 run glued to other word characters is part of something longer.
        let glued = start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_')
            || b.get(i)
                .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
        if shape_ok && second_ok && !glued {
            out.push(word);
        }
    }
    out
}

/// Flags only XMRig (and its forks) take.
const XMRIG_FLAGS: &[&str] = &[
    "--donate-level",
    "--donate-over-proxy",
    "--randomx-1gb-pages",
    "--randomx-mode",
    "--randomx-no-numa",
    "--randomx-init",
    "--cpu-max-threads-hint",
    "--max-cpu-usage",
    "--rig-id",
    "--nicehash",
];

/// Flags whose value is a mining algorithm.
const ALGO_FLAGS: &[&str] = &["-a", "--algo", "--algorithm"];
/// Flags whose value is a coin.
const COIN_FLAGS: &[&str] = &["--coin", "--currency"];
/// Flags whose value is a pool address.
const POOL_FLAGS: &[&str] = &["-o", "--url", "--pool", "-pool", "--server", "-s"];

/// Mining algorithm names as miners spell them (XMRig, xmr-stak, cpuminer-opt, T-Rex,
/// lolMiner, NBMiner, SRBMiner, gminer). Generic hash names (sha256, scrypt, blake3) are
/// left out: other tools take them too.
const ALGOS: &[&str] = &[
    "rx/0",
    "rx/wow",
    "rx/arq",
    "rx/graft",
    "rx/sfx",
    "rx/keva",
    "rx/yada",
    "randomx",
    "randomxmonero",
    "randomwow",
    "randomarq",
    "cn/0",
    "cn/1",
    "cn/2",
    "cn/r",
    "cn/fast",
    "cn/half",
    "cn/xao",
    "cn/rto",
    "cn/rwz",
    "cn/zls",
    "cn/double",
    "cn/ccx",
    "cn/upx2",
    "cn-lite/0",
    "cn-lite/1",
    "cn-heavy/0",
    "cn-heavy/tube",
    "cn-heavy/xhv",
    "cn-pico",
    "cn-pico/tlo",
    "cryptonight",
    "cryptonight-lite",
    "cryptonight-heavy",
    "cryptonight_r",
    "cryptonightr",
    "cryptonight_v7",
    "cryptonight-monerov7",
    "argon2/chukwa",
    "argon2/chukwav2",
    "argon2/ninja",
    "astrobwt",
    "astrobwt/v2",
    "kawpow",
    "ethash",
    "etchash",
    "autolykos2",
    "ghostrider",
    "progpow",
    "firopow",
    "octopus",
    "beamhash",
    "cuckatoo32",
    "cuckaroo29",
    "kheavyhash",
    "karlsenhash",
    "verushash",
    "yespower",
    "yespowerr16",
    "yescrypt",
    "yescryptr16",
    "lyra2z",
    "lyra2rev2",
    "lyra2rev3",
    "x16r",
    "x16rv2",
    "x25x",
];

/// Coins as miners' `--coin` flags name them.
const COINS: &[&str] = &[
    "monero",
    "xmr",
    "wownero",
    "arqma",
    "keva",
    "ravencoin",
    "rvn",
    "zephyr",
    "dero",
    "kaspa",
    "ergo",
    "firo",
    "beam",
    "grin",
    "conflux",
    "raptoreum",
    "salvium",
    "ethereumclassic",
];

/// Miner flags in a command's words, each as `flag value` evidence. A flag counts when only
/// a miner takes it, or when its value is something only miners use (a mining algorithm, a
/// coin, a stratum URL, a listed pool, a host on a stratum port).
pub(crate) fn miner_flags(words: &[&str], pools: &PoolMatcher) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v)),
            _ => (w, None),
        };
        let value = inline.or_else(|| words.get(i + 1).copied());
        let shown = |v: &str| match inline {
            Some(_) => format!("{flag}={v}"),
            None => format!("{flag} {v}"),
        };
        if XMRIG_FLAGS.contains(&flag) {
            out.push(w.to_string());
        } else if let Some(v) = value {
            let lower = v.to_ascii_lowercase();
            let hit = (ALGO_FLAGS.contains(&flag) && ALGOS.contains(&lower.as_str()))
                || (COIN_FLAGS.contains(&flag) && COINS.contains(&lower.as_str()))
                || (POOL_FLAGS.contains(&flag) && is_pool_address(v, pools));
            if hit {
                out.push(shown(v));
                if inline.is_none() {
                    i += 1;
                }
            }
        }
        i += 1;
    }
    out
}

/// A miner's pool argument: a stratum URL, a listed pool, or `host:port` on a stratum port.
fn is_pool_address(v: &str, pools: &PoolMatcher) -> bool {
    if !stratum_urls(v).is_empty() || pools.find(v.as_bytes()).next().is_some() {
        return true;
    }
    let hostport = v.split_once("://").map_or(v, |(_, r)| r);
    let hostport = hostport.split('/').next().unwrap_or_default();
    match hostport.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && host.bytes().all(|b| is_label_byte(b) || b == b'.')
                && port.parse().is_ok_and(|p| pools.is_stratum_port(p))
        }
        None => false,
    }
}

/// `s` made safe to print in one line of a report, at most `max` characters.
pub(crate) fn printable(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: &str) -> IocEntry {
        IocEntry {
            value: v.into(),
            note: "pool".into(),
            source: "https://example.org/".into(),
            file: "ioc/pool-domains.txt".into(),
            line: 1,
        }
    }

    fn matcher() -> PoolMatcher {
        PoolMatcher::new(
            &[
                entry("supportxmr.com"),
                entry("c3pool.com"),
                entry("2miners.com"),
            ],
            [3333, 14444].into_iter().collect(),
        )
    }

    fn found(hay: &str) -> Vec<String> {
        let m = matcher();
        m.find(hay.as_bytes()).map(|h| h.address()).collect()
    }

    #[test]
    fn pool_domains_on_label_boundaries() {
        assert_eq!(
            found("pool.supportxmr.com:3333"),
            ["pool.supportxmr.com:3333"]
        );
        assert_eq!(
            found("\"url\": \"MINE.C3POOL.COM:13333\""),
            ["MINE.C3POOL.COM:13333"]
        );
        assert_eq!(found("see supportxmr.com."), ["supportxmr.com"]);
        assert_eq!(found("xmr.2miners.com/x"), ["xmr.2miners.com"]);
        assert!(found("notsupportxmr.com").is_empty());
        assert!(found("supportxmr.community").is_empty());
        assert!(found("supportxmr.com.example.org").is_empty());
        assert!(found("a12miners.com").is_empty());
        assert!(found("supportxmr-com").is_empty());
    }

    /// The quick test lowercases the bytes in chunks: a domain in any case, across a
    /// chunk boundary, is still found; bytes without one are not handed to the automaton.
    #[test]
    fn pool_domains_in_any_case_across_chunks() {
        let m = matcher();
        assert!(m.quick.is_some(), "no SIMD searcher on this machine");
        let domain = b"Pool.SupportXMR.COM:3333";
        for shift in 0..domain.len() {
            let mut hay = vec![b'x'; crate::SEARCH_CHUNK - shift];
            hay.push(b' ');
            hay.extend_from_slice(domain);
            hay.extend_from_slice(b" trailing text");
            let got: Vec<String> = m.find(&hay).map(|h| h.address()).collect();
            assert_eq!(got, ["Pool.SupportXMR.COM:3333"], "shift {shift}");
        }
        let clean = b"support xmr dot com, c3 pool, two miners".repeat(5000);
        assert!(!m.may_occur(&clean));
        assert!(m.find(&clean).next().is_none());
        assert!(m.may_occur(b"...C3POOL.com..."));
    }

    #[test]
    fn pool_context_tells_addresses_from_mentions() {
        let m = matcher();
        let ctx = |s: &str| {
            let hit = m.find(s.as_bytes()).next().expect("a hit");
            pool_context(s.as_bytes(), &hit, &m)
        };
        assert_eq!(
            ctx("x pool.supportxmr.com:3333 y").as_deref(),
            Some("stratum port 3333")
        );
        assert_eq!(
            ctx("stratum+ssl://mine.c3pool.com:17777").as_deref(),
            Some("scheme stratum+ssl")
        );
        assert_eq!(
            ctx("{\"pools\": [{\"url\": \"mine.c3pool.com\"}]}").as_deref(),
            Some("near `\"pools\"`")
        );
        assert_eq!(
            ctx("block supportxmr.com and c3pool.com at the proxy"),
            None
        );
        assert_eq!(ctx("https://supportxmr.com/#/help/faq"), None);
        assert_eq!(ctx("supportxmr.com:443"), None);
    }

    #[test]
    fn stratum_urls_are_whole() {
        assert_eq!(
            stratum_urls("-o stratum+tcp://203.0.113.7:3333 -u x"),
            ["stratum+tcp://203.0.113.7:3333"]
        );
        assert_eq!(
            stratum_urls("URL=STRATUM2+SSL://pool.example:443/"),
            ["STRATUM2+SSL://pool.example:443"]
        );
        assert!(stratum_urls("stratum protocol docs, stratum+://x, stratum+tcp:/x").is_empty());
        assert!(stratum_urls("substratum+tcp://x").is_empty());
    }

    /// The shape of a Monero address, made up for the tests: nobody's wallet.
    const WALLET: &str = "4ACustomsTestWaetShapeNotAReaAddressMadeUpForTestsCustomsTestWaetShapeNotAReaAddressMadeUpForTe";

    #[test]
    fn monero_wallet_shapes() {
        assert_eq!(WALLET.len(), 95);
        assert_eq!(monero_wallets(&format!("-u {WALLET}.rig1 -p x")), [WALLET]);
        let sub = format!("8{}", &WALLET[1..]);
        assert_eq!(monero_wallets(&sub), [sub.as_str()]);
        // Wrong first or second character, wrong length, glued to more word characters.
        assert!(monero_wallets(&format!("5{}", &WALLET[1..])).is_empty());
        assert!(monero_wallets(&format!("4C{}", &WALLET[2..])).is_empty());
        assert!(monero_wallets(&WALLET[..94]).is_empty());
        assert!(monero_wallets(&format!("x{WALLET}")).is_empty());
        assert!(monero_wallets(&format!("{WALLET}0")).is_empty());
        assert!(monero_wallets(&"4".repeat(64)).is_empty());
    }

    #[test]
    fn miner_flags_need_miner_values() {
        let m = matcher();
        let flags = |s: &str| miner_flags(&s.split_whitespace().collect::<Vec<_>>(), &m);
        assert_eq!(
            flags("./xmrig --donate-level=1 -a rx/0 -o 203.0.113.9:3333 --coin Monero"),
            [
                "--donate-level=1",
                "-a rx/0",
                "-o 203.0.113.9:3333",
                "--coin Monero"
            ]
        );
        assert_eq!(
            flags("kswapd --algo=cryptonight -k"),
            ["--algo=cryptonight"]
        );
        assert_eq!(
            flags("m --url pool.supportxmr.com:443"),
            ["--url pool.supportxmr.com:443"]
        );
        assert_eq!(
            flags("m -o stratum+tcp://x.example:80"),
            ["-o stratum+tcp://x.example:80"]
        );
        // Ordinary commands with the same short flags.
        assert!(flags("curl -o /tmp/x https://example.org:8443/x -a").is_empty());
        assert!(flags("tar -a sha256 -o out.tar --coin flip").is_empty());
        assert!(flags("openssl dgst -sha256 -s host:80").is_empty());
        assert!(flags("nginx -g daemon off;").is_empty());
    }

    #[test]
    fn printable_clips_and_blanks_controls() {
        assert_eq!(printable("a\nb\x1b", 10), "a b ");
        assert_eq!(printable("abcdef", 3), "abc…");
    }
}
