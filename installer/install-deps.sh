#!/usr/bin/env bash
# Installs exactly the Debian 12 packages AnomalyLens needs to build, test and run.
# Idempotent: when everything is installed it only checks and returns.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config dpkg-dev
  # libraries (headers + runtime)
  qt6-base-dev libqt6opengl6-dev libqt6svg6-dev qt6-qpa-plugins
  libtorch-dev libopenblas0-pthread   # OpenBLAS: 30x faster matmuls than the reference BLAS
  libdcmtk-dev libinsighttoolkit5-dev libvtk9-dev libqcustomplot-dev
  libopenjp2-7-dev libcharls-dev   # JPEG 2000 / HTJ2K and JPEG-LS pixel data
  nlohmann-json3-dev libspdlog-dev libcli11-dev zlib1g-dev libpng-dev libssl-dev   # OpenSSL: SHA-256 of model weights
  # tests (dciodvfy from dicom3tools validates the DICOM we write)
  libgtest-dev dicom3tools
  # the fuzzers: clang with libFuzzer and the sanitizers, and DCMTK's tools that re-encode the
  # DICOM seeds in every transfer syntax (tests/fuzz)
  clang libclang-rt-14-dev dcmtk
  # the privacy check traces every file name the programs touch; the load check measures
  # resident memory with GNU time
  strace time
  # the PACS the exchange tests talk to (started on loopback by the tests), and poppler's
  # pdftotext/pdftoppm that read back the PDF reports
  orthanc poppler-utils
  # the reference implementation the networks are cross-checked against (Debian's PyTorch 1.13)
  python3-torch
  # a virtual X display for the viewer and VTK tests, Mesa for OpenGL in it, a font for Qt
  xvfb xauth libgl1-mesa-dri fonts-dejavu-core
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
  SUDO=sudo
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
