"""Tiny real-socket endpoints for the veth tests, run inside a network namespace:
  echo  ADDR PORT          TCP and UDP echo server; replies "peer=IP:PORT|" + data
  tcp   SRC DST PORT MSG   connect from SRC, send MSG, print the reply
  udp   SRC DST PORT MSG [TIMEOUT]   send one datagram from SRC, print the reply
"""
import socket
import sys
import threading


def echo(addr: str, port: int) -> None:
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(64)
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((addr, port))

    def tcp_conn(c: socket.socket, peer) -> None:
        with c:
            data = c.recv(65536)
            c.sendall(f"peer={peer[0]}:{peer[1]}|".encode() + data)

    def tcp_loop() -> None:
        while True:
            c, peer = t.accept()
            threading.Thread(target=tcp_conn, args=(c, peer), daemon=True).start()

    threading.Thread(target=tcp_loop, daemon=True).start()
    print("ready", flush=True)
    while True:
        data, peer = u.recvfrom(65536)
        u.sendto(f"peer={peer[0]}:{peer[1]}|".encode() + data, peer)


def client(kind: str, src: str, dst: str, port: int, msg: str, timeout: float = 5) -> None:
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    if kind == "tcp":
        s.connect((dst, port))
        s.sendall(msg.encode())
        reply = s.recv(65536)
        s.close()
    else:
        s.sendto(msg.encode(), (dst, port))
        reply, frm = s.recvfrom(65536)
        reply = reply + f"|from={frm[0]}:{frm[1]}".encode()
    print(reply.decode(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5],
               float(sys.argv[6]) if len(sys.argv) > 6 else 5)
