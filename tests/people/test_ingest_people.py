"""Housing units and residents from CSV and Excel: column mapping, rejects with reasons, atomicity, parents."""

from __future__ import annotations

import csv
import json
from datetime import date

import openpyxl
import pytest

import cim
from cim.errors import PermissionDenied
from cim.people.idcard import check_digit, id_number_problem, make_id_number
from cim.people.read import ingest_people
from tests.people.conftest import RESIDENTS


def _rows(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def test_gb11643_check_digit_and_birth_date_are_checked():
    assert check_digit("11010519491231002") == "X"
    assert id_number_problem("11010519491231002X") is None
    assert "check digit" in id_number_problem("110105194912310021")
    assert "birth date" in id_number_problem("110105194913310021")  # month 13
    good = make_id_number("990000", date(1990, 2, 28), 7)
    assert id_number_problem(good) is None


def test_units_and_residents_load_with_counts_that_reconcile(people_city):
    units = people_city.layer("units")
    residents = people_city.layer("residents")
    assert units["feature_count"] == 4 * len(RESIDENTS)
    assert residents["feature_count"] == sum(RESIDENTS.values())
    assert residents["classification"] == "secret"
    history = people_city.history("residents").iloc[0]["details"]
    details = history if isinstance(history, dict) else __import__("json").loads(history)
    assert details["read"] == details["stored"] + details["rejected"]


def test_resident_chain_reads_resident_unit_building_parcel(people_city):
    rid = people_city.features("residents", output="pandas")["id"].iloc[0]
    chain = [p["class"] for p in people_city.feature(rid)["parents"]]
    assert chain == ["HousingUnit", "Building", "Parcel"]


def test_bad_rows_are_rejected_with_file_row_and_reason(new_city, city_files, tmp_path):
    city = new_city()
    city.ingest(city_files["parcels"], layer="parcels", feature_class="Parcel", id_field="parcel_id")
    city.ingest(city_files["buildings"], layer="buildings", feature_class="Building")
    units = _rows(city_files["units"])
    units.append(["U-GHOST", "buildings.nowhere", "101", 1, 60, "住宅", "商品房"])
    _write(tmp_path / "units_bad.csv", units)
    report = ingest_people(city, tmp_path / "units_bad.csv", table="units")
    assert report.rejected == 1 and report.rejects[0].row == str(len(units))
    assert "buildings.nowhere" in report.rejects[0].reason and "not in the city" in report.rejects[0].reason

    rows = _rows(city_files["residents"])
    header, first = rows[0], rows[1]
    twin_unit = next(r[6] for r in rows[1:] if r[6] != first[6])
    bad_check = first[2][:17] + ("0" if first[2][17] != "0" else "1")
    bad_date = make_id_number("990000", date(1990, 1, 1), 1)[:10] + "1399" + "0010"
    bad = [
        ["x1", "甲", bad_check, "19900001111", "H", "示例", first[6], "2020-01-01", ""],
        ["x2", "乙", bad_date[:17] + check_digit(bad_date[:17]), "19900001112", "H", "示例", first[6],
         "2020-01-01", ""],
        ["x3", "丙", make_id_number("990000", date(1980, 5, 5), 901), "1", "H", "示例",
         "U-NOPE", "2020-01-01", ""],
        ["x4", "丁", first[2], "19900001113", "H", "示例", twin_unit, first[7], ""],  # same person, second unit
        ["x5", "戊", make_id_number("990000", date(1981, 5, 5), 902), "1", "H", "示例",
         first[6], "2021-05-01", "2020-01-01"],
    ]
    _write(tmp_path / "residents_bad.csv", [header, *rows[1:], *bad])
    report = ingest_people(city, tmp_path / "residents_bad.csv", table="residents")
    reasons = {r.row: r.reason for r in report.rejects}
    n = len(rows)  # header + data rows: bad rows start at sheet row n + 1
    assert set(reasons) == {str(n + 1), str(n + 2), str(n + 3), str(n + 4), str(n + 5)}
    assert "check digit" in reasons[str(n + 1)]
    assert "birth date" in reasons[str(n + 2)]
    assert "U-NOPE" in reasons[str(n + 3)] and "not in the city" in reasons[str(n + 3)]
    assert "already lives in another unit" in reasons[str(n + 4)]
    assert "moved out" in reasons[str(n + 5)] and "before moving in" in reasons[str(n + 5)]
    assert all(first[2] not in r for r in reasons.values()), "an ID number appears unmasked in a reason"
    assert report.read == report.stored + report.rejected == len(rows) - 1 + len(bad)
    stored = city.rejects("residents")
    assert len(stored) == 5 and set(stored["source"]) == {"residents_bad.csv"}


def test_a_file_of_only_bad_rows_leaves_the_city_unchanged(people_city, tmp_path):
    before = people_city.layer("residents")["version"]
    _write(tmp_path / "all_bad.csv",
           [["姓名", "公民身份号码", "房屋编号"], ["甲", "110105194912310021", "U000000-000"]])
    with pytest.raises(cim.CIMError, match="rejected"):
        ingest_people(people_city, tmp_path / "all_bad.csv", table="residents")
    assert people_city.layer("residents")["version"] == before


def test_excel_with_own_headers_and_a_column_mapping_loads_like_csv(new_city, city_files, tmp_path):
    city = new_city()
    city.ingest(city_files["parcels"], layer="parcels", feature_class="Parcel", id_field="parcel_id")
    city.ingest(city_files["buildings"], layer="buildings", feature_class="Building")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "房屋"
    sheet.append(["编码", "所在楼", "门牌", "层", "面积(㎡)"])
    for i in range(6):
        sheet.append([f"X{i}", "b0", f"{i + 1}01", i + 1, 80.5])
    book.save(tmp_path / "units.xlsx")
    profile = tmp_path / "units.yaml"
    profile.write_text("table: units\ncolumns: {编码: unit_id, 所在楼: building, 门牌: unit_number, 面积(㎡): area}\n"
                       "levels: {area: internal}\n", encoding="utf-8")
    report = ingest_people(city, tmp_path / "units.xlsx", profile=str(profile), parent_layer="buildings",
                           sheet="房屋")
    assert (report.read, report.stored, report.rejected) == (6, 6, 0)
    unit = city.feature("units.X2")
    assert unit["parent"] == "buildings.b0" and unit["properties"]["area"] == 80.5
    assert city.layer("units")["properties"]["people"]["levels"]["area"] == "internal"


def test_loading_people_needs_the_admin_role(people_city, city_files):
    with pytest.raises(PermissionDenied):
        ingest_people(people_city, city_files["units"], table="units", role="operator", actor="someone")


def test_the_same_file_again_is_unchanged_and_a_new_file_closes_the_old_version(people_city, city_files, tmp_path):
    report = ingest_people(people_city, city_files["units"], table="units")
    assert report.unchanged
    rows = _rows(city_files["units"])[:-1]
    _write(tmp_path / "units_v2.csv", rows)
    v2 = ingest_people(people_city, tmp_path / "units_v2.csv", table="units")
    assert v2.version == 2 and people_city.layer("units")["feature_count"] == len(rows) - 1


def test_land_use_rights_link_to_parcels_and_their_holder_is_masked_on_the_map_below_admin(people_city, tmp_path):
    from fastapi.testclient import TestClient

    from tiles import create_app

    _write(tmp_path / "宗地.csv", [
        ["不动产单元号", "地块", "权利人", "起始日期", "终止日期", "用途"],
        ["R1", "P1", "示例置业有限公司", "2001-01-01", "2071-01-01", "住宅"],
        ["R2", "P2", "示例投资集团", "2010-05-01", "2050-04-30", "商业"],
        ["R3", "P9", "某人", "2010-05-01", "2050-04-30", "商业"],
        ["R4", "P3", "某人", "2050-05-01", "2010-04-30", "商业"],
    ])
    report = ingest_people(people_city, tmp_path / "宗地.csv", table="land", parent_layer="parcels")
    reasons = {r.row: r.reason for r in report.rejects}
    assert (report.stored, set(reasons)) == (2, {"4", "5"})
    assert "parcels.P9" in reasons["4"] and "ends" in reasons["5"]
    assert people_city.feature("land_rights.R1")["parent"] == "parcels.P1"
    keys = json.dumps({"planner-key-0001": "planner", "admin-key-00001": "admin"})
    with TestClient(create_app(people_city, api_keys=keys)) as client:
        planner = client.get("/collections/land_rights/items", headers={"X-API-Key": "planner-key-0001"}).json()
        admin = client.get("/collections/land_rights/items", headers={"X-API-Key": "admin-key-00001"}).json()
    assert {f["properties"]["holder"] for f in planner["features"]} == {"***"}
    assert {f["properties"]["holder"] for f in admin["features"]} == {"示例置业有限公司", "示例投资集团"}
