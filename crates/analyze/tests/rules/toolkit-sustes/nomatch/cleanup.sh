#!/bin/sh
pkill -f sustes
rm -f /var/tmp/sustes /var/tmp/config.json
