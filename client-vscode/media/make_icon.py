"""Draw media/icon.png (128x128): a magnifying lens with a check mark on a teal tile.

Pure standard library (zlib + struct) so it runs anywhere: python3 media/make_icon.py
"""

import math
import struct
import zlib

SIZE, SS = 128, 4  # output size, supersampling per axis
TEAL, WHITE, AMBER = (15, 118, 110), (255, 255, 255), (251, 191, 36)


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def sample(x, y):
    # rounded tile
    r, lo, hi = 24, 4, 124
    cx, cy = min(max(x, lo + r), hi - r), min(max(y, lo + r), hi - r)
    if math.hypot(x - cx, y - cy) > r:
        return None
    if seg_dist(x, y, 40, 60, 53, 73) < 5 or seg_dist(x, y, 53, 73, 76, 44) < 5:
        return AMBER
    if abs(math.hypot(x - 56, y - 56) - 33) < 6:
        return WHITE
    if seg_dist(x, y, 81, 81, 108, 108) < 8:
        return WHITE
    return TEAL


def main():
    rows = []
    for py in range(SIZE):
        row = bytearray([0])
        for px in range(SIZE):
            acc, n = [0, 0, 0], 0
            for sy in range(SS):
                for sx in range(SS):
                    c = sample(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS)
                    if c is not None:
                        n += 1
                        for i in range(3):
                            acc[i] += c[i]
            if n:
                row += bytes([acc[0] // n, acc[1] // n, acc[2] // n, 255 * n // (SS * SS)])
            else:
                row += bytes(4)
        rows.append(bytes(row))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
    with open(__file__.rsplit("/", 1)[0] + "/icon.png", "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
