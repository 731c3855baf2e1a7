"""Serving the city model: framework-free logic for every interface the server offers.

One package per interface — ``features`` (OGC API Features pages, GeoJSON, CQL2, search, feature
cards), ``vector`` (MVT), ``raster`` (map and terrain tiles), ``threed`` (3D Tiles 1.1) and
``sensorthings`` (OGC SensorThings 1.1) — each over ``cim`` (the model) and none importing a web
framework; ``tiles`` wires them to HTTP.
"""
