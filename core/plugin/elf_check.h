/* elf_check.h -- checks that a file is a whole ELF shared object for this
 * machine before it is handed to dlopen(). The dynamic loader maps the
 * file's segments as the headers say; a segment that reaches past the end
 * of a truncated file is mapped anyway, and touching it raises SIGBUS
 * inside dlopen(), which kills the process. So every header, segment and
 * section must lie inside the file. Reads with pread(), never mmap(), so a
 * short file cannot fault here either. Pure apart from reading the file;
 * any thread. */
#ifndef MCPD_ELF_CHECK_H
#define MCPD_ELF_CHECK_H

#include <stddef.h>

/* Checks the file open as fd (borrowed; its offset is not used). Returns 0
 * when it is a complete ELF shared object (ET_DYN) of this machine's
 * class, byte order and architecture whose program headers, PT_LOAD and
 * PT_DYNAMIC segments and sections all lie inside the file; else -ENOEXEC
 * with the reason in err (size n), or -EIO when it cannot be read. */
int elf_check_fd(int fd, char *err, size_t n);

#endif
