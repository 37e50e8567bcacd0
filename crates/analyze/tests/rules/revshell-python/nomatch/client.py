import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("metrics.example.com", 2003))
s.sendall(b"app.up 1 0\n")
s.close()
os.system("/bin/sh -c true")
