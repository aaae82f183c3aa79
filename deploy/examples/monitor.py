#!/usr/bin/env python3
"""A stemdyn statistics monitor in Python (pyzmq + msgpack + numpy), e.g. for Jupyter.

It follows the same "Clone" protocol as `stemdyn monitor`: subscribe to the PUB
endpoint (topic "stats"), ask the snapshot endpoint for the full state (a
`heartbeat` with role "monitor", state "snapshot"), then apply the PUB deltas
with a larger sequence number.  Wire format: proto/PROTOCOL.md.

    python3 deploy/examples/monitor.py tcp://127.0.0.1:5561 --snapshot tcp://127.0.0.1:5562 --plot out.png

In a notebook:

    from monitor import StatsClient
    c = StatsClient("tcp://127.0.0.1:5561", "tcp://127.0.0.1:5562")
    c.poll(2.0); c.merged()["P"]
"""
import argparse
import sys
import time

import msgpack
import numpy as np
import zmq


def _header(parts):
    return msgpack.unpackb(parts[1], raw=False)


class StatsClient:
    def __init__(self, pub, snapshot, ctx=None):
        self.ctx = ctx or zmq.Context.instance()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt_string(zmq.SUBSCRIBE, "stats")
        self.sub.setsockopt_string(zmq.SUBSCRIBE, "heartbeat.stats")
        self.sub.connect(pub)
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.LINGER, 0)
        self.dealer.connect(snapshot)
        self.runs = {}
        self.seq = 0
        self.synced = False
        self.pending = []
        self._request()

    def _request(self):
        self.synced = False
        self.pending = []
        hdr = {"v": [1, 0], "type": "heartbeat", "ts": time.time_ns(), "sender": "pymonitor",
               "role": "monitor", "state": "snapshot", "t_ns": time.time_ns(), "load": 0.0}
        self.dealer.send_multipart([b"heartbeat", msgpack.packb(hdr)])

    @staticmethod
    def _run(h):
        k = h["k"]
        prog = h.get("progress", {})
        return {
            "run_id": h["run_id"], "k": k, "labels": list(h["labels"]), "frames": h["frames"],
            "counts": np.frombuffer(h["counts"], "<i8").reshape(k, k).copy(),
            "populations": np.frombuffer(h["populations"], "<i8").copy(),
            "pop_mean": np.frombuffer(h["pop_mean"], "<f8").copy(),
            "pop_std": np.frombuffer(h["pop_std"], "<f8").copy(),
            "lens_fractions": list(h.get("lens_fractions", [])),
            "sim_ns": prog.get("sim_ns", 0.0), "target_ns": prog.get("target_ns", 0.0),
            "ns_per_day": prog.get("ns_per_day", 0.0),
        }

    def _apply(self, run, is_delta):
        old = self.runs.get(run["run_id"])
        if is_delta and old is not None and old["k"] == run["k"]:
            run["counts"] = run["counts"] + old["counts"]
        self.runs[run["run_id"]] = run

    def poll(self, timeout=0.5):
        """Processes what arrives within `timeout` seconds; returns updates applied."""
        applied = 0
        poller = zmq.Poller()
        poller.register(self.sub, zmq.POLLIN)
        poller.register(self.dealer, zmq.POLLIN)
        end = time.monotonic() + timeout
        while True:
            left = max(0.0, end - time.monotonic())
            events = dict(poller.poll(int(left * 1000)))
            if not events:
                return applied
            if self.dealer in events:
                parts = self.dealer.recv_multipart()
                h = _header(parts)
                if h["type"] == "stats":
                    self._apply(self._run(h), False)
                elif h["type"] == "heartbeat" and h.get("state") == "snapshot-end":
                    self.seq = int(h["load"])
                    self.synced = True
                    for seq, run, delta in sorted(self.pending, key=lambda p: p[0]):
                        if seq == self.seq + 1:
                            self._apply(run, delta)
                            self.seq = seq
                            applied += 1
                    self.pending = []
            if self.sub in events:
                parts = self.sub.recv_multipart()
                h = _header(parts)
                if h["type"] == "heartbeat":
                    if self.synced and int(h["load"]) > self.seq:
                        self._request()
                    continue
                seq, run, delta = h["seq"], self._run(h), bool(h.get("is_delta", False))
                if not self.synced:
                    self.pending.append((seq, run, delta))
                elif seq == self.seq + 1:
                    self._apply(run, delta)
                    self.seq = seq
                    applied += 1
                elif seq > self.seq + 1:
                    self._request()

    def merged(self):
        """The merged statistics with P (row-normalised) and tau (ns, NaN where undefined)."""
        m = self.runs.get(-1)
        if m is None:
            return None
        c = m["counts"].astype(float)
        rows = c.sum(axis=1, keepdims=True)
        P = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
        with np.errstate(divide="ignore"):
            tau = np.where((P > 0) & ~np.eye(len(P), dtype=bool), 1.0 / P, np.nan)
        return dict(m, P=P, tau_frames=tau)


def print_state(c, out=sys.stdout):
    m = c.merged()
    if m is None:
        print("no statistics yet", file=out)
        return
    labels = m["labels"]
    print(f"seq {c.seq}, runs {len([r for r in c.runs if r >= 0])}, frames {m['frames']}", file=out)
    print("P(i->j) merged:", file=out)
    print("       " + "".join(f"{l:>8}" for l in labels), file=out)
    for i, l in enumerate(labels):
        print(f"{l:>6} " + "".join(f"{v:8.4f}" if v > 0 else f"{'.':>8}" for v in m["P"][i]), file=out)
    print("populations: " + ", ".join(f"{l} {p:.3f}±{s:.3f}" for l, p, s in
                                      zip(labels, m["pop_mean"], m["pop_std"])), file=out)
    out.flush()


def plot(c, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    m = c.merged()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    P = np.ma.masked_where(m["P"] <= 0, m["P"])
    im = ax[0].imshow(P, norm=LogNorm(vmin=1e-4, vmax=1), cmap="viridis")
    ax[0].set_xticks(range(len(m["labels"])), m["labels"])
    ax[0].set_yticks(range(len(m["labels"])), m["labels"])
    ax[0].set_title("P(i→j), merged over runs")
    fig.colorbar(im, ax=ax[0])
    ax[1].bar(m["labels"], m["pop_mean"], yerr=m["pop_std"], color="#3b6fd8")
    ax[1].set_title("populations (fraction of atoms)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stats", nargs="?", default="tcp://127.0.0.1:5561", help="analyze's PUB endpoint")
    ap.add_argument("--snapshot", default=None, help="snapshot endpoint (default: next port)")
    ap.add_argument("--once", action="store_true", help="print once synchronised, then exit")
    ap.add_argument("--timeout", type=float, default=0, help="stop after this many seconds")
    ap.add_argument("--plot", default=None, help="save a heatmap + populations PNG at the end")
    a = ap.parse_args()
    snap = a.snapshot
    if snap is None:
        host, port = a.stats.rsplit(":", 1)
        snap = f"{host}:{int(port) + 1}"
    c = StatsClient(a.stats, snap)
    end = time.monotonic() + a.timeout if a.timeout > 0 else None
    while end is None or time.monotonic() < end:
        if c.poll(0.5) or (a.once and c.synced):
            print_state(c)
            if a.once and c.synced and c.merged() is not None:
                break
    if a.plot and c.merged() is not None:
        plot(c, a.plot)
        print(f"wrote {a.plot}")
    if a.once and c.merged() is None:
        print("no statistics received", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
