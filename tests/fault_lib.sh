# Shared by the fault tests (source it before or after cli_lib.sh): a tiny dataset, a small
# training run, checks that a file under its final name is whole, and a tmpfs of their own.

# in_mount_namespace "$@": re-runs the test in a private mount namespace when unshare(1) can make
# one, so that its mounts vanish with it however it ends. Call it before sourcing cli_lib.sh.
in_mount_namespace() {
    if [ -z "${SIAMESE_FAULT_NS:-}" ] && command -v unshare >/dev/null &&
        unshare -m --propagation private true 2>/dev/null; then
        SIAMESE_FAULT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
    fi
}

# mount_tmpfs DIR SIZE: a tmpfs of SIZE (e.g. 16m) on the new folder DIR, unmounted on exit; when
# it cannot be mounted (not root, no mount namespace), says so and exits 77 (ctest: Skipped).
mount_tmpfs() {
    mkdir -p "$1"
    if ! mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null; then
        echo "SKIP: cannot mount a tmpfs on $1 (needs root, or a mount namespace)"
        exit 77
    fi
    # shellcheck disable=SC2064 # the folders are fixed now
    trap "umount -l '$1' 2>/dev/null; rm -rf '$tmp'" EXIT
}

# make_tiny_data DIR: 5 classes of 4 small images each, from the image fixtures (grey and colour,
# five formats), so a run has 6 batches of 4 pairs per epoch.
make_tiny_data() {
    local src=${SIAMESE_SOURCE_DIR:?}/tests/fixtures/images/src c i f
    local imgs=(png_g8.png png_rgb8.png jpeg_grey.jpg pnm_p5.pnm gif_plain.gif png_p8.png)
    for c in 0 1 2 3 4; do
        mkdir -p "$1/class$c"
        for i in 0 1 2 3; do
            f=${imgs[$(((i + c) % 6))]}
            cp "$src/$f" "$1/class$c/$i.${f##*.}"
        done
    done
}

# The run the fault tests train: 460k parameters, so a model file is 1.8 MB and a checkpoint
# 5.5 MB (their writes take a moment that a kill can land in); 4 epochs of 6 steps, one thread.
train_args=(--arch "conv(4,k=3,s=2) relu flatten linear(512)" --input 1x32x32 --epochs 4
    --batch 4 --threads 1 --log-every 1 --seed 5 -q)

# st_intact FILE: a safetensors file is whole: its 8-byte header length, a JSON header (checked
# with jq when there is one) whose last tensor ends exactly at the end of the file.
st_intact() {
    local f=$1 size len end
    size=$(stat -c %s "$f") || return 1
    [ "$size" -ge 8 ] || return 1
    len=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
    [ -n "$len" ] && [ $((8 + len)) -le "$size" ] || return 1
    command -v jq >/dev/null || return 0
    end=$(tail -c +9 "$f" | head -c "$len" |
        jq '[to_entries[] | select(.key != "__metadata__") | .value.data_offsets[1]] | max // 0') ||
        return 1
    [ $((8 + len + end)) -eq "$size" ]
}

# json_intact FILE: the file parses as JSON (when jq is there).
json_intact() {
    command -v jq >/dev/null || return 0
    jq empty "$1" >/dev/null 2>&1
}

# png_intact FILE: a PNG that ends with its IEND chunk.
png_intact() {
    [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' ')" = 89504e47 ] &&
        [ "$(tail -c 8 "$1" | od -An -tx1 | tr -d ' ')" = 49454e44ae426082 ]
}

# run_files_intact DIR WHAT: every output file of a run folder that exists under its final name is
# whole; fails naming each that is not.
run_files_intact() {
    local dir=$1 what=$2 f
    for f in model best checkpoint; do
        [ -e "$dir/$f.safetensors" ] || continue
        st_intact "$dir/$f.safetensors" || fail "$what: $f.safetensors is not whole"
    done
    for f in config.json split.json; do
        [ -e "$dir/$f" ] || continue
        json_intact "$dir/$f" || fail "$what: $f does not parse"
    done
    [ -e "$dir/loss.png" ] && ! png_intact "$dir/loss.png" && fail "$what: loss.png is not whole"
    return 0
}

# temp_files DIR: the temporary files of atomic writes left in DIR (one a line).
temp_files() { compgen -G "$1/*.tmp.??????" || true; }
