#!/bin/sh
# Accuracy of the kernel size model on held-out configurations.
#
#   benches/kernel-accuracy.sh [N] [FIRST_SEED]      (defaults: 10 configurations, seeds 1..10)
#
# For each seed it writes a profile (hardware qemu-x86_64, no tools, xz, BIOS) with a random set
# of the shipped fragments and of the option groups below, on tinyconfig, builds it with the real
# pipeline (`stali build`, kbuild, objects kept in the cache so each build is incremental), and
# prints the bzImage the model estimated (`stali size --json`, kernel_file_bytes, with the
# shipped database only: STALI_SIZES=shipped, so these builds never feed their own estimates)
# against the one built (the build report's bzImage size). None of these configurations is one
# the shipped database was measured from (see README, "The size model"). The seeds are fixed,
# so a rerun with the same cache builds nothing and prints the same table. A compiler cache
# helps the incremental builds a lot: put ccache's masquerade folder first in PATH
# (`PATH=/usr/lib/ccache:$PATH`).
#
# Environment: STALI (the stali binary, default `stali` on PATH), STALI_ACC_DIR (work folder,
# default target/kernel-accuracy), STALI_ACC_CACHE (the build cache, default STALI_ACC_DIR/cache),
# STALI_ACC_JOBS (make jobs, default 2). Needs jq and bc.
set -eu
N=${1:-10}
FIRST=${2:-1}
STALI=${STALI:-stali}
DIR=${STALI_ACC_DIR:-target/kernel-accuracy}
CACHE=${STALI_ACC_CACHE:-$DIR/cache}
JOBS=${STALI_ACC_JOBS:-2}
mkdir -p "$DIR/profiles" "$DIR/out"

# Option groups (a name, then options that stick on top of the qemu-x86_64 hardware fragments).
GROUPS='ipv6:CONFIG_NET CONFIG_INET CONFIG_IPV6
vfat:CONFIG_BLOCK CONFIG_VFAT_FS CONFIG_NLS_CODEPAGE_437 CONFIG_NLS_ISO8859_1
squashfs:CONFIG_BLOCK CONFIG_MISC_FILESYSTEMS CONFIG_SQUASHFS CONFIG_SQUASHFS_XZ
loop:CONFIG_BLOCK CONFIG_BLK_DEV CONFIG_BLK_DEV_LOOP
fuse:CONFIG_FUSE_FS
overlay:CONFIG_OVERLAY_FS
tun:CONFIG_NET CONFIG_INET CONFIG_NETDEVICES CONFIG_NET_CORE CONFIG_TUN
bridge:CONFIG_NET CONFIG_INET CONFIG_BRIDGE
crypto:CONFIG_CRYPTO CONFIG_CRYPTO_AES CONFIG_CRYPTO_SHA256 CONFIG_CRYPTO_SHA512 CONFIG_CRYPTO_CBC CONFIG_CRYPTO_XTS
rtc:CONFIG_RTC_CLASS CONFIG_RTC_DRV_CMOS
zram:CONFIG_BLOCK CONFIG_BLK_DEV CONFIG_CRYPTO CONFIG_CRYPTO_LZO CONFIG_ZRAM
inotify:CONFIG_INOTIFY_USER CONFIG_FANOTIFY
aio:CONFIG_AIO CONFIG_IO_URING'
FRAGMENTS='ext4 iso9660 networking pc-storage virtio-net vt-console'

# A small LCG (the same numbers everywhere; no awk or shuf randomness).
STATE=0
rnd() { STATE=$(( (STATE * 1103515245 + 12345) % 2147483648 )); R=$(( STATE / 65536 % 100 )); }

profile() { # seed -> $DIR/profiles/acc-SEED.toml
  STATE=$1; rnd; rnd
  frags=''; opts=''
  for f in $FRAGMENTS; do rnd; [ "$R" -lt 30 ] && frags="$frags \"$f\","; done
  names=''
  for g in $(echo "$GROUPS" | cut -d: -f1); do
    rnd; if [ "$R" -lt 30 ]; then names="$names $g"; opts="$opts $(echo "$GROUPS" | grep "^$g:" | cut -d: -f2)"; fi
  done
  p="$DIR/profiles/acc-$1.toml"
  {
    echo 'format = 1'
    echo "name = \"acc-$1\""
    echo "description = \"held-out size check, seed $1:$names\""
    printf '[target]\nhardware = "qemu-x86_64"\n[tools]\nselect = []\n'
    printf '[kernel]\nsource = { path = "/usr/src/linux-source-6.1.tar.xz" }\nbase = "tinyconfig"\n'
    echo "fragments = [${frags%,} ]"
    echo '[kernel.options]'
    for o in $opts; do echo "$o = \"y\""; done | sort -u
    printf '[image]\nboot = "bios"\ncompression = "xz"\ncmdline = "console=ttyS0"\n'
  } > "$p"
  echo "$p"
}

start=$(date +%s)
printf '%-8s %-60s %10s %10s %8s %6s\n' seed choice estimate measured error build_s
sum=0; count=0
seed=$FIRST
while [ "$seed" -lt $((FIRST + N)) ]; do
  p=$(profile "$seed")
  "$STALI" check "$p" > "$DIR/out/acc-$seed.check" 2>&1 \
    || { echo "seed $seed: the profile does not check, see $DIR/out/acc-$seed.check" >&2; exit 1; }
  t0=$(date +%s)
  nice "$STALI" build "$p" -o "$DIR/out/acc-$seed.iso" --cache "$CACHE" --jobs "$JOBS" \
    --allow-over-budget --message-format plain > "$DIR/out/acc-$seed.log" 2>&1 \
    || { echo "seed $seed: build failed, see $DIR/out/acc-$seed.log" >&2; exit 1; }
  t1=$(date +%s)
  measured=$(jq .bzimage.bytes "$DIR/out/acc-$seed.build-report.json")
  est=$(STALI_SIZES=shipped "$STALI" size "$p" --json --cache "$CACHE" | jq .kernel_file_bytes)
  choice=$(sed -n 's/^description = "held-out size check, seed [0-9]*: *\(.*\)"/\1/p' "$p")
  frag=$(sed -n 's/^fragments = \[\(.*\)\]/\1/p' "$p" | tr -d '" ')
  err=$(echo "scale=2; ($est - $measured) * 100 / $measured" | bc)
  abs=${err#-}
  sum=$(echo "scale=4; $sum + $abs" | bc); count=$((count + 1))
  printf '%-8s %-60s %10s %10s %7s%% %6s\n' "$seed" "${frag:-none} | ${choice:-none}" "$est" "$measured" "$err" $((t1 - t0))
  seed=$((seed + 1))
done
printf 'mean absolute error: %s%% over %s configurations, %s s in all\n' \
  "$(echo "scale=2; $sum / $count" | bc)" "$count" $(( $(date +%s) - start ))
