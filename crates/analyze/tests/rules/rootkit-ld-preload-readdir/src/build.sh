#!/bin/sh
# Rebuilds the shared-object samples from the sources beside this script.
set -eu
cd "$(dirname "$0")"
gcc -shared -fPIC -O2 -s -o ../match/hide-readdir.so hide-readdir.c -ldl
# Not stripped: the names also sit in .symtab/.strtab.
gcc -shared -fPIC -O2 -o ../match/hide-readdir-unstripped.so hide-readdir.c -ldl
gcc -shared -fPIC -O2 -s -o ../nomatch/log-fopen.so log-fopen.c -ldl
