"""A second English corpus for the char-LM warm-start comparison in RESULTS.md: the distinct
English sentences of datasets/translation/eng-fra/pairs.tsv, every fifth one, shuffled with
seed 0, one per line (23,366 lines, 758,710 bytes).

    python3 experiments/data/tatoeba_english.py /tmp/tatoeba-en.txt
"""

import os
import random
import sys

HERE = os.path.dirname(__file__)
PAIRS = os.path.join(HERE, "../../datasets/translation/eng-fra/pairs.tsv")


def main(out):
    seen, lines = set(), []
    with open(PAIRS, encoding="utf-8") as f:
        for line in f:
            english = line.split("\t")[0]
            if english not in seen:
                seen.add(english)
                lines.append(english)
    lines = lines[::5]
    random.Random(0).shuffle(lines)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
