// Webshells: server-side code that runs what an HTTP request sends. Each rule asks for the
// dangerous call and the request input in the same expression, so code that evaluates
// constants or runs fixed commands does not match.

rule webshell_php_eval_request {
  meta:
    id = "webshell-php-eval-request"
    title = "PHP webshell: eval/assert of request input"
    severity = "high"
    confidence = "high"
    attack = "T1505.003,T1059"
    description = "PHP code that passes request input ($_GET, $_POST, $_REQUEST, $_COOKIE, $_SERVER) to eval, assert or create_function, directly or through a decoding wrapper: a one-line backdoor that runs any code the caller sends."
    reference = "https://www.php.net/manual/en/function.eval.php; MITRE ATT&CK T1505.003 Web Shell"
  strings:
    $eval = /\b([eE][vV][aA][lL]|[aA][sS][sS][eE][rR][tT]|[cC][rR][eE][aA][tT][eE]_[fF][uU][nN][cC][tT][iI][oO][nN])\s*\(\s*(@?\s*[A-Za-z0-9_]{2,20}\s*\(\s*){0,3}@?\s*\$_(GET|POST|REQUEST|COOKIE|SERVER)\b/
  condition:
    $eval
}

rule webshell_php_exec_request {
  meta:
    id = "webshell-php-exec-request"
    title = "PHP webshell: shell command from request input"
    severity = "high"
    confidence = "high"
    attack = "T1505.003,T1059.004"
    description = "PHP code that passes request input to system, exec, shell_exec, passthru, popen, proc_open or pcntl_exec, or into backticks: a command-execution webshell."
    reference = "https://www.php.net/manual/en/ref.exec.php; MITRE ATT&CK T1505.003 Web Shell"
  strings:
    $call = /\b([sS][yY][sS][tT][eE][mM]|[eE][xX][eE][cC]|[sS][hH][eE][lL][lL]_[eE][xX][eE][cC]|[pP][aA][sS][sS][tT][hH][rR][uU]|[pP][oO][pP][eE][nN]|[pP][rR][oO][cC]_[oO][pP][eE][nN]|[pP][cC][nN][tT][lL]_[eE][xX][eE][cC])\s*\(\s*(@?\s*[A-Za-z0-9_]{2,20}\s*\(\s*){0,3}@?\s*\$_(GET|POST|REQUEST|COOKIE|SERVER)\b/
    $backtick = /`[^`\n]{0,20}\$_(GET|POST|REQUEST|COOKIE)\[/
  condition:
    $call or $backtick
}

rule webshell_php_preg_replace_e {
  meta:
    id = "webshell-php-preg-replace-e"
    title = "PHP webshell: preg_replace /e with request input"
    severity = "high"
    confidence = "medium"
    attack = "T1505.003,T1027"
    description = "preg_replace with the /e modifier (which evaluates the replacement as PHP) fed with request input: an old, disguised eval backdoor."
    reference = "https://www.php.net/manual/en/reference.pcre.pattern.modifiers.php (the e modifier, removed in PHP 7)"
  strings:
    $pe = /preg_replace\s*\(\s*["'][\/#~|!@%][^"'\n]{0,200}[\/#~|!@%][imsxuADSUXJ]*e[imsxuADSUXJ]*["']\s*,[^;\n]{0,200}\$_(GET|POST|REQUEST|COOKIE)\b/
  condition:
    $pe
}

rule webshell_php_decode_eval {
  meta:
    id = "webshell-php-decode-eval"
    title = "PHP eval of an encoded payload"
    severity = "high"
    confidence = "medium"
    attack = "T1505.003,T1027,T1140"
    description = "PHP that evaluates a long encoded blob through base64_decode, gzinflate, gzuncompress, str_rot13 or strrev: the packing used by most PHP webshells and injected backdoors to hide their code."
    reference = "https://www.php.net/manual/en/function.eval.php; MITRE ATT&CK T1027 Obfuscated Files or Information"
  strings:
    $chain = /\b(eval|assert)\s*\(\s*(@?\s*(base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|strrev|convert_uudecode|hex2bin)\s*\(\s*){1,4}["'][A-Za-z0-9+\/=\\]{200}/ nocase
  condition:
    $chain
}

rule webshell_jsp_runtime_exec {
  meta:
    id = "webshell-jsp-runtime-exec"
    title = "JSP webshell: Runtime.exec of a request parameter"
    severity = "high"
    confidence = "high"
    attack = "T1505.003,T1059"
    description = "JSP or Java code that runs a request parameter as an operating-system command through Runtime.getRuntime().exec or ProcessBuilder, directly or through a variable assigned just before."
    reference = "https://docs.oracle.com/javase/8/docs/api/java/lang/Runtime.html#exec-java.lang.String-; MITRE ATT&CK T1505.003 Web Shell"
  strings:
    $direct = /(Runtime\.getRuntime\(\)\.exec|new\s+ProcessBuilder)\s*\(\s*(new\s+String\s*\[\]\s*\{[^}]{0,80})?request\.getParameter\s*\(/
    $two_step = /=\s*request\.getParameter\s*\(\s*"[A-Za-z0-9_]{1,20}"\s*\)\s*;.{0,300}(Runtime\.getRuntime\(\)\.exec|new\s+ProcessBuilder)\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*[,)]/s
  condition:
    $direct or $two_step
}

rule webshell_aspx_process_start {
  meta:
    id = "webshell-aspx-process-start"
    title = "ASP.NET webshell: Process.Start with request input"
    severity = "high"
    confidence = "high"
    attack = "T1505.003,T1059.003"
    description = "An ASP.NET page that starts cmd.exe, powershell or /bin/sh (Process.Start / ProcessStartInfo) with arguments taken from Request."
    reference = "https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.process.start; MITRE ATT&CK T1505.003 Web Shell"
  strings:
    $page = /<%@\s*([pP][aA][gG][eE]|[wW][eE][bB][hH][aA][nN][dD][lL][eE][rR])/
    $proc = /(Process\.Start|ProcessStartInfo)\s*\(/
    $shell = /(cmd\.exe|cmd|powershell(\.exe)?|\/bin\/(ba)?sh)["']/ nocase
    $req = /Request(\.Form|\.QueryString|\.Params)?\s*[\[(]\s*"[A-Za-z0-9_]{1,20}"\s*[\])]/
  condition:
    $page and $proc and $shell and $req
}

rule webshell_python_exec_request {
  meta:
    id = "webshell-python-exec-request"
    title = "Python web handler running request input as a command"
    severity = "high"
    confidence = "medium"
    attack = "T1505.003,T1059.006"
    description = "Python that hands Flask, Django or similar request input (request.args, request.form, request.GET, ...) to os.system, os.popen, subprocess or eval/exec: a webshell or a command-injection backdoor."
    reference = "https://docs.python.org/3/library/subprocess.html#security-considerations; MITRE ATT&CK T1505.003 Web Shell"
  strings:
    $exec = /\b(os\.system|os\.popen|subprocess\.(call|run|Popen|check_output|getoutput|getstatusoutput)|eval|exec)\s*\(\s*[^)\n]{0,60}\brequest\.(args|form|values|GET|POST|json|data|query_params|cookies)\b/
  condition:
    $exec
}
