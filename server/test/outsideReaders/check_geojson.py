"""Reads GeoJSON written by Tessera with Shapely (GEOS), which Tessera did not write: per
feature its geometry type, OGC validity, area, holes and ring orientation. Prints one JSON
report on stdout. Usage: check_geojson.py FILE.geojson [FILE.geojson ...]
"""
import json
import platform
import sys
from typing import Any, Dict, List

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity


def polygons_of(geometry: Any) -> List[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    return []


def check_feature(feature: Dict[str, Any]) -> Dict[str, Any]:
    geometry = shape(feature["geometry"])
    polygons = polygons_of(geometry)
    properties = feature.get("properties") or {}
    classification = properties.get("classification") or {}
    return {
        "id": feature.get("id"),
        "type": geometry.geom_type,
        "valid": bool(geometry.is_valid),
        "why": explain_validity(geometry),
        "area": geometry.area,
        "parts": len(polygons),
        "holes": sum(len(p.interiors) for p in polygons),
        # RFC 7946: exteriors counterclockwise, holes clockwise (in the numbers as written).
        "exteriorsCcw": [bool(p.exterior.is_ccw) for p in polygons],
        "holesCcw": [bool(ring.is_ccw) for p in polygons for ring in p.interiors],
        "closed": all(
            ring.coords[0] == ring.coords[-1] for p in polygons for ring in [p.exterior, *p.interiors]
        ),
        "points": len(geometry.geoms) if geometry.geom_type == "MultiPoint" else (1 if geometry.geom_type == "Point" else 0),
        "objectType": properties.get("objectType"),
        "className": classification.get("name"),
        "color": classification.get("color"),
    }


def main() -> None:
    files = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            collection = json.load(f)
        files.append({
            "path": path,
            "type": collection.get("type"),
            "features": [check_feature(feature) for feature in collection["features"]],
        })
    report = {
        "versions": {"python": platform.python_version(), "shapely": shapely.__version__, "geos": ".".join(str(v) for v in shapely.geos.geos_version)},
        "files": files,
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
