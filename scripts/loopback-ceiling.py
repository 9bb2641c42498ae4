#!/usr/bin/env python3
"""Loopback TCP ceiling of this machine, for reading BENCHMARKS.md.

A sender thread writes 2 GiB from one in-memory 1 MiB buffer to a receiver
reading into one reused 1 MiB buffer, over 127.0.0.1: the fastest any HTTP
download on loopback can go here, whatever the server does. Prints MiB/s.
Talks only to loopback; needs nothing but Python 3.
"""
import socket
import threading
import time

TOTAL = 2 << 30
BUF = 1 << 20


def send_all(listener):
    conn, _ = listener.accept()
    data = memoryview(bytearray(BUF))
    left = TOTAL
    while left:
        left -= conn.send(data[: min(left, BUF)])
    conn.close()


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sender = threading.Thread(target=send_all, args=(listener,))
    sender.start()
    client = socket.create_connection(listener.getsockname())
    buf = bytearray(BUF)
    got = 0
    started = time.monotonic()
    while True:
        n = client.recv_into(buf)
        if n == 0:
            break
        got += n
    elapsed = time.monotonic() - started
    sender.join()
    listener.close()
    print(f"loopback TCP: {got / elapsed / 2**20:.0f} MiB/s ({got >> 20} MiB)")


if __name__ == "__main__":
    main()
