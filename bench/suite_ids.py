"""Task ids of the offline research suite, questions [FROM, TO) of a split, as repeated --task options.

python bench/suite_ids.py test 0 16
"""

from __future__ import annotations

import sys

from agentmem.eval.gaia import load_gaia
from agentmem.eval.research_suite import packaged_suite_dir


def main() -> None:
    split, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    questions = load_gaia(packaged_suite_dir(), split)[start:stop]
    print(" ".join("--task " + q.task_id for q in questions))


if __name__ == "__main__":
    main()
