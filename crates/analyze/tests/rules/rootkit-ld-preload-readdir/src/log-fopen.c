// Near miss for rootkit-ld-preload-readdir: the same preload technique (a libc function
// replaced, the real one reached through dlsym(RTLD_NEXT)) used by a harmless tracing shim
// that wraps fopen and does not touch directory listings.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

FILE *fopen(const char *path, const char *mode) {
  static FILE *(*real)(const char *, const char *);
  if (!real) real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
  if (strncmp(path, "/proc/", 6) != 0) fprintf(stderr, "fopen %s %s\n", path, mode);
  return real(path, mode);
}
