#!/bin/sh
mkfifo /tmp/logpipe
tail -f /tmp/logpipe | logger -t app &
exec app > /tmp/logpipe 2>&1
