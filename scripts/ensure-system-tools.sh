#!/usr/bin/env bash
# Installs the system tools Drishtiksha needs when they are missing and this machine can install
# them (root on Debian/Ubuntu); otherwise says exactly what to install.
#   ensure-system-tools.sh        ffmpeg/ffprobe (to run the system)
#   ensure-system-tools.sh test   also Chromium, for the browser tests
set -u

package_for() {
  case "$1" in
    ffprobe) echo ffmpeg ;;
    *) echo "$1" ;;
  esac
}

tools=(ffmpeg ffprobe)
[ "${1:-}" = "test" ] && tools+=(chromium)

missing=()
packages=()
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing+=("$tool")
    package=$(package_for "$tool")
    [[ " ${packages[*]} " == *" $package "* ]] || packages+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
# The browser tests drive Debian's Chromium through its driver package.
[[ " ${packages[*]} " == *" chromium "* ]] && packages+=(chromium-driver)

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "Installing ${packages[*]} (missing: ${missing[*]})..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${packages[@]}" >/dev/null && exit 0
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
