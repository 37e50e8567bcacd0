// Miner configuration in every common shape: XMRig and xmr-stak config files, miner command
// lines in scripts and stratum pool URLs. The wallet-address rules are in
// gated/monero-address/miner-wallets.yar.

rule miner_config_xmrig_json {
  meta:
    id = "miner-config-xmrig-json"
    title = "XMRig JSON configuration"
    severity = "high"
    confidence = "high"
    attack = "T1496"
    description = "A JSON file with XMRig's configuration shape: a 'pools' list with 'url' and 'user', plus XMRig-only keys ('donate-level', 'randomx') or a stratum pool URL. It tells a miner where to send work and whom to pay."
    reference = "https://xmrig.com/docs/miner/config and https://github.com/xmrig/xmrig/blob/master/src/config.json"
  strings:
    $pools = /"pools"\s*:\s*\[/
    $url = /"url"\s*:\s*"/
    $user = /"user"\s*:\s*"/
    $donate = /"donate-level"\s*:/
    $randomx = /"randomx"\s*:\s*\{/
    $stratum = /"url"\s*:\s*"stratum[12]?\+(tcp|ssl|tls):\/\//
  condition:
    $pools and $url and $user and ($donate or $randomx or $stratum)
}

rule miner_config_xmr_stak {
  meta:
    id = "miner-config-xmr-stak"
    title = "xmr-stak pool configuration"
    severity = "high"
    confidence = "high"
    attack = "T1496"
    description = "An xmr-stak pools file: a 'pool_list' whose entries carry 'pool_address' and 'wallet_address' with xmr-stak's own keys (nicehash, TLS fingerprint, pool weight)."
    reference = "https://github.com/fireice-uk/xmr-stak/blob/master/xmrstak/pools.tpl"
  strings:
    $list = /"pool_list"\s*:\s*\[/
    $address = /"pool_address"\s*:\s*"/
    $wallet = /"wallet_address"\s*:\s*"/
    $k1 = /"use_nicehash"\s*:/
    $k2 = /"pool_weight"\s*:/
    $k3 = /"tls_fingerprint"\s*:/
    $k4 = /"pool_password"\s*:/
  condition:
    $list and $address and $wallet and 1 of ($k*)
}

rule miner_cmdline_pool {
  meta:
    id = "miner-cmdline-pool"
    title = "Miner command line with a pool and a user or wallet"
    severity = "high"
    confidence = "high"
    attack = "T1496,T1059.004"
    description = "A command line (script, unit file, crontab, entrypoint) that starts a miner: a stratum pool URL given with -o/--url/--pool next to a -u/--user/--wallet account, or a pool host:port with XMRig's --donate-level, or a pool given with a Monero or Ethereum wallet."
    reference = "https://xmrig.com/docs/miner/command-line-options; https://github.com/pooler/cpuminer; https://github.com/trexminer/T-Rex; https://github.com/flexpool/PhoenixMiner"
  strings:
    $stratum_then_user = /(^|[\s"'])(-o|--url|--pool|-pool|-epool|-P|--server)[ =]+["']?(stratum[12]?\+(tcp|ssl|tls)|ethproxy\+(tcp|ssl)|nicehash\+(tcp|ssl)|stratum):\/\/[^\s"']+[^\n]{0,300}[\s"'](-u|--user|-O|--userpass|--wallet|-wal|-ewal)[ =]+["']?[A-Za-z0-9._:@+\/-]{6,}/
    $user_then_stratum = /(^|[\s"'])(-u|--user|-O|--userpass|--wallet|-wal|-ewal)[ =]+["']?[A-Za-z0-9._:@+\/-]{6,}[^\n]{0,300}[\s"'](-o|--url|--pool|-pool|-epool|-P|--server)[ =]+["']?(stratum[12]?\+(tcp|ssl|tls)|ethproxy\+(tcp|ssl)|nicehash\+(tcp|ssl)|stratum):\/\//
    $donate_flag = /(^|[\s"'])--donate-level[ =]+[0-9]/
    $hostport_flag = /(^|[\s"'])(-o|--url)[ =]+["']?[A-Za-z0-9.-]+\.[A-Za-z]{2,}:[0-9]{2,5}/
    $pool_wallet = /(^|[\s"'])(-o|--url|--pool|-pool|-epool|--server)[ =]+["']?[A-Za-z0-9.+:\/-]+:[0-9]{2,5}[^\n]{0,300}[\s"'](-u|--user|--wallet|-wal|-ewal)[ =]+["']?(4[0-9AB][1-9A-HJ-NP-Za-km-z]{93}|0x[0-9a-fA-F]{40})/
  condition:
    $stratum_then_user or $user_then_stratum or ($donate_flag and $hostport_flag) or $pool_wallet
}

rule miner_stratum_url {
  meta:
    id = "miner-stratum-url"
    title = "Stratum mining pool URL"
    severity = "medium"
    confidence = "medium"
    attack = "T1496"
    description = "A stratum URL with a host and a port (stratum+tcp, stratum+ssl, stratum2+tcp, ...): the protocol miners speak to pools. Alone it may be documentation or a pool's own software, so it is medium; with a wallet or a miner command line other rules raise it."
    reference = "https://en.bitcoin.it/wiki/Stratum_mining_protocol"
  strings:
    $url = /stratum[12]?\+(tcp|ssl|tls):\/\/[A-Za-z0-9_.-]{3,253}:[0-9]{2,5}/ nocase
  condition:
    $url
}
