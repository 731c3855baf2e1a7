"""OGC SensorThings API 1.1 over the city's sensors: entity sets read-only, observations written by role."""
