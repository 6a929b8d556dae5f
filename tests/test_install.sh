#!/usr/bin/env bash
# Installs the built library into a temporary prefix and builds tiny programs with pkg-config,
# against the shared library and the static one.
set -euo pipefail
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$SIAMESE_BINARY_DIR" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
# siamese.h includes no dependency's header, so the compile flags are siamese's own (no cairo,
# glib or libpng include folders; the static link's libraries are in Libs.private).
for flag in $(pkg-config --cflags siamese); do
    [ "$(realpath -m "${flag#-I}")" = "$(realpath "$prefix")/include" ] ||
        { echo "FAIL: pkg-config --cflags siamese gives $flag" >&2; exit 1; }
done
cat > "$prefix/hello.c" <<'C'
#include <siamese.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    if (strcmp(siamese_status_str(SIAMESE_ERR_FORMAT), "bad file format") != 0) return 1;
    printf("siamese %s\n", siamese_version());
    return 0;
}
C
cc -std=c11 -Wall -Werror "$prefix/hello.c" -o "$prefix/hello" $(pkg-config --cflags --libs siamese) \
   -Wl,-rpath,"$(pkg-config --variable=libdir siamese)"
# The soname names the ABI: libsiamese.so.0.MINOR before 1.0, libsiamese.so.MAJOR after; the
# installed name is there and the program asks for it.
version=$(pkg-config --modversion siamese)
minor=${version#*.}
soname=libsiamese.so.${version%%.*}
[ "${version%%.*}" != 0 ] || soname=libsiamese.so.0.${minor%%.*}
[ -e "$(pkg-config --variable=libdir siamese)/$soname" ] || { echo "FAIL: no $soname installed" >&2; exit 1; }
readelf -d "$prefix/hello" | grep -q "NEEDED.*\[$soname\]" ||
    { echo "FAIL: hello does not need $soname: $(readelf -d "$prefix/hello" | grep NEEDED)" >&2; exit 1; }
out=$("$prefix/hello")
echo "$out"
[ "$out" = "siamese $(pkg-config --modversion siamese)" ]
# The static library links too (with its private dependencies).
cc -std=c11 "$prefix/hello.c" -o "$prefix/hello_static" $(pkg-config --cflags siamese) \
   "$(pkg-config --variable=libdir siamese)/libsiamese.a" $(pkg-config --static --libs siamese | sed 's/-lsiamese//')
"$prefix/hello_static" >/dev/null
# So does a program that trains (the library's MPI, when built with it, is among them).
cat > "$prefix/trainer.c" <<'C'
#include <siamese.h>
int main(void) {
    siamese_status (*volatile train)(const char *, const char *, const siamese_train_params *,
                                     char *, size_t) = siamese_train;
    return train == 0;
}
C
cc -std=c11 "$prefix/trainer.c" -o "$prefix/trainer_static" $(pkg-config --cflags siamese) \
   "$(pkg-config --variable=libdir siamese)/libsiamese.a" $(pkg-config --static --libs siamese | sed 's/-lsiamese//')
"$prefix/trainer_static"
# A program with functions named as the library's internals (sm_strdup, sm_grow) links statically
# and keeps them to itself: the library goes on using its own.
cat > "$prefix/same_names.c" <<'C'
#include <siamese.h>
#include <stdio.h>
#include <string.h>
static int mine_called;
char *sm_strdup(const char *s) { mine_called++; return (char *)s; }
int sm_grow(void **items, int *capacity, int needed, size_t item_size) {
    (void)items, (void)capacity, (void)needed, (void)item_size;
    mine_called++;
    return -1;
}
int main(int argc, char **argv) {
    siamese_model_params p = siamese_model_default_params();
    siamese_model *model = NULL, *back = NULL;
    p.arch = "mnist";
    if (argc != 2 || siamese_model_create(&p, &model) || siamese_model_save(model, argv[1]) ||
        siamese_model_load(argv[1], &back)) {
        fprintf(stderr, "same_names: %s\n", model ? siamese_model_errmsg(model) : "no model");
        return 1;
    }
    int same = strcmp(siamese_model_arch(model), siamese_model_arch(back)) == 0;
    siamese_model_free(model);
    siamese_model_free(back);
    if (strcmp(sm_strdup("x"), "x") != 0) return 1;
    printf("same_names: library used its own sm_strdup and sm_grow: %s\n",
           same && mine_called == 1 ? "yes" : "no");
    return !(same && mine_called == 1);
}
C
cc -std=c11 -Wall -Werror "$prefix/same_names.c" -o "$prefix/same_names_static" \
   $(pkg-config --cflags siamese) "$(pkg-config --variable=libdir siamese)/libsiamese.a" \
   $(pkg-config --static --libs siamese | sed 's/-lsiamese//')
"$prefix/same_names_static" "$prefix/model.safetensors"
