#!/bin/sh
./PhoenixMiner -pool eth.example.org:4444 -wal 0x9147460980c93629e775783148591b7d0a0cbf2d -worker rig1 -pass x
