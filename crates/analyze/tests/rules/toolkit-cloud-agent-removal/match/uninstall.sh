#!/bin/sh
curl -s http://update.aegis.aliyun.com/download/uninstall.sh | bash
curl -s http://update.aegis.aliyun.com/download/quartz_uninstall.sh | bash
pkill aliyun-service
rm -rf /usr/local/aegis
/usr/local/qcloud/YunJing/uninst.sh
