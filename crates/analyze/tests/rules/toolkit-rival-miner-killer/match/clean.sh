#!/bin/sh
pkill -f kdevtmpfsi
pkill -f kinsing
killall -9 xmrig
ps aux | grep -v grep | grep sysupdate | awk '{print $2}' | xargs kill -9
rm -rf /tmp/kthreaddi
netstat -anp | grep :3333 | awk '{print $7}' | awk -F'[/]' '{print $1}' | xargs kill -9
netstat -anp | grep :14444 | awk '{print $7}' | awk -F'[/]' '{print $1}' | xargs kill -9
