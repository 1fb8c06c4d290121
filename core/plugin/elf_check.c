/* elf_check.c -- a whole ELF shared object, or a reason why not. */
#include "plugin/elf_check.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#if UINTPTR_MAX == 0xffffffffffffffffu
typedef Elf64_Ehdr ehdr_t;
typedef Elf64_Phdr phdr_t;
typedef Elf64_Shdr shdr_t;
#define HOST_CLASS ELFCLASS64
#else
typedef Elf32_Ehdr ehdr_t;
typedef Elf32_Phdr phdr_t;
typedef Elf32_Shdr shdr_t;
#define HOST_CLASS ELFCLASS32
#endif

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#elif defined(__riscv)
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE EM_S390
#else
#define HOST_MACHINE EM_NONE /* unknown here: the architecture is not checked */
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

/* Plugins have a handful of segments and a few dozen sections; these
 * bounds only keep a corrupt count from making us read gigabytes. */
#define MAX_PHDRS 256
#define MAX_SHDRS 65280

static int refuse(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return -ENOEXEC;
}

/* Whether [off, off + len) lies inside a file of size bytes. */
static int inside(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

static int read_at(int fd, void *dst, size_t len, uint64_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t k = pread(fd, (char *)dst + got, len - got, (off_t)(off + got));
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    got += (size_t)k;
  }
  return 0;
}

int elf_check_fd(int fd, char *err, size_t n) {
  struct stat st;
  ehdr_t eh;
  phdr_t *ph = NULL;
  shdr_t *sh = NULL;
  uint64_t size;
  unsigned i;
  int r = -ENOEXEC, loads = 0;

  if (fstat(fd, &st) < 0) {
    snprintf(err, n, "cannot read the file");
    return -EIO;
  }
  size = (uint64_t)st.st_size;
  if (size < sizeof(eh))
    return refuse(err, n, "not an ELF file: %llu bytes is shorter than an ELF header",
                  (unsigned long long)size);
  if (read_at(fd, &eh, sizeof(eh), 0) < 0) {
    snprintf(err, n, "cannot read the ELF header");
    return -EIO;
  }
  if (eh.e_ident[EI_MAG0] != ELFMAG0 || eh.e_ident[EI_MAG1] != ELFMAG1 ||
      eh.e_ident[EI_MAG2] != ELFMAG2 || eh.e_ident[EI_MAG3] != ELFMAG3)
    return refuse(err, n, "not an ELF file (bad magic)");
  if (eh.e_ident[EI_CLASS] != HOST_CLASS)
    return refuse(err, n, "an ELF file of class %u; this mcpd needs class %u",
                  (unsigned)eh.e_ident[EI_CLASS], (unsigned)HOST_CLASS);
  if (eh.e_ident[EI_DATA] != HOST_DATA)
    return refuse(err, n, "an ELF file of the other byte order (%u; this machine: %u)",
                  (unsigned)eh.e_ident[EI_DATA], (unsigned)HOST_DATA);
  if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
    return refuse(err, n, "an ELF file of unknown version %u", (unsigned)eh.e_version);
  if (eh.e_type != ET_DYN)
    return refuse(err, n, "an ELF file of type %u, not a shared object (%u)", (unsigned)eh.e_type,
                  (unsigned)ET_DYN);
  if (HOST_MACHINE != EM_NONE && eh.e_machine != HOST_MACHINE)
    return refuse(err, n, "built for machine %u; this is machine %u", (unsigned)eh.e_machine,
                  (unsigned)HOST_MACHINE);
  if (eh.e_ehsize < sizeof(eh) || eh.e_phentsize != sizeof(phdr_t))
    return refuse(err, n, "corrupt ELF header (header size %u, program header size %u)",
                  (unsigned)eh.e_ehsize, (unsigned)eh.e_phentsize);
  if (eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS)
    return refuse(err, n, "corrupt ELF header: %u program headers", (unsigned)eh.e_phnum);
  if (!inside(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(phdr_t), size))
    return refuse(err, n,
                  "truncated or corrupt: the program headers end past the file's %llu "
                  "bytes (at %llu)",
                  (unsigned long long)size, (unsigned long long)eh.e_phoff);

  ph = calloc(eh.e_phnum, sizeof(*ph));
  if (ph == NULL) {
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  if (read_at(fd, ph, eh.e_phnum * sizeof(*ph), eh.e_phoff) < 0) {
    snprintf(err, n, "cannot read the program headers");
    r = -EIO;
    goto done;
  }
  for (i = 0; i < eh.e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD && ph[i].p_type != PT_DYNAMIC)
      continue;
    if (!inside(ph[i].p_offset, ph[i].p_filesz, size)) {
      r = refuse(err, n, "truncated or corrupt: a segment ends at byte %llu of a %llu-byte file",
                 (unsigned long long)ph[i].p_offset + ph[i].p_filesz, (unsigned long long)size);
      goto done;
    }
    if (ph[i].p_type == PT_LOAD) {
      if (ph[i].p_filesz > ph[i].p_memsz) {
        r = refuse(err, n, "corrupt: a segment has %llu bytes in the file but %llu in memory",
                   (unsigned long long)ph[i].p_filesz, (unsigned long long)ph[i].p_memsz);
        goto done;
      }
      loads++;
    }
  }
  if (loads == 0) {
    r = refuse(err, n, "corrupt: no loadable segment");
    goto done;
  }

  /* Sections are not mapped by dlopen(), but the linker writes them, and
   * the section header table last: a file cut anywhere after its segments
   * loses them, so checking them too refuses every truncation. */
  if (eh.e_shnum > 0) {
    if (eh.e_shentsize != sizeof(shdr_t) || eh.e_shnum > MAX_SHDRS) {
      r = refuse(err, n, "corrupt ELF header (%u sections of %u bytes)", (unsigned)eh.e_shnum,
                 (unsigned)eh.e_shentsize);
      goto done;
    }
    if (!inside(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(shdr_t), size)) {
      r = refuse(err, n,
                 "truncated or corrupt: the section headers end past the file's %llu bytes "
                 "(at %llu)",
                 (unsigned long long)size, (unsigned long long)eh.e_shoff);
      goto done;
    }
    sh = calloc(eh.e_shnum, sizeof(*sh));
    if (sh == NULL) {
      snprintf(err, n, "out of memory");
      r = -ENOMEM;
      goto done;
    }
    if (read_at(fd, sh, eh.e_shnum * sizeof(*sh), eh.e_shoff) < 0) {
      snprintf(err, n, "cannot read the section headers");
      r = -EIO;
      goto done;
    }
    for (i = 0; i < eh.e_shnum; i++) {
      if (sh[i].sh_type == SHT_NOBITS || sh[i].sh_type == SHT_NULL)
        continue;
      if (!inside(sh[i].sh_offset, sh[i].sh_size, size)) {
        r = refuse(err, n, "truncated or corrupt: a section ends at byte %llu of a %llu-byte file",
                   (unsigned long long)sh[i].sh_offset + sh[i].sh_size, (unsigned long long)size);
        goto done;
      }
    }
  }
  r = 0;
done:
  free(ph);
  free(sh);
  return r;
}
