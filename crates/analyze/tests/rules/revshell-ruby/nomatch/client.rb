require 'socket'
s = TCPSocket.open("metrics.example.com", 2003)
s.puts "app.up 1 0"
s.close
