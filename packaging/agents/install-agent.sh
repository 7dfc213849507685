#!/usr/bin/env bash
# Installs (or, with --uninstall, removes) @AGENT@ as a systemd service.
# Served by Pulse at /install-@KIND@-agent.sh; Pulse fills in @AGENT@ and @DEFAULT_URL@.
#
#   curl -fsSL https://pulse.example:7655/install-@KIND@-agent.sh | \
#     sudo bash -s -- --url https://pulse.example:7655 --token <API token>
#
# Options: --url URL (repeatable), --token T, --token-file F, --interval 30s, --insecure,
# --uninstall. PULSE_URL, PULSE_TOKEN and PULSE_INTERVAL work as well.
set -euo pipefail

AGENT="@AGENT@"
# PULSE_INSTALL_ROOT: install below this directory instead of / (packaging, tests).
ROOT="${PULSE_INSTALL_ROOT:-}"
BIN="${ROOT}/usr/local/bin/${AGENT}"
UNIT="${ROOT}/etc/systemd/system/${AGENT}.service"
CONF_DIR="${ROOT}/etc/pulse"
TOKEN_FILE="${CONF_DIR}/${AGENT}.token"
ENV_FILE="${CONF_DIR}/${AGENT}.env"

urls=()
token="${PULSE_TOKEN:-}"
token_file=""
interval="${PULSE_INTERVAL:-30s}"
insecure=0
uninstall=0

die() { echo "error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --url) [ $# -ge 2 ] || die "--url needs a value"; urls+=("$2"); shift 2 ;;
    --token) [ $# -ge 2 ] || die "--token needs a value"; token="$2"; shift 2 ;;
    --token-file) [ $# -ge 2 ] || die "--token-file needs a value"; token_file="$2"; shift 2 ;;
    --interval) [ $# -ge 2 ] || die "--interval needs a value"; interval="$2"; shift 2 ;;
    --insecure) insecure=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,10p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
command -v systemctl >/dev/null 2>&1 || die "systemd is required"

if [ "$uninstall" -eq 1 ]; then
  systemctl disable --now "${AGENT}.service" >/dev/null 2>&1 || true
  rm -f "$UNIT" "$BIN" "$TOKEN_FILE" "$ENV_FILE"
  systemctl daemon-reload
  echo "${AGENT} removed"
  exit 0
fi

if [ ${#urls[@]} -eq 0 ] && [ -n "${PULSE_URL:-}" ]; then urls=("$PULSE_URL"); fi
if [ ${#urls[@]} -eq 0 ]; then urls=("@DEFAULT_URL@"); fi
if [ -n "$token_file" ]; then token="$(tr -d '[:space:]' < "$token_file")"; fi
[ -n "$token" ] || die "an API token is required (--token or --token-file)"

case "$(uname -m)" in
  x86_64|amd64) arch="linux-amd64" ;;
  aarch64|arm64) arch="linux-arm64" ;;
  armv7l|armv7|armhf) arch="linux-armv7" ;;
  *) die "unsupported architecture $(uname -m)" ;;
esac

curl_opts=(-fsSL --retry 3)
if [ "$insecure" -eq 1 ]; then curl_opts+=(-k); fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
base="${urls[0]%/}"
echo "downloading ${AGENT} (${arch}) from ${base}"
curl "${curl_opts[@]}" -D "$tmp/headers" -o "$tmp/${AGENT}" \
  "${base}/download/${AGENT}?arch=${arch}" || die "download failed (is ${AGENT} installed on the Pulse server?)"
expected="$(tr -d '\r' < "$tmp/headers" | awk 'tolower($1) == "x-checksum-sha256:" { print $2 }' | tail -n 1)"
[ -n "$expected" ] || die "the server sent no X-Checksum-Sha256 header"
actual="$(sha256sum "$tmp/${AGENT}" | awk '{ print $1 }')"
[ "$expected" = "$actual" ] || die "checksum mismatch: expected $expected, got $actual"

install -D -m 0755 "$tmp/${AGENT}" "$BIN"
install -d -m 0700 "$CONF_DIR"
install -d -m 0755 "$(dirname "$UNIT")"
umask 077
printf '%s\n' "$token" > "$TOKEN_FILE"
{
  printf 'PULSE_URL=%s\n' "$(IFS=,; echo "${urls[*]}")"
  printf 'PULSE_INTERVAL=%s\n' "$interval"
  printf 'PULSE_TOKEN_FILE=%s\n' "$TOKEN_FILE"
  if [ "$insecure" -eq 1 ]; then printf 'PULSE_INSECURE=true\n'; fi
} > "$ENV_FILE"

cat > "$UNIT" <<UNIT
[Unit]
Description=Pulse ${AGENT}
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=${ENV_FILE}
ExecStart=${BIN}
# A stop requested from Pulse exits 0 and stays stopped.
Restart=on-failure
RestartSec=10s
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable --now "${AGENT}.service"
echo "${AGENT} installed and started; reporting to ${urls[*]}"
