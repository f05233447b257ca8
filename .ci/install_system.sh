#!/usr/bin/env bash
# Install what the tests use from Debian's packages, where missing and where we are root with apt (a no-op elsewhere):
# Tesseract OCR (memeclust ocr, assign without --text) and Chromium (the report page's test opens it headless).
set -eu
need=()
command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { echo "no apt-get: install ${need[*]} yourself"; exit 1; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
