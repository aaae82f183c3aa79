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
    for rid, r in sorted(c.runs.items()):
        if rid < 0:
            continue
        lf = "/".join(f"{v:.2f}" for v in r["lens_fractions"]) or "-"
        print(f"run {rid}: {r['sim_ns']:.4g} / {r['target_ns']:.4g} ns, {r['ns_per_day']:.4g} ns/day, "
              f"{r['frames']} frames, LENS static/intermediate/dynamic {lf}", file=out)
    out.flush()


def plot(c, path=None):
    """The statistics as a matplotlib figure: P (log colour scale, blank where
    unobserved), populations per run and merged (± sd), LENS class fractions
    and progress per run.  Saved to `path` when given (PNG, …); returns the
    figure (in Jupyter it displays itself)."""
    import matplotlib
    if path:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    m = c.merged()
    labels, k = m["labels"], len(m["labels"])
    runs = [r for rid, r in sorted(c.runs.items()) if rid >= 0]
    fig, ax = plt.subplots(2, 2, figsize=(12, 9))
    rows = m["counts"].sum(axis=1) > 0
    P = np.ma.masked_where((m["P"] <= 0) | ~rows[:, None], m["P"])
    im = ax[0, 0].imshow(P, norm=LogNorm(vmin=1e-4, vmax=1), cmap="viridis")
    ax[0, 0].set_xticks(range(k), labels)
    ax[0, 0].set_yticks(range(k), labels)
    ax[0, 0].set_xlabel("to")
    ax[0, 0].set_ylabel("from")
    ax[0, 0].set_title(f"P(i→j), merged over {len(runs)} runs ({m['frames']} frames)")
    fig.colorbar(im, ax=ax[0, 0])
    series = [(f"run {r['run_id']}", r) for r in runs] + [("merged", m)]
    w = 0.8 / len(series)
    for n, (name, r) in enumerate(series):
        ax[0, 1].bar(np.arange(k) + (n - (len(series) - 1) / 2) * w, r["pop_mean"], w,
                     yerr=r["pop_std"], label=name, color="#1d2330" if name == "merged" else None)
    ax[0, 1].set_xticks(range(k), labels)
    ax[0, 1].set_title("populations (fraction of atoms, mean ± sd over frames)")
    ax[0, 1].legend(fontsize=7, ncol=2)
    ids = [str(r["run_id"]) for r in runs]
    lf = np.array([r["lens_fractions"] if len(r["lens_fractions"]) == 3 else [0, 0, 0] for r in runs])
    bottom = np.zeros(len(runs))
    for ci, (name, col) in enumerate(zip(["static", "intermediate", "dynamic"],
                                         ["#2b8cbe", "#fdae61", "#d7191c"])):
        if len(runs):
            ax[1, 0].bar(ids, lf[:, ci], bottom=bottom, label=name, color=col)
            bottom += lf[:, ci]
    ax[1, 0].set_title("LENS class fractions per run (latest window)")
    ax[1, 0].set_xlabel("run")
    ax[1, 0].legend(fontsize=8)
    ax[1, 1].barh(ids, [r["sim_ns"] for r in runs], color="#3b6fd8", label="simulated")
    ax[1, 1].barh(ids, [max(0.0, r["target_ns"] - r["sim_ns"]) for r in runs],
                  left=[r["sim_ns"] for r in runs], color="#e8ecf3", label="to go")
    for y, r in enumerate(runs):
        ax[1, 1].text(r["target_ns"], y, f" {r['ns_per_day']:.3g} ns/day", va="center", fontsize=8)
    ax[1, 1].set_xlabel("ns")
    ax[1, 1].set_title("progress per run")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=100)
    return fig


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stats", nargs="?", default="tcp://127.0.0.1:5561", help="analyze's PUB endpoint")
    ap.add_argument("--snapshot", default=None, help="snapshot endpoint (default: next port)")
    ap.add_argument("--once", action="store_true", help="print once synchronised, then exit")
    ap.add_argument("--timeout", type=float, default=0, help="stop after this many seconds")
    ap.add_argument("--until-frames", type=int, default=0,
                    help="with --once: wait until this many snapshots are analysed over all runs")
    ap.add_argument("--plot", default=None, help="save a heatmap + populations PNG at the end")
    a = ap.parse_args()
    snap = a.snapshot
    if snap is None:
        host, port = a.stats.rsplit(":", 1)
        snap = f"{host}:{int(port) + 1}"
    c = StatsClient(a.stats, snap)
    end = time.monotonic() + a.timeout if a.timeout > 0 else None
    def done():
        m = c.merged()
        return c.synced and m is not None and m["frames"] >= a.until_frames
    while end is None or time.monotonic() < end:
        if c.poll(0.5) or (a.once and c.synced):
            if a.once and not done():
                continue
            print_state(c)
            if a.once:
                break
    if a.plot and c.merged() is not None:
        plot(c, a.plot)
        print(f"wrote {a.plot}")
    if a.once and not done():
        print("no statistics received" if c.merged() is None else
              f"only {c.merged()['frames']} of {a.until_frames} frames analysed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
