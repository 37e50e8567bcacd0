// Cryptocurrency miner executables, matched by text that survives stripping and renaming:
// help texts, option names, banners and config keys compiled into the binary. File names are
// never used. Every rule requires an ELF header, so documentation about a miner does not match.

rule miner_xmrig {
  meta:
    id = "miner-xmrig"
    title = "XMRig cryptocurrency miner executable"
    severity = "critical"
    confidence = "high"
    attack = "T1496,T1204.003"
    description = "An ELF executable carrying XMRig's command-line help and option names (also true of its many forks and of copies renamed or with the XMRig name patched out). A miner in an image spends the host's CPU for someone else."
    reference = "https://github.com/xmrig/xmrig/blob/master/src/base/kernel/config/usage.h (option names and help text); Debian package xmrig"
  strings:
    $url = "URL of mining server"
    $userpass = "username:password pair for mining server"
    $donate = "--donate-level"
    $donate_help = "donate level, default"
    $donate_proxy = "--donate-over-proxy"
    $rx_pages = "--randomx-1gb-pages"
    $rx_mode = "--randomx-mode"
    $rx_dataset = "RandomX dataset"
    $rig_id = "rig identifier for pool-side statistics"
    $ns = "xmrig::"
  condition:
    uint32(0) == 0x464c457f and ($donate or $donate_help or $donate_proxy) and 4 of them
}

rule miner_xmr_stak {
  meta:
    id = "miner-xmr-stak"
    title = "xmr-stak cryptocurrency miner executable"
    severity = "critical"
    confidence = "high"
    attack = "T1496,T1204.003"
    description = "An ELF executable carrying xmr-stak's banner, its pool configuration template keys or its help text. xmr-stak is a Monero miner often dropped by cryptojacking scripts."
    reference = "https://github.com/fireice-uk/xmr-stak/blob/master/xmrstak/cli/cli-miner.cpp and xmrstak/pools.tpl"
  strings:
    $banner = "fireice_uk and psychocrypt"
    $donation = "Configurable dev donation level is set to"
    $k_pool = "pool_address"
    $k_wallet = "wallet_address"
    $k_nicehash = "use_nicehash"
    $k_weight = "pool_weight"
    $k_tls = "tls_fingerprint"
    $help_user = "pool user name or wallet address"
    $help_nvidia = "--noNVIDIA"
  condition:
    uint32(0) == 0x464c457f and ($banner or $donation or ($k_nicehash and $k_weight)) and 4 of them
}

rule miner_cpuminer {
  meta:
    id = "miner-cpuminer"
    title = "cpuminer / cpuminer-opt (minerd) executable"
    severity = "critical"
    confidence = "high"
    attack = "T1496,T1204.003"
    description = "An ELF executable with the help text of pooler's cpuminer (minerd), cpuminer-opt or a derived CPU miner: the mining-server options together with solo-mining and work-protocol switches that only those miners have."
    reference = "https://github.com/pooler/cpuminer/blob/master/cpu-miner.c and https://github.com/JayDDee/cpuminer-opt (usage text)"
  strings:
    $url = "URL of mining server"
    $userpass = "username:password pair for mining server"
    $c_coinbase = "--coinbase-addr"
    $c_payout = "payout address for solo mining"
    $c_longpoll = "--no-longpoll"
    $c_getwork = "--no-getwork"
    $c_gbt = "--no-gbt"
    $c_stratum = "--no-stratum"
  condition:
    uint32(0) == 0x464c457f and $url and $userpass and 2 of ($c_*)
}

rule miner_lolminer {
  meta:
    id = "miner-lolminer"
    title = "lolMiner GPU miner executable"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1204.003"
    description = "An ELF executable naming lolMiner together with its option descriptions for pools, wallets and dual mining. lolMiner is a closed-source GPU miner; the strings come from its published option list."
    reference = "https://github.com/Lolliedieb/lolMiner-releases (README, options supported by lolMiner)"
  strings:
    $name = "lolMiner"
    $o1 = "Wallet or pool user account to mine on"
    $o2 = "Mining pool to mine on"
    $o3 = "Username or wallet address for the extra connection"
    $o4 = "Ethash stratum mode"
    $o5 = "Pool configuration for extra connection"
    $o6 = "dualmode"
    $o7 = "ethstratum"
  condition:
    uint32(0) == 0x464c457f and $name and 2 of ($o*)
}

rule miner_nbminer {
  meta:
    id = "miner-nbminer"
    title = "NBMiner GPU miner executable"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1204.003"
    description = "An ELF executable naming NBMiner together with its option descriptions (pool URLs, dual-mining pools, dev fee, cuckoo intensity). NBMiner is a closed-source GPU miner; the strings come from its published option list."
    reference = "https://github.com/NebuTech/NBMiner (readme.md, CMD options)"
  strings:
    $name = "NBMiner"
    $o1 = "ETH mining pool when dual mining"
    $o2 = "Change devfee in percentage"
    $o3 = "cuckoo-intensity"
    $o4 = "secondary-url"
    $o5 = "fidelity-timeframe"
    $o6 = "User used in Mining pool"
  condition:
    uint32(0) == 0x464c457f and $name and 2 of ($o*)
}

rule miner_trex {
  meta:
    id = "miner-trex"
    title = "T-Rex GPU miner executable"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1204.003"
    description = "An ELF executable naming T-Rex together with its option descriptions (pool URL schemes, dev-fee DAG handling, watchdog). T-Rex is a closed-source NVIDIA miner; the strings come from its published option list."
    reference = "https://github.com/trexminer/T-Rex (README, full list of command line options)"
  strings:
    $name = "T-Rex"
    $o1 = "URL of the mining pool in the following format"
    $o2 = "Helps avoid DAG rebuilds when switching back from a dev fee session"
    $o3 = "Allocate extra DAG at GPU for specified epoch"
    $o4 = "Username for mining server"
    $o5 = "--api-bind-http"
    $o6 = "--exit-on-connection-lost"
  condition:
    uint32(0) == 0x464c457f and $name and 2 of ($o*)
}

rule miner_srbminer {
  meta:
    id = "miner-srbminer"
    title = "SRBMiner-MULTI miner executable"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1204.003"
    description = "An ELF executable naming SRBMiner together with its CPU/GPU mining option names. SRBMiner-MULTI is a closed-source miner; the strings come from its published parameter list."
    reference = "https://github.com/doktor83/SRBMiner-Multi (Parameters)"
  strings:
    $name = "SRBMiner"
    $o1 = "--algorithm-cpu"
    $o2 = "--cpu-threads-intensity"
    $o3 = "--give-up-limit"
    $o4 = "--disable-gpu"
    $o5 = "--api-rig-name"
    $o6 = "--max-rejected-shares"
    $o7 = "user wallet address"
  condition:
    uint32(0) == 0x464c457f and $name and 2 of ($o*)
}

rule miner_gminer {
  meta:
    id = "miner-gminer"
    title = "GMiner GPU miner executable"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1204.003"
    description = "An ELF executable naming GMiner together with its option names (pool server and port, SSL verification, power-efficiency calculator, electricity cost). GMiner is a closed-source GPU miner; the strings come from its published option list."
    reference = "https://github.com/develsoftware/GMinerRelease (readme.txt, miner options)"
  strings:
    $name = "GMiner"
    $o1 = "ssl_verification"
    $o2 = "electricity_cost"
    $o3 = "mining pool login or wallet address"
    $o4 = "mining pool address"
    $o5 = "templimit"
    $o6 = "share_check"
  condition:
    uint32(0) == 0x464c457f and $name and 3 of ($o*)
}

rule miner_phoenixminer {
  meta:
    id = "miner-phoenixminer"
    title = "PhoenixMiner GPU miner executable"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1204.003"
    description = "An ELF executable naming PhoenixMiner together with its Claymore-style pool and wallet switches. PhoenixMiner is a closed-source Ethash miner; the strings come from its published usage examples."
    reference = "https://github.com/flexpool/PhoenixMiner (README usage examples)"
  strings:
    $name = "PhoenixMiner"
    $o1 = "-epool"
    $o2 = "-ewal"
    $o3 = "-epsw"
    $o4 = "-wal"
    $o5 = "-fanmin"
    $o6 = "-tstop"
    $o7 = "-rmode" nocase
  condition:
    uint32(0) == 0x464c457f and $name and 3 of ($o*)
}
