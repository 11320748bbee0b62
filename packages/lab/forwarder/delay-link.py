#!/usr/bin/env python3
"""The lab's long leg: a user-space link with one-way delay, order-keeping jitter and a rate cap.

Runs in the lab's router namespace. The kernel routes every IPv4 packet that crosses between the near and
far subnets into one TUN device (policy routing); this program reads each packet, computes when it would
leave a real link, and writes it back into the same TUN then. Re-injected packets arrive with iif = TUN, so
the main routing table sends them on to the other side.

Link model, per direction (netem-like):
  backlog      = bytes still waiting to be serialized = (last_departure - now) * rate
  random loss  with probability loss_pct / 100, before the queue (netem's `loss random`)
  drop-tail    if backlog + size > queue_bytes (rate-capped links only)
  departure    = max(now, last_departure) + size / rate
  delivery     = max(departure + delay + uniform(0, jitter), last_delivery)   # jitter never reorders

Stdlib only. Prints one JSON ready line on stdout once the TUN exists; prints a JSON counters line on
SIGUSR1 and on exit (SIGTERM/SIGINT exit cleanly with status 0).
"""

import argparse
import collections
import ctypes
import fcntl
import ipaddress
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# Largest IPv4 packet; the TUN never hands over more than its MTU anyway.
MAX_PACKET = 65535
# Packets read per wake-up before due packets are written: keeps delivery timely under a flood.
READ_BATCH = 64
# Uncapped links have no bottleneck queue, but the delay line itself is bounded: bytes in flight per direction.
MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024


class Stop(Exception):
    """Raised from the SIGTERM/SIGINT handler to leave the loop wherever it is blocked."""


class Direction:
    def __init__(self, name, delay, jitter, rate_bytes_per_s, queue_bytes, loss, rng):
        self.name = name
        self.delay = delay
        self.jitter = jitter
        self.rate = rate_bytes_per_s
        self.queue_bytes = queue_bytes
        self.loss = loss
        self.rng = rng
        self.last_departure = 0.0
        self.last_delivery = 0.0
        self.in_flight = collections.deque()  # (delivery time, packet), delivery times non-decreasing
        self.in_flight_bytes = 0
        self.packets = 0
        self.bytes = 0
        self.drops = 0
        self.losses = 0

    def accept(self, packet, now):
        """Queues `packet` for delivery, or drops it (drop-tail) when the bottleneck queue is full."""
        size = len(packet)
        if self.loss > 0 and self.rng.random() < self.loss:
            self.losses += 1
            return
        if self.in_flight_bytes + size > MAX_IN_FLIGHT_BYTES:
            self.drops += 1
            return
        departure = now
        if self.rate > 0:
            backlog = max(0.0, self.last_departure - now) * self.rate
            if backlog + size > self.queue_bytes:
                self.drops += 1
                return
            departure = max(now, self.last_departure) + size / self.rate
            self.last_departure = departure
        delivery = departure + self.delay
        if self.jitter > 0:
            delivery += self.rng.uniform(0.0, self.jitter)
        delivery = max(delivery, self.last_delivery)
        self.last_delivery = delivery
        self.in_flight.append((delivery, packet))
        self.in_flight_bytes += size
        self.packets += 1
        self.bytes += size

    def next_due(self):
        return self.in_flight[0][0] if self.in_flight else None

    def deliver_due(self, fd, now):
        while self.in_flight and self.in_flight[0][0] <= now:
            _, packet = self.in_flight.popleft()
            self.in_flight_bytes -= len(packet)
            try:
                os.write(fd, packet)
            except OSError:
                # The stack refused it (e.g. no route any more): a loss on the wire.
                self.drops += 1

    def counters(self):
        return {"packets": self.packets, "bytes": self.bytes, "drops": self.drops, "losses": self.losses, "queued": len(self.in_flight)}


def exit_with_parent():
    """SIGTERM when the process that started us dies (PR_SET_PDEATHSIG): no forwarder outlives a crashed lab owner."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux/glibc: the lab's sweep still removes it


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def ipv4_destination(packet):
    """The destination of an IPv4 packet as an int, or None for anything else (IPv6, runts)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    return int.from_bytes(packet[16:20], "big")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", required=True, help="TUN device name to create (<= 15 chars)")
    parser.add_argument("--near", required=True, help="near-side subnet, CIDR")
    parser.add_argument("--far", required=True, help="far-side subnet, CIDR")
    parser.add_argument("--delay-ms", type=float, default=40.0, help="one-way delay, ms")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="extra delay, uniform 0..jitter, ms")
    parser.add_argument("--rate-mbit", type=float, default=0.0, help="rate each way, Mbit/s; 0 = uncapped")
    parser.add_argument("--queue-bytes", type=int, default=65536, help="bottleneck queue each way, bytes")
    parser.add_argument("--loss-pct", type=float, default=0.0, help="random loss each way, percent of packets")
    parser.add_argument("--seed", type=int, default=None, help="jitter random seed")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    near = ipaddress.ip_network(args.near)
    far = ipaddress.ip_network(args.far)
    rng = random.Random(args.seed)
    rate = args.rate_mbit * 1e6 / 8
    make = lambda name: Direction(name, args.delay_ms / 1000, args.jitter_ms / 1000, rate, args.queue_bytes, args.loss_pct / 100, rng)
    to_far, to_near = make("nearToFar"), make("farToNear")
    directions = (to_far, to_near)
    stray = {"packets": 0}

    def counters():
        body = {d.name: d.counters() for d in directions}
        body["stray"] = stray["packets"]
        return json.dumps({"msg": "counters", **body})

    def on_usr1(_signum, _frame):
        print(counters(), flush=True)

    def on_stop(_signum, _frame):
        raise Stop()

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    exit_with_parent()
    fd = open_tun(args.dev)
    print(json.dumps({"msg": "ready", "dev": args.dev, "pid": os.getpid()}), flush=True)
    near_lo, near_mask = int(near.network_address), int(near.netmask)
    far_lo, far_mask = int(far.network_address), int(far.netmask)
    clock, read = time.monotonic, os.read
    try:
        while True:
            dues = [t for t in (to_far.next_due(), to_near.next_due()) if t is not None]
            timeout = max(0.0, min(dues) - clock()) if dues else None
            readable, _, _ = select.select([fd], [], [], timeout)
            if readable:
                # One clock reading per batch: the batch drained the TUN's queue within microseconds.
                now = clock()
                for _ in range(READ_BATCH):
                    try:
                        packet = read(fd, MAX_PACKET)
                    except BlockingIOError:
                        break
                    destination = ipv4_destination(packet)
                    if destination is not None and destination & far_mask == far_lo:
                        to_far.accept(packet, now)
                    elif destination is not None and destination & near_mask == near_lo:
                        to_near.accept(packet, now)
                    else:
                        stray["packets"] += 1
            now = clock()
            for direction in directions:
                direction.deliver_due(fd, now)
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        print(counters(), flush=True)
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
