"""OGC API Features: pages of items, GeoJSON, CQL2 filters, output CRSs, search and feature cards."""
