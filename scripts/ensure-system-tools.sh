#!/usr/bin/env bash
# Installs the system tools Drishtiksha needs when they are missing and this machine can install
# them (root on Debian/Ubuntu); otherwise says exactly what to install.
#   ensure-system-tools.sh        ffmpeg/ffprobe (to run the system); the DejaVu fonts for PDF
#                                 reports when they can be installed (optional: reports fall back
#                                 to the built-in fonts)
#   ensure-system-tools.sh test   also Chromium, for the browser tests, the fonts (required:
#                                 the PDF tests print non-Latin text) and espeak-ng (the speech
#                                 items of the shipped evaluation set)
set -u

FONT_FILE=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
FONT_PACKAGE=fonts-dejavu-core
can_apt() { command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; }

package_for() {
  case "$1" in
    ffprobe) echo ffmpeg ;;
    *) echo "$1" ;;
  esac
}

tools=(ffmpeg ffprobe)
[ "${1:-}" = "test" ] && tools+=(chromium espeak-ng)

missing=()
packages=()
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing+=("$tool")
    package=$(package_for "$tool")
    [[ " ${packages[*]} " == *" $package "* ]] || packages+=("$package")
  fi
done
if [ ! -f "$FONT_FILE" ]; then
  if [ "${1:-}" = "test" ]; then
    missing+=("DejaVu fonts")
    packages+=("$FONT_PACKAGE")
  elif [ ${#missing[@]} -eq 0 ] && can_apt; then
    echo "Installing $FONT_PACKAGE (Unicode fonts for PDF reports)..."
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$FONT_PACKAGE" >/dev/null \
      || echo "Could not install $FONT_PACKAGE: PDF reports will use the built-in fonts." >&2
  elif [ ${#missing[@]} -gt 0 ]; then
    packages+=("$FONT_PACKAGE")  # optional, installed with the rest when possible
  fi
fi
[ ${#missing[@]} -eq 0 ] && exit 0
# The browser tests drive Debian's Chromium through its driver package.
[[ " ${packages[*]} " == *" chromium "* ]] && packages+=(chromium-driver)

if can_apt; then
  echo "Installing ${packages[*]} (missing: ${missing[*]})..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${packages[@]}" >/dev/null && exit 0
  echo "apt-get could not install ${packages[*]}." >&2
fi

cat >&2 <<MSG
Missing system tools: ${missing[*]}
Install them and run the command again:
  Debian/Ubuntu:  sudo apt-get install ${packages[*]}
  macOS:          brew install ffmpeg   (and Chromium for the browser tests)
  Fedora:         sudo dnf install ffmpeg chromium
MSG
exit 1
