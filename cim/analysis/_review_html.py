"""The BIM review report as one self-contained HTML page (inline CSS and SVG, no external assets)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import shapely

if TYPE_CHECKING:
    from cim.analysis.review import ReviewReport

_STATUS = {"pass": ("合格", "pass", "#1a7f37"), "fail": ("不合格", "fail", "#cf222e"),
           "no_data": ("无数据", "no data", "#6e7781")}
_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#1f2328}
h1{font-size:1.4em} table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #d0d7de;padding:4px 8px}
th{background:#f6f8fa;text-align:left} .verdict{font-size:1.3em;font-weight:bold;padding:.4em .8em;color:#fff}
.num{text-align:right;font-variant-numeric:tabular-nums} svg{border:1px solid #d0d7de;background:#fbfbfb}
"""


def render(report: ReviewReport) -> str:
    """The page: verdict, model and parcel facts, the checks table, and a plan of parcel and footprint."""
    verdict = {"compliant": ("合规 COMPLIANT", "#1a7f37"), "non_compliant": ("不合规 NON-COMPLIANT", "#cf222e"),
               "not_checked": ("未能审查 NOT CHECKED", "#9a6700")}[report.verdict]
    m, p = report.model, report.parcel
    facts = [("模型文件 model", m["file"]), ("IFC 版本 schema", m["schema"]),
             ("地理配准 georeference", f"{m['georeference']} ({m['crs']})"),
             ("建筑高度 height", f"{m['height']:.1f} m"), ("层数 storeys", f"{m['floors']:.0f}"),
             ("基底面积 footprint", f"{m['footprint_area']:.1f} m²"),
             ("建筑面积 floor area", f"{m['floor_area']:.1f} m²"),
             ("地块 parcel", p["id"]), ("用地性质 land use", f"{p.get('land_use', '')} {p.get('land_use_name', '')}")]
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>BIM 报建审查 {escape(p['id'])}</title>
<style>{_CSS}</style></head><body>
<h1>BIM 报建审查 · BIM review</h1>
<p><span class="verdict" style="background:{verdict[1]}">{verdict[0]}</span>
&nbsp; {len(report.failures)} / {len(report.checks)} 项不合格 checks failed · {escape(report.created_at)}</p>
<table>{rows}</table>
<h2>核查结果 · checks</h2>
{_checks(report)}
<h2>总平面示意 · site plan</h2>
{_plan(report)}
</body></html>
"""


def _checks(report: ReviewReport) -> str:
    head = ("<tr><th>规则 rule</th><th>对象 subject</th><th>结果 result</th><th class=num>数值 value</th>"
            "<th class=num>限值 limit</th><th>说明</th><th>reason</th></tr>")
    body = []
    for c in report.checks:
        zh, en, colour = _STATUS.get(c["status"], (c["status"], c["status"], "#000"))
        value = "" if c["value"] is None else f"{c['value']:.3f}".rstrip("0").rstrip(".")
        limit = "" if c["limit"] is None else f"{c['limit']:.3f}".rstrip("0").rstrip(".")
        unit = f" {c['unit']}" if c.get("unit") else ""
        body.append(
            f"<tr><td>{escape(c['rule_name'])}<br><small>{escape(c['rule_name_en'])}</small></td>"
            f"<td>{escape(c['subject'] or '')}</td><td style='color:{colour};font-weight:bold'>{zh} {en}</td>"
            f"<td class=num>{value}{unit}</td><td class=num>{limit}{unit}</td>"
            f"<td>{escape(c['reason_zh'] or '')}</td><td>{escape(c['reason_en'] or '')}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _plan(report: ReviewReport, size: int = 420) -> str:
    """Parcel (grey), its setback line (dashed) and the model's footprint (red if a check failed)."""
    parcel = shapely.from_wkt(report.parcel_wkt)
    footprint = shapely.from_wkt(report.footprint_wkt)
    minx, miny, maxx, maxy = shapely.union(parcel, footprint).bounds
    scale = (size - 20) / max(maxx - minx, maxy - miny, 1e-9)

    def path(geom: shapely.Geometry) -> str:
        parts = []
        for poly in shapely.get_parts(geom):
            for ring in [poly.exterior, *poly.interiors]:
                pts = " L ".join(f"{10 + (x - minx) * scale:.1f} {size - 10 - (y - miny) * scale:.1f}"
                                 for x, y in ring.coords)
                parts.append(f"M {pts} Z")
        return " ".join(parts)

    setback = report.parcel.get("setback")
    inner = parcel.buffer(-float(setback), join_style="mitre") if setback else None
    colour = "#1a7f37" if report.passed else "#cf222e"
    inner_svg = (f'<path d="{path(inner)}" fill="none" stroke="#0969da" stroke-dasharray="6 4"/>'
                 if inner is not None and not inner.is_empty else "")
    return (f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
            f'<path d="{path(parcel)}" fill="#eaeef2" stroke="#57606a"/>{inner_svg}'
            f'<path d="{path(footprint)}" fill="{colour}" fill-opacity="0.6" stroke="{colour}"/></svg>'
            "<p><small>灰色: 地块 parcel · 蓝色虚线: 退线 setback line · 色块: 送审建筑 model footprint</small></p>")
