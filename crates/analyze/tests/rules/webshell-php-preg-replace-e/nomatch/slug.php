<?php echo preg_replace('/\s+/', '-', strtolower($_GET['title'])); ?>
