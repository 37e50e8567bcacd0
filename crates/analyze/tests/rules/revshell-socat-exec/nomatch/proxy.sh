#!/bin/sh
socat TCP-LISTEN:8080,fork,reuseaddr TCP:app.internal:80 &
socat exec:"mail.sh target@example.com",fdin=3,fdout=4 tcp:mail.example.com:25,crlf
