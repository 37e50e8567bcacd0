#!/bin/sh
# Stop our own benchmark run.
pkill -f xmrig
rm -f /tmp/bench.log
