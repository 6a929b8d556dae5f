#!/usr/bin/env bash
# Installs the built library into a temporary prefix and builds a tiny program with pkg-config.
set -euo pipefail
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$SIAMESE_BINARY_DIR" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
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
