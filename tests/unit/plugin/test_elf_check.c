/* test_elf_check.c -- elf_check_fd() accepts a real plugin and refuses it
 * cut to every shorter length, and with each kind of corrupt header. A cut
 * file handed to dlopen() raises SIGBUS inside it; the last check here
 * dlopen()s the whole file to show the one that passes does load. */
#include "plugin/elf_check.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#ifndef TEST_PLUGIN
#error "TEST_PLUGIN: the path of a built plugin"
#endif

static unsigned char *whole;
static size_t whole_len;
static char tmp_path[] = "/tmp/mcpd-elf-XXXXXX";

static int load_whole(void) {
  int fd = open(TEST_PLUGIN, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return -1;
  whole_len = (size_t)st.st_size;
  whole = malloc(whole_len);
  if (whole == NULL || read(fd, whole, whole_len) != (ssize_t)whole_len)
    return -1;
  close(fd);
  return 0;
}

/* Writes len bytes of data to the temporary file and checks it. */
static int check_bytes(const unsigned char *data, size_t len, char *err, size_t n) {
  int fd = open(tmp_path, O_RDWR | O_TRUNC), r;
  if (fd < 0 || write(fd, data, len) != (ssize_t)len)
    return -999;
  r = elf_check_fd(fd, err, n);
  close(fd);
  return r;
}

static void test_whole_file(void) {
  char err[256] = "";
  int r = check_bytes(whole, whole_len, err, sizeof(err));
  CHECK_EQ_INT(r, 0);
  if (r != 0)
    fprintf(stderr, "  refused: %s\n", err);
}

/* Every shorter length, from the last byte down to none: ftruncate() on one
 * file, so the whole range costs no rewrites. */
static void test_every_cut(void) {
  char err[256];
  size_t cut, accepted = 0;
  int fd = open(tmp_path, O_RDWR | O_TRUNC);
  CHECK(fd >= 0 && write(fd, whole, whole_len) == (ssize_t)whole_len);
  for (cut = whole_len; cut-- > 0;) {
    err[0] = '\0';
    CHECK(ftruncate(fd, (off_t)cut) == 0);
    if (elf_check_fd(fd, err, sizeof(err)) != -ENOEXEC) {
      accepted++;
      if (accepted < 5)
        fprintf(stderr, "  cut at %zu of %zu accepted\n", cut, whole_len);
    }
    if (err[0] == '\0')
      accepted++;
  }
  close(fd);
  CHECK_EQ_INT(accepted, 0);
}

/* A copy of the file with one change, which must be refused. */
static void expect_refused(const char *what, void (*change)(unsigned char *copy)) {
  unsigned char *copy = malloc(whole_len);
  char err[256] = "";
  int r;
  memcpy(copy, whole, whole_len);
  change(copy);
  r = check_bytes(copy, whole_len, err, sizeof(err));
  if (r != -ENOEXEC)
    fprintf(stderr, "  %s: got %d\n", what, r);
  CHECK_EQ_INT(r, -ENOEXEC);
  CHECK(err[0] != '\0');
  free(copy);
}

#define EH(c) ((Elf64_Ehdr *)(c))
static Elf64_Phdr *first_load(unsigned char *c) {
  Elf64_Phdr *ph = (Elf64_Phdr *)(c + EH(c)->e_phoff);
  int i;
  for (i = 0; i < EH(c)->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD)
      return &ph[i];
  return NULL;
}
static void bad_magic(unsigned char *c) {
  c[1] = 'X';
}
static void bad_class(unsigned char *c) {
  c[EI_CLASS] = ELFCLASS32;
}
static void bad_data(unsigned char *c) {
  c[EI_DATA] = ELFDATA2MSB;
}
static void bad_type(unsigned char *c) {
  EH(c)->e_type = ET_EXEC;
}
static void bad_machine(unsigned char *c) {
  EH(c)->e_machine = EH(c)->e_machine == EM_AARCH64 ? EM_X86_64 : EM_AARCH64;
}
static void bad_phoff(unsigned char *c) {
  EH(c)->e_phoff = (Elf64_Off)whole_len - 8;
}
static void bad_phnum(unsigned char *c) {
  EH(c)->e_phnum = 60000;
}
static void no_phdrs(unsigned char *c) {
  EH(c)->e_phnum = 0;
}
static void bad_phentsize(unsigned char *c) {
  EH(c)->e_phentsize = 12;
}
static void load_past_end(unsigned char *c) {
  first_load(c)->p_filesz = (Elf64_Xword)whole_len + 4096;
}
static void load_offset_huge(unsigned char *c) {
  first_load(c)->p_offset = UINT64_MAX - 16;
}
static void filesz_over_memsz(unsigned char *c) {
  Elf64_Phdr *ph = first_load(c);
  ph->p_memsz = ph->p_filesz - 1;
}
static void bad_shoff(unsigned char *c) {
  EH(c)->e_shoff = (Elf64_Off)whole_len;
}
static void section_past_end(unsigned char *c) {
  Elf64_Shdr *sh = (Elf64_Shdr *)(c + EH(c)->e_shoff);
  int i;
  for (i = 1; i < EH(c)->e_shnum; i++)
    if (sh[i].sh_type != SHT_NOBITS) {
      sh[i].sh_size = (Elf64_Xword)whole_len;
      return;
    }
}

static void test_corrupt_headers(void) {
  if (((Elf64_Ehdr *)whole)->e_ident[EI_CLASS] != ELFCLASS64) {
    fprintf(stderr, "  (skipped: the corruptions are written for 64-bit ELF)\n");
    return;
  }
  expect_refused("bad magic", bad_magic);
  expect_refused("32-bit class", bad_class);
  expect_refused("big-endian", bad_data);
  expect_refused("ET_EXEC", bad_type);
  expect_refused("other machine", bad_machine);
  expect_refused("program headers past the end", bad_phoff);
  expect_refused("60000 program headers", bad_phnum);
  expect_refused("no program headers", no_phdrs);
  expect_refused("wrong program header size", bad_phentsize);
  expect_refused("PT_LOAD past the end", load_past_end);
  expect_refused("PT_LOAD offset overflowing", load_offset_huge);
  expect_refused("p_filesz > p_memsz", filesz_over_memsz);
  expect_refused("section headers past the end", bad_shoff);
  expect_refused("a section past the end", section_past_end);
}

static void test_not_elf(void) {
  char err[256];
  static const unsigned char text[] = "this is a text file, not a shared object\n";
  CHECK_EQ_INT(check_bytes(text, sizeof(text) - 1, err, sizeof(err)), -ENOEXEC);
  CHECK_EQ_INT(check_bytes(text, 0, err, sizeof(err)), -ENOEXEC);
  CHECK(strstr(err, "shorter than an ELF header") != NULL);
}

/* What passes loads: the whole file dlopen()s (it is a real plugin). */
static void test_accepted_loads(void) {
  void *dl = dlopen(TEST_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  CHECK(dl != NULL);
  if (dl != NULL)
    dlclose(dl);
}

int main(void) {
  int fd = mkstemp(tmp_path);
  if (fd < 0 || load_whole() < 0) {
    fprintf(stderr, "cannot set up (%s)\n", TEST_PLUGIN);
    return 1;
  }
  close(fd);
  RUN(test_whole_file);
  RUN(test_every_cut);
  RUN(test_corrupt_headers);
  RUN(test_not_elf);
  RUN(test_accepted_loads);
  unlink(tmp_path);
  free(whole);
  TEST_MAIN_END();
}
