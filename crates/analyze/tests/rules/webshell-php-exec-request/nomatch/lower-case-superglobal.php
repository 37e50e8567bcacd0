<?php
// $_Get is not $_GET: variable names are case-sensitive in PHP.
$_Get = ['c' => 'uptime'];
system($_Get['c']);
