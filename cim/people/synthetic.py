"""A clearly synthetic, deterministic population for demos, tests and benchmarks.

Every resident is made up: ID numbers use the region code 990000 (no such region) with valid
GB 11643 check digits, phones start 1990000, names are drawn from a fixed list, and the same seed
always gives the same people.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from cim.people.idcard import make_id_number

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
#: the region code of synthetic ID numbers (no real region has it)
REGION = "990000"

UNIT_HEADERS = ["房屋编号", "楼栋", "房号", "楼层", "建筑面积", "用途", "产权性质"]
RESIDENT_HEADERS = ["人员编号", "姓名", "公民身份号码", "联系电话", "户号", "户籍地", "房屋编号", "迁入日期",
                    "迁出日期"]


def synthetic_units(buildings: list[str], per_building: int | tuple[int, int], seed: int = 14) -> list[list[object]]:
    """Rows of housing units (``UNIT_HEADERS``) for ``buildings`` (feature ids)."""
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for b, building in enumerate(buildings):
        n = per_building if isinstance(per_building, int) else rng.randint(*per_building)
        for u in range(n):
            floor = u // 4 + 1
            rows.append([f"U{b:06d}-{u:03d}", building, f"{floor}{u % 4 + 1:02d}", floor,
                         round(rng.uniform(45, 140), 1), "住宅", rng.choice(["商品房", "房改房", "公租房"])])
    return rows


def synthetic_residents(units: list[str], count: int, seed: int = 14,
                        start: date = date(2010, 1, 1)) -> list[list[object]]:
    """Rows of residents (``RESIDENT_HEADERS``) spread over ``units`` (unit ids as in the units file).

    ID numbers are distinct: person ``i`` gets sequence ``i % 1000`` and a birth date that differs
    for every thousand (7919 is prime to the 29 200 days of the 80 years used).
    """
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(count):
        unit = units[i % len(units)] if i < len(units) else rng.choice(units)
        born = date(1940, 1, 1) + timedelta(days=(i // 1000) * 7919 % 29_200)
        moved_in = start + timedelta(days=rng.randrange(365 * 12))
        rows.append([f"P{i:07d}", rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
                     make_id_number(REGION, born, i % 1000), f"1990000{i % 10000:04d}", f"H{i // 3:07d}",
                     "示例省示例市示例区", unit, moved_in.isoformat(), ""])
    return rows


def write_csv(path: str | Path, headers: list[str], rows: list[list[object]]) -> Path:
    """Write ``rows`` under ``headers`` as UTF-8 CSV."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


__all__ = ["REGION", "UNIT_HEADERS", "RESIDENT_HEADERS", "synthetic_units", "synthetic_residents", "write_csv"]
