<?php
$uptime = shell_exec('uptime');
$page = (int) $_GET['page'];
echo htmlspecialchars($uptime) . " page " . $page;
