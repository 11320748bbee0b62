"""Opens COUNT connections to HOST:PORT with a tiny receive buffer, sends REQUEST on each and never reads:
the kernel takes almost nothing, so the gateway behind holds what it sent. Prints "ready" once all are
sent; exits when stdin closes. (Python: Node's net cannot set SO_RCVBUF.)"""
import socket, sys

host, port, count, request = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode().decode('unicode_escape').encode('latin1')
held = []
for i in range(count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((f'127.0.0.{2 + i % 4}', 0))  # under the front-end's per-source head limit
    s.connect((host, port))
    s.sendall(request)
    held.append(s)
print('ready', flush=True)
sys.stdin.read()
