use IO::Socket::INET;
my $s = IO::Socket::INET->new(PeerAddr => 'metrics.example.com', PeerPort => 2003, Proto => 'tcp');
print $s "app.up 1 0\n";
close $s;
system("/bin/sh", "-c", "true");
