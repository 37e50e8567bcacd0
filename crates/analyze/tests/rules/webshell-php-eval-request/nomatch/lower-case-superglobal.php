<?php
// Variable names are case-sensitive: $_post is an ordinary (here undefined) variable, not
// the request's POST data.
$_post = ['p' => 'return 1;'];
eval($_post['p']);
