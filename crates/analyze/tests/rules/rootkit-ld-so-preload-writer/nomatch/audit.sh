#!/bin/sh
# Report a non-empty preload file; never change it.
if [ -s /etc/ld.so.preload ]; then
  echo "WARNING: /etc/ld.so.preload is set:"; cat /etc/ld.so.preload
fi
