#!/bin/bash
# Health check without curl: open a TCP connection and send one request.
exec 3<>/dev/tcp/127.0.0.1/8080
echo -e "GET /health HTTP/1.0\r\n\r\n" >&3
grep -q "200 OK" <&3
