<?php
$expr = eval('return 6 * 7;');
$name = htmlspecialchars($_GET['name'] ?? 'world');
echo "Hello $name, the answer is $expr";
