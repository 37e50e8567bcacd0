// Attack toolkits seen against containers and cloud hosts. Names and strings are facts from
// the public reports cited in each rule; every rule also asks for an action (a download, a
// kill, an uninstall, a compiled bot table), so a report or a clean-up note quoting the
// names does not match.

rule toolkit_kinsing {
  meta:
    id = "toolkit-kinsing"
    title = "Kinsing malware or its loader script"
    severity = "critical"
    confidence = "high"
    attack = "T1496,T1105,T1204.003"
    description = "Kinsing's loader fetching or starting its agent (kinsing) or its XMRig-based miner (kdevtmpfsi), or the Go agent itself with its scanner, Redis brute-force and back-connect functions. Kinsing mines Monero on exposed Docker and Kubernetes hosts."
    reference = "Aqua Security, Threat Alert: Kinsing Malware Attacks Targeting Container Environments (2020); Microsoft Security, Cryptojacking attacks target Kubernetes (2021)"
  strings:
    $fetch = /(wget|curl)[^\n]{0,200}\b(kinsing|kdevtmpfsi)\b/
    $chmod = /chmod\s+[0-7+a-z]+\s+[^\n]{0,60}\b(kinsing|kdevtmpfsi)\b/
    $go_masscan = "main.masscan"
    $go_redis = "main.redisBrute"
    $go_backconnect = "main.backconnect"
    $go_miner = "main.minerRunningCheck"
  condition:
    $fetch or $chmod or (uint32(0) == 0x464c457f and 3 of ($go_*))
}

rule toolkit_teamtnt {
  meta:
    id = "toolkit-teamtnt"
    title = "TeamTNT script"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1552.001,T1105"
    description = "A script that names TeamTNT (its banner or its teamtnt.red infrastructure) and steals cloud or Docker credentials, scans for Docker APIs, or sets up a miner. TeamTNT is a cryptojacking group that spreads through exposed Docker and Kubernetes APIs."
    reference = "Cado Security, Team TNT - The First Crypto-Mining Worm to Steal AWS Credentials (2020)"
  strings:
    $name = "teamtnt" nocase
    $aws = /(cat|cp|tar|grep|curl[^\n]{0,120}-F)[^\n]{0,60}\.aws\/(credentials|config)\b/
    $docker_cfg = /(cat|cp|tar|grep|curl[^\n]{0,120}-F)[^\n]{0,60}\.docker\/config\.json\b/
    $masscan = /masscan[^\n]{0,80}(2375|2376|2377|10250|6443)/
    $docker_api = /docker\s+-H\s+(tcp:\/\/)?\$?[A-Za-z0-9_.{}]+:(2375|2376)/
    $miner = /(xmrig|stratum\+tcp|donate-level)/
    $sshkeys = /(cat|cp|grep)[^\n]{0,60}\.ssh\/id_rsa\b/
  condition:
    $name and 1 of ($aws, $docker_cfg, $masscan, $docker_api, $miner, $sshkeys)
}

rule toolkit_watchdogs {
  meta:
    id = "toolkit-watchdogs"
    title = "Watchdogs cryptojacking worm"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1574.006,T1014"
    description = "Two or more of the Watchdogs worm's own artefacts: its dropper path /tmp/watchdogs, its miner process name ksoftirqds, its kthrotlds helper, or its libioset.so preload rootkit. Watchdogs mines Monero and hides through /etc/ld.so.preload."
    reference = "Alibaba Cloud Security, Countrywide Spread of Database-Cracking Watchdogs Mining Worm: Issues and Countermeasures (2019)"
  strings:
    $dropper = "/tmp/watchdogs"
    $miner = /\bksoftirqds\b/
    $helper = /\bkthrotlds\b/
    $rootkit = "libioset.so"
  condition:
    2 of them
}

rule toolkit_graboid {
  meta:
    id = "toolkit-graboid"
    title = "Graboid Docker worm"
    severity = "critical"
    confidence = "medium"
    attack = "T1496,T1610,T1204.003"
    description = "A docker command that runs Graboid's worm images (pocosow/centos, gakeaws/nginx) on a host. Graboid spread through unsecured Docker daemons and mined Monero from containers."
    reference = "Palo Alto Networks Unit 42, Graboid: First-Ever Cryptojacking Worm Found in Images on Docker Hub (2019)"
  strings:
    $run = /docker[^\n]{0,200}\b(pocosow\/centos|gakeaws\/nginx)\b/
  condition:
    $run
}

rule toolkit_sustes {
  meta:
    id = "toolkit-sustes"
    title = "Sustes miner loader"
    severity = "high"
    confidence = "medium"
    attack = "T1496,T1105"
    description = "A script that downloads or starts the sustes miner (an XMRig build used by the Rocke-linked campaigns), usually from /var/tmp with a cron job to keep it running."
    reference = "Cisco Talos, Rocke: The Champion of Monero Miners (2018); Unit 42, Malware Used by Rocke Group Evolves to Evade Detection by Cloud Security Products (2019)"
  strings:
    $fetch = /(wget|curl)[^\n]{0,200}\bsustes\b/
    $start = /(nohup|chmod\s+[0-7+a-z]+)\s+[^\n]{0,40}\/sustes\b/
  condition:
    $fetch or $start
}

rule toolkit_cloud_agent_removal {
  meta:
    id = "toolkit-cloud-agent-removal"
    title = "Script that removes cloud security agents"
    severity = "high"
    confidence = "high"
    attack = "T1562.001"
    description = "A script that uninstalls or kills cloud providers' host security agents (Alibaba Cloud Aegis/AliYunDun, Tencent Cloud YunJing and monitoring agents). First seen in the Rocke group's scripts and copied by Kinsing, TeamTNT and WatchDog; no clean image needs it."
    reference = "Palo Alto Networks Unit 42, Malware Used by Rocke Group Evolves to Evade Detection by Cloud Security Products (2019)"
  strings:
    $u1 = "aegis.aliyun.com/download/uninstall.sh"
    $u2 = "aegis.aliyun.com/download/quartz_uninstall.sh"
    $u3 = "/usr/local/qcloud/YunJing/uninst.sh"
    $u4 = "/usr/local/qcloud/stargate/admin/uninstall.sh"
    $u5 = "/usr/local/qcloud/monitor/barad/admin/uninstall.sh"
    $k1 = /(pkill|killall|kill\s+-9|rm\s+-[rf]+)[^\n]{0,60}(aliyun-service|AliYunDun|\/usr\/local\/aegis|YDService|YunJing|agentwatch)/
  condition:
    2 of ($u*) or (1 of ($u*) and $k1) or #k1 >= 2
}

rule toolkit_rival_miner_killer {
  meta:
    id = "toolkit-rival-miner-killer"
    title = "Script that kills rival miners"
    severity = "high"
    confidence = "medium"
    attack = "T1496,T1489"
    description = "A script that kills or deletes several known miners and botnet agents by name, or kills whatever talks to common mining pool ports: the competitor clean-up that Kinsing, TeamTNT, WatchDog and Rocke run before starting their own miner."
    reference = "Aqua Security, Threat Alert: Kinsing Malware Attacks Targeting Container Environments (2020); Trend Micro, analysis of Coinminer.Linux.MALXMR.UWEIU, a miner script that kills rival miners (2019)"
  strings:
    $kill = /(pkill|killall|kill\s+-9|xargs\s+(-I\s*\S+\s+)?kill|rm\s+-[rf]+)[^\n]{0,100}\b(xmrig|xmr-stak|minerd|kdevtmpfsi|kinsing|kthreaddi|kthreaddk|sysupdate|networkservice|sysguard|watchbog|ksoftirqds|kworkerds|cryptonight|sustes|dbused|minexmr|supportxmr|nanopool)\b/
    $port_kill = /netstat\s+-[a-z]+\s*\|\s*grep[^\n]{0,40}:(3333|4444|5555|6666|7777|14444|14433|45560)\b[^\n]{0,160}(kill|xargs)/
  condition:
    #kill >= 4 or #port_kill >= 2
}

rule toolkit_gafgyt {
  meta:
    id = "toolkit-gafgyt"
    title = "Gafgyt (Bashlite) IoT bot"
    severity = "critical"
    confidence = "high"
    attack = "T1498,T1204.003"
    description = "An ELF file with Gafgyt/Bashlite bot commands (KILLATTK, LOLNOGTFO, GETLOCALIP, HTTPFLOOD) and flood strings. Gafgyt variants are DDoS bots that also infect containers and cloud hosts."
    reference = "Bashlite/Gafgyt source code as leaked in 2015 and reused by its variants (bot commands KILLATTK, LOLNOGTFO, GETLOCALIP, HTTPFLOOD)"
  strings:
    $c1 = "KILLATTK"
    $c2 = "LOLNOGTFO"
    $c3 = "GETLOCALIP"
    $c4 = "HTTPFLOOD"
    $c5 = "TSource Engine Query"
    $c6 = "GTFOFAG"
    $c7 = /Flooding %s(:%d)?/
  condition:
    uint32(0) == 0x464c457f and 3 of them
}
