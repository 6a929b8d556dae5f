#!/usr/bin/env bash
# The output guard (cli/outputs.c): every command that writes a file refuses, with exit 2 and
# before any work, an output that would replace an input: a file of an input folder (DATA/s1/1.pgm,
# also through ../ and a symlinked folder), a file read implicitly (the split.json and
# config.json beside test's MODEL, --held-out, face-api's weight shards in import's DIR), and an
# output whose folder is missing, that is a folder, or '-'; an image named inside a .txt list or
# a pairs manifest (another spelling, a hard link), and for report the data set its run's
# config.json records. The files of DATA, the run, the lists and the package keep their sha256
# through every refusal; a new file inside DATA, or beside a listed image, is allowed. Also:
# index build --shards over the limit is refused up front, and a sharded index opened without
# mpirun says how to search it. Generated data only: no shared data set needed.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
cd "$tmp" || exit 1

# noise_pgm FILE: a 46x56 grey PNM of random pixels
noise_pgm() { { printf 'P5\n46 56\n255\n'; head -c $((46 * 56)) /dev/urandom; } >"$1"; }
for c in s1 s2 s3; do
    mkdir -p "DATA/$c"
    for i in 1 2 3 4; do noise_pgm "DATA/$c/$i.pgm"; done
done
expect 0 "$cli" train DATA -o runs/X --arch "conv(4,k=5,s=2) relu maxpool(2) linear(8)" \
    --input 1x56x46 --batch 4 --threads 1 --epochs 1 --seed 5
M=runs/X/best.safetensors
if [ ! -f "$M" ] || [ ! -f runs/X/split.json ]; then
    fail "the tiny run has no model or split"
    finish test_cli_outputs
fi
expect 0 "$cli" index build "$M" DATA/s1 -o gallery.idx -j 1
mkdir pkg # import face-api reads DIR's manifest and weight shards
echo '[{"paths":["face_recognition_model.bin"],"weights":[]}]' \
    >pkg/face_recognition_model-weights_manifest.json
head -c 64 /dev/urandom >pkg/face_recognition_model.bin
ln -s DATA/s1 s1link
echo "a list beside the photos" >DATA/s2/list.paths.txt

snapshot() { find DATA runs pkg gallery.idx -type f -print0 | sort -z | xargs -0 sha256sum; }
before=$(snapshot)
# refused OUTPUT MESSAGE CMD...: exit 2, stderr names OUTPUT with MESSAGE, nothing was embedded,
# and every file of DATA, the run, the package and the index is as it was
refused() {
    local out=$1 why=$2
    shift 2
    expect 2 "$@"
    grep_err "$out: $why"
    grep -q "embedded\|epoch" "$tmp/err" && fail "work was done before the refusal: $*"
    [ "$(snapshot)" = "$before" ] || fail "files changed by: $*"
}
folder="the output would replace a file of the input folder"

# ---- a file of an input folder, for every command that reads DATA
refused DATA/s1/4.pgm "$folder DATA" "$cli" pairs DATA -o DATA/s1/4.pgm
refused DATA/s1 "$folder DATA" "$cli" pairs DATA --layout recipe -o DATA/s1
refused DATA/s1/1.pgm "$folder DATA" "$cli" test "$M" DATA -o DATA/s1/1.pgm -j 1
refused DATA/s1/1.pgm "$folder DATA" "$cli" test "$M" DATA --png DATA/s1/1.pgm -j 1
refused DATA/s1/1.pgm "$folder DATA" "$cli" embed "$M" DATA -o DATA/s1/1.pgm -j 1
refused DATA/s2/list.paths.txt "$folder DATA" "$cli" embed "$M" DATA -o DATA/s2/list --format npy -j 1
refused DATA/s1/3.pgm "$folder DATA" "$cli" index build "$M" DATA -o DATA/s1/3.pgm -j 1
refused DATA/s1/1.pgm "$folder DATA" "$cli" calibrate "$M" DATA -o DATA/s1/1.pgm -j 1
refused DATA/s1/2.pgm "$folder DATA" "$cli" quantize "$M" DATA -o DATA/s1/2.pgm -j 1
refused DATA/s1/1.pgm "$folder DATA" "$cli" eval "$M" DATA --report DATA/s1/1.pgm -j 1
refused DATA/s2 "$folder DATA" "$cli" eval "$M" DATA --png-dir DATA/s2 -j 1
refused DATA/s2/1.pgm "$folder DATA/s2" "$cli" search gallery.idx DATA/s2 --png DATA/s2/1.pgm -j 1
# seen through ../ and a symlinked folder
refused DATA/s2/../s1/1.pgm "$folder DATA" "$cli" embed "$M" DATA -o DATA/s2/../s1/1.pgm -j 1
refused s1link/1.pgm "$folder DATA" "$cli" embed "$M" DATA -o s1link/1.pgm -j 1
refused DATA/s1/1.pgm "$folder s1link" "$cli" embed "$M" s1link -o DATA/s1/1.pgm -j 1

# ---- files read implicitly or named by options
refused runs/X/split.json "the output is also an input" "$cli" test "$M" DATA -o runs/X/split.json -j 1
refused runs/X/config.json "the output is also an input" "$cli" test "$M" DATA --no-split \
    -o runs/X/config.json -j 1
refused runs/X/split.json "the output is also an input" "$cli" calibrate "$M" DATA \
    --held-out runs/X/split.json -o runs/X/split.json -j 1
refused runs/X/split.json "the output is also an input" "$cli" eval "$M" DATA \
    --held-out runs/X/split.json --report runs/X/split.json -j 1
refused pkg/face_recognition_model.bin "$folder pkg" "$cli" import face-api pkg \
    -o pkg/face_recognition_model.bin
refused DATA/s1/1.pgm "the output is also an input" "$cli" compare "$M" DATA/s1/1.pgm \
    DATA/s2/1.pgm --png DATA/s1/1.pgm -j 1
refused runs/X/split.json "the output is also an input" "$cli" report runs/X -o runs/X/split.json
expect 2 "$cli" quantize "$M" DATA -o "$M" -j 1
grep_err "$M: the output is also an input"

# ---- the output's folder must exist and the output must not be a folder: refused before any work
missing="its folder nodir does not exist"
refused nodir/e.st "$missing" "$cli" embed "$M" DATA -o nodir/e.st -j 1
refused nodir/x.html "$missing" "$cli" eval "$M" DATA --report nodir/x.html -j 1
refused nodir/x.png "$missing" "$cli" search gallery.idx DATA/s1/1.pgm --png nodir/x.png -j 1
refused nodir/p.tsv "$missing" "$cli" pairs DATA -o nodir/p.tsv
refused nodir/i.idx "$missing" "$cli" index build "$M" DATA -o nodir/i.idx -j 1
refused nodir/m.st "$missing" "$cli" quantize "$M" DATA -o nodir/m.st -j 1
refused nodir/r.html "$missing" "$cli" report runs/X -o nodir/r.html
refused runs/X/loss.png/x.st "its folder runs/X/loss.png is not a folder" \
    "$cli" embed "$M" DATA -o runs/X/loss.png/x.st -j 1
mkdir existing_dir
refused existing_dir "is a folder: give a file name" "$cli" calibrate "$M" DATA -o existing_dir -j 1
refused existing_dir "is a folder: give a file name" "$cli" test "$M" DATA -o existing_dir -j 1
refused existing_dir "is a folder: give a file name" "$cli" ensemble "$M" runs/X/model.safetensors \
    -o existing_dir
[ -e nodir ] && fail "a refused output made nodir"

# ---- '-' is not standard output: refused, no file named '-'
refused - "'-' is not standard output here" "$cli" pairs DATA -o -
[ -e ./- ] && fail "pairs -o - wrote a file named '-'"
"$cli" pairs --help | grep -q "'-' is refused" || fail "pairs --help does not say that '-' is refused"

# ---- a new file inside DATA is allowed (an index beside the photos)
expect 0 "$cli" embed "$M" DATA -o DATA/new.st -j 1
[ -s DATA/new.st ] || fail "embed did not write DATA/new.st"
rm -f DATA/new.st
[ "$(snapshot)" = "$before" ] || fail "embed -o DATA/new.st changed a file of DATA"
expect 0 "$cli" calibrate "$M" DATA -o runs/X/calibrated.safetensors -j 1 -q
rm -f runs/X/calibrated.safetensors
# a folder output may end with '/' (its folder is the one holding it)
expect 0 "$cli" eval "$M" DATA --png-dir plots/ -j 1 -q
[ -s plots/roc.png ] || fail "eval --png-dir plots/ drew no plots/roc.png"
expect 0 "$cli" pairs DATA --layout recipe -o recipe/

# ---- index build --shards beyond the limit: exit 2 before embedding
expect 2 "$cli" index build "$M" DATA -o sh.idx --shards 100000 -j 1
grep_err "shards must be 1 to 65536, got 100000"
grep -q embedded "$tmp/err" && fail "--shards 100000 was refused only after embedding"
# a shard that would replace a file of DATA
noise_pgm DATA/s3/5.pgm.1
before=$(snapshot)
refused DATA/s3/5.pgm.1 "$folder DATA" "$cli" index build "$M" DATA -o DATA/s3/5.pgm --shards 2 -j 1

# ---- a sharded index opened without mpirun says what it is
expect 0 "$cli" index build "$M" DATA -o sh.idx --shards 2 -j 1
if [ -f sh.idx.0 ] && [ -f sh.idx.1 ]; then
    for cmd in "search sh.idx DATA/s1/1.pgm -j 1" "index info sh.idx" "similar sh.idx DATA/s1/1.pgm"; do
        # shellcheck disable=SC2086 # the words of cmd are its arguments
        expect 1 "$cli" $cmd
        grep_err "sh.idx is a sharded index of 2 shards"
        grep_err "mpirun -np 2 siamese search sh.idx"
    done
else
    fail "index build --shards 2 did not write sh.idx.0 and sh.idx.1: $(ls)"
fi

# ---- the images named inside a list or manifest are inputs too (the same file by device and
# inode: other spellings and hard links too); a file beside them is not
mkdir -p lists/pics lists/shard side
noise_pgm lists/pics/roc.png
noise_pgm lists/shard/img.1
noise_pgm side/a.pgm
noise_pgm side/b.pgm
ln DATA/s3/3.pgm hardlink.pgm
printf 'DATA/s1/1.pgm\tDATA/s2/1.pgm\t1\nDATA/s1/2.pgm\tDATA/s1/3.pgm\t0\n' >pairs.tsv
printf 'DATA/s3/1.pgm\tlists/pics/roc.png\t1\nDATA/s3/2.pgm\tDATA/s3/3.pgm\t0\n' >>pairs.tsv
printf '# images\n../DATA/s3/1.pgm\n../DATA/s3/2.pgm\nshard/img.1\n' >lists/images.txt
printf 'a.pgm\n' >side/list.txt
snapshot() { find DATA runs pkg gallery.idx lists side pairs.tsv -type f -print0 | sort -z | xargs -0 sha256sum; }
before=$(snapshot)
named="the output is the image"
refused DATA/s1/1.pgm "$named DATA/s1/1.pgm named in pairs.tsv" "$cli" pairs pairs.tsv -o DATA/s1/1.pgm
refused DATA/s2/1.pgm "$named DATA/s2/1.pgm named in pairs.tsv" "$cli" test "$M" pairs.tsv \
    --png DATA/s2/1.pgm -j 1
refused DATA/s1/2.pgm "$named DATA/s1/2.pgm named in pairs.tsv" "$cli" calibrate "$M" pairs.tsv \
    -o DATA/s1/2.pgm -j 1
refused DATA/s1/3.pgm "$named DATA/s1/3.pgm named in pairs.tsv" "$cli" quantize "$M" pairs.tsv \
    -o DATA/s1/3.pgm -j 1
refused DATA/s3/1.pgm "$named DATA/s3/1.pgm named in pairs.tsv" "$cli" eval "$M" pairs.tsv \
    --report DATA/s3/1.pgm -j 1
refused lists/pics/roc.png "$named lists/pics/roc.png named in pairs.tsv" "$cli" eval "$M" \
    pairs.tsv --png-dir lists/pics -j 1
refused hardlink.pgm "$named DATA/s3/3.pgm named in pairs.tsv" "$cli" eval "$M" pairs.tsv \
    --report hardlink.pgm -j 1
refused DATA/s3/1.pgm "$named ../DATA/s3/1.pgm named in lists/images.txt" "$cli" embed "$M" \
    lists/images.txt -o DATA/s3/1.pgm -j 1
refused s1link/../s3/2.pgm "$named ../DATA/s3/2.pgm named in lists/images.txt" "$cli" index build \
    "$M" lists/images.txt -o s1link/../s3/2.pgm -j 1
refused lists/shard/img.1 "$named shard/img.1 named in lists/images.txt" "$cli" index build "$M" \
    lists/images.txt -o lists/shard/img --shards 2 -j 1
refused DATA/s3/2.pgm "$named ../DATA/s3/2.pgm named in lists/images.txt" "$cli" search gallery.idx \
    lists/images.txt --png DATA/s3/2.pgm -j 1
# a file beside a listed image is not read, so not guarded
expect 0 "$cli" embed "$M" side/list.txt -o side/b.pgm -j 1 -q
[ "$(sha256sum <side/a.pgm)" = "$(echo "$before" | grep ' side/a.pgm$' | cut -c1-64)  -" ] ||
    fail "embed side/list.txt -o side/b.pgm changed the listed side/a.pgm"
noise_pgm side/b.pgm
before=$(snapshot)

# ---- report reads the data its run's config.json records: a file of it is refused too, the data
# found where training ran, also from another folder
refused DATA/s2/3.pgm "$folder DATA" "$cli" report runs/X -o DATA/s2/3.pgm
mkdir -p elsewhere
cd elsewhere || exit 1
expect 2 "$cli" report ../runs/X -o ../DATA/s1/4.pgm
cd .. || exit 1
grep_err "../DATA/s1/4.pgm: $folder $(pwd -P)/DATA"
[ "$(snapshot)" = "$before" ] || fail "report -o ../DATA/s1/4.pgm from elsewhere/ changed a file"
expect 0 "$cli" train pairs.tsv -o runs/P --arch "conv(4,k=5,s=2) relu maxpool(2) linear(8)" \
    --input 1x56x46 --batch 4 --threads 1 --epochs 1 --seed 5
before=$(snapshot)
refused pairs.tsv "the output is also an input" "$cli" report runs/P -o pairs.tsv
refused DATA/s3/2.pgm "$named DATA/s3/2.pgm named in pairs.tsv" "$cli" report runs/P -o DATA/s3/2.pgm
[ "$(snapshot)" = "$before" ] || fail "a refused report changed a file"

finish test_cli_outputs
