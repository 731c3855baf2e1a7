"""Vector tiles (MVT 2.1): layers prepared per version and view, generalised per zoom, encoded with numpy."""
