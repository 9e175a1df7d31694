"""The "API" side of the reference pipeline: parse the CSV, publish one Celery task per
2,000 rows, wait until every result row is in PostgreSQL. Prints the seconds taken as JSON.

    bench/.venv-celery/bin/python bench/_celery_driver.py FILE.csv

Environment as for bench/_celery_pipeline.py. Run by bench/feeds_throughput.py.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import psycopg
import pyarrow.csv as pacsv

sys.path.insert(0, os.path.dirname(__file__))
from _celery_pipeline import score

TASK_ROWS = 2000


def main(path: str, features: list[str]) -> None:
    table = os.environ.get("BENCH_TABLE", "celery_results")
    with psycopg.connect(os.environ["BENCH_PG_URL"], autocommit=True) as db:
        db.execute(f"TRUNCATE {table}")
        started = time.perf_counter()
        parsed = pacsv.read_csv(path)
        matrix = np.column_stack(
            [parsed.column(name).to_numpy().astype(np.float32) for name in features]
        )
        for first in range(0, len(matrix), TASK_ROWS):
            rows = np.ascontiguousarray(matrix[first : first + TASK_ROWS])
            score.delay(first, rows.tobytes(), matrix.shape[1])
        published = time.perf_counter()
        while True:
            [(count,)] = db.execute(f"SELECT count(*) FROM {table}").fetchall()
            if count >= len(matrix):
                break
            if time.perf_counter() - started > 600:
                raise SystemExit(f"only {count} of {len(matrix)} results after 600 s")
            time.sleep(0.005)
        done = time.perf_counter()
    print(
        json.dumps(
            {"seconds": done - started, "published_s": published - started, "rows": len(matrix)}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], json.loads(os.environ["BENCH_FEATURES"]))
