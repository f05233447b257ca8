#!/usr/bin/env bash
# Install Tesseract OCR from Debian's packages where we are root with apt; a no-op elsewhere.
set -eu
command -v tesseract >/dev/null && exit 0
command -v apt-get >/dev/null || { echo "no apt-get: install tesseract-ocr yourself for OCR"; exit 1; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null
tesseract --version | head -1
