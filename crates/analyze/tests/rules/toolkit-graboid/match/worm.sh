#!/bin/sh
for ip in $(cat /tmp/hosts); do
  docker -H tcp://$ip:2375 run -dt --name worm gakeaws/nginx:v2.0
done
