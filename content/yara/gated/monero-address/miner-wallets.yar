// Monero wallet addresses, alone and next to a mining pool.
//
// These rules sit under `gated/monero-address/`: the engine runs them only on a file that
// holds a word of exactly 95 or 106 letters, digits or underscores starting with 4 or 8
// (see `crates/content/src/gates.rs`), which every match of `$addr` and `$integrated` is.
// An address has no literal in it, so yara-x can only anchor these patterns on two-byte
// atoms ("40", "8A", ...) that occur every few hundred bytes of ordinary files; in the main
// bundle the two rules took 0.30 s of the 1.40 s the bundle spends on the benchmark image.

rule miner_wallet_monero {
  meta:
    id = "miner-wallet-monero"
    title = "Monero wallet address"
    severity = "low"
    confidence = "medium"
    attack = "T1496"
    description = "A string shaped like a Monero address (95 base58 characters starting with 4 or 8, or a 106-character integrated address). Cryptojacking payloads carry the attacker's wallet; alone it is only a hint."
    reference = "https://monerodocs.org/public-address/standard-address/ and https://monerodocs.org/public-address/subaddress/"
  strings:
    $addr = /\b[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}\b/
    $integrated = /\b4[0-9AB][1-9A-HJ-NP-Za-km-z]{104}\b/
  condition:
    $addr or $integrated
}

rule miner_wallet_with_pool {
  meta:
    id = "miner-wallet-with-pool"
    title = "Monero wallet address together with a mining pool"
    severity = "high"
    confidence = "high"
    attack = "T1496"
    description = "A Monero address in the same file as a stratum URL, a miner's pool setting or a well-known Monero pool host: the payout half of a miner configuration."
    reference = "https://monerodocs.org/public-address/standard-address/; pool hosts from the pools' own sites (supportxmr.com, moneroocean.stream, c3pool.com, hashvault.pro, nanopool.org, 2miners.com, herominers.com, f2pool.com, minexmr.com, xmrpool.eu, minergate.com, unmineable.com, nicehash.com)"
  strings:
    $addr = /\b[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}\b/
    $stratum = /stratum[12]?\+(tcp|ssl|tls):\/\//
    $pool_key = /"(url|pool_address|pool)"\s*:\s*"[A-Za-z0-9.+:\/-]+:[0-9]{2,5}"/
    $pool_flag = /(^|[\s"'])(-o|--url|--pool|-pool|--server)[ =]+["']?[A-Za-z0-9.+:\/-]+:[0-9]{2,5}/
    $p1 = "supportxmr.com" nocase
    $p2 = "moneroocean.stream" nocase
    $p3 = "c3pool.com" nocase
    $p4 = "hashvault.pro" nocase
    $p5 = "nanopool.org" nocase
    $p6 = "2miners.com" nocase
    $p7 = "herominers.com" nocase
    $p8 = "f2pool.com" nocase
    $p9 = "minexmr.com" nocase
    $p10 = "xmrpool.eu" nocase
    $p11 = "minergate.com" nocase
    $p12 = "unmineable.com" nocase
    $p13 = "nicehash.com" nocase
  condition:
    $addr and ($stratum or $pool_key or $pool_flag or any of ($p*))
}
