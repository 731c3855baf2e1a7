#!/usr/bin/env bash
# Installs the Debian packages the project and its tests need, when missing. Idempotent.
set -euo pipefail
# gdal-bin, qgis and python3-qgis: the third-party clients tests/clients opens the city in;
# mosquitto-clients: mosquitto_pub/sub, the MQTT floor bench/iot_bench.py measures against
packages=(python3-venv nodejs chromium fonts-noto-cjk mosquitto mosquitto-clients postgresql-15-postgis-3 gdal-bin qgis python3-qgis)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} — install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
