#!/usr/bin/env python3
"""Writes a synthetic accidents CSV of N rows: id, date, a 5-character commune code
with leading zeros, a severity 1-4, lat, lon, and free text with commas, quotes and
some multi-line fields. 10 M rows make about 1 GB."""
import random
import sys

TEXTS = [
    "collision au carrefour, chaussee mouillee",
    'vehicule "leger" contre poteau',
    "pieton renverse\nsur le passage protege",
    "sortie de route, virage serre",
    "choc arriere; file de vehicules a l'arret",
]


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: gen_csv.py ROWS FILE")
    rows, path = int(sys.argv[1]), sys.argv[2]
    rnd = random.Random(7)
    communes = [f"{rnd.randint(1, 95):02d}{rnd.randint(1, 999):03d}" for _ in range(2000)]
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("id,date,commune,severity,lat,lon,text\n")
        chunk = []
        for i in range(1, rows + 1):
            text = TEXTS[i % len(TEXTS)].replace('"', '""')
            chunk.append(
                f'{i},2021-{i % 12 + 1:02d}-{i % 28 + 1:02d},{communes[i % 2000]},{i % 4 + 1},'
                f'{41 + (i % 9000) / 1000:.4f},{-4 + (i % 12000) / 1000:.4f},"{text} #{i % 977}"\n'
            )
            if len(chunk) == 100_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


if __name__ == "__main__":
    main()
