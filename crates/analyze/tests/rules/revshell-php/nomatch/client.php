<?php
$fp = fsockopen("www.example.com", 80, $errno, $errstr, 30);
fwrite($fp, "GET / HTTP/1.0\r\nHost: www.example.com\r\n\r\n");
echo fgets($fp);
exec("/bin/ls");
