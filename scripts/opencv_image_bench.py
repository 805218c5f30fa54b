#!/usr/bin/python3
"""The OpenCV side of `mtcnn scripts/bench.lua image`: the same JPEG decoded,
resized over the detection pyramid and cut into zero-padded crops the way
../shared/anchors/ref_mtcnn.py does it (numpy + cv2.resize INTER_AREA), for a
side-by-side comparison. Optional: needs Debian's python3-opencv.

  build/mtcnn scripts/bench.lua image --write-jpeg /tmp/bench.jpg
  /usr/bin/python3 scripts/opencv_image_bench.py /tmp/bench.jpg [--threads 1]
"""
import argparse
import math
import time

import cv2
import numpy as np


def timed(fn, reps):
    fn()
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[0] * 1e3, ts[len(ts) // 2] * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jpeg")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--boxes", type=int, default=256)
    a = ap.parse_args()
    cv2.setNumThreads(a.threads)
    buf = np.frombuffer(open(a.jpeg, "rb").read(), np.uint8)
    decode = lambda: cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    img = decode()
    h, w = img.shape[:2]

    def pyramid():
        f = img.astype(np.float32)
        s = m = 12 / 20
        minl = min(h, w) * m
        while minl >= 12:
            r = cv2.resize(f, (math.ceil(w * s), math.ceil(h * s)), interpolation=cv2.INTER_AREA)
            r = (r - 127.5) * 0.0078125
            s *= 0.709
            minl *= 0.709

    rng = np.random.RandomState(7)
    boxes = []
    for _ in range(a.boxes):  # sides 20..220, a tenth crossing the border, as the Lua bench
        s = rng.randint(20, 221)
        x, y = rng.randint(-s // 4, w - s + s // 4 + 1), rng.randint(-s // 4, h - s + s // 4 + 1)
        boxes.append((x, y, x + s - 1, y + s - 1))
    fimg = img.astype(np.float32)

    def crops(size):
        out = np.zeros((len(boxes), size, size, 3), np.float32)
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            tmp = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), np.float32)
            sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w - 1), min(y2, h - 1)
            if sx2 >= sx1 and sy2 >= sy1:
                tmp[sy1 - y1:sy2 - y1 + 1, sx1 - x1:sx2 - x1 + 1] = fimg[sy1:sy2 + 1, sx1:sx2 + 1]
            out[k] = cv2.resize(tmp, (size, size), interpolation=cv2.INTER_AREA)
        return (out - 127.5) * 0.0078125

    for name, fn in (("decode", decode), ("pyramid_area", pyramid),
                     ("crops_24_area", lambda: crops(24)), ("crops_48_area", lambda: crops(48))):
        lo, med = timed(fn, a.reps)
        extra = ""
        if name.startswith("crops"):
            extra = "  %.0f crops/s" % (len(boxes) / (med / 1e3))
        print("%-16s min %8.3f ms  median %8.3f ms%s" % (name, lo, med, extra))


if __name__ == "__main__":
    main()
