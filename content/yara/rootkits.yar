// User-mode rootkits loaded through the dynamic linker: shared objects that replace libc's
// directory-listing functions to hide processes and files, and the scripts that install them
// in /etc/ld.so.preload.

rule rootkit_ld_preload_readdir {
  meta:
    id = "rootkit-ld-preload-readdir"
    title = "Shared object hooking readdir to hide files or processes"
    severity = "critical"
    confidence = "high"
    attack = "T1014,T1574.006"
    description = "A small ELF shared object that defines its own readdir/readdir64, imports dlsym to reach the real libc function (RTLD_NEXT), and reads /proc: the libprocesshider design that hides a miner from ps and top once preloaded."
    reference = "https://github.com/gianlucaborello/libprocesshider (design of the readdir hook); MITRE ATT&CK T1574.006 Dynamic Linker Hijacking"
  strings:
    $readdir = "readdir\x00"
    $readdir64 = "readdir64\x00"
    $dlsym = "dlsym\x00"
    $proc = "/proc/"
  condition:
    // The dynamic symbol table is read by hand instead of through the elf module, whose parse
    // of every ELF file would halve the scan rate. ELF64 little-endian shared object; section
    // headers at e_shoff (0x28, low 32 bits), e_shnum at 0x3c, 64 bytes each: sh_type +4,
    // sh_offset +0x18, sh_size +0x20, sh_link +0x28 (the string table). Symbols are 24 bytes:
    // st_name +0, st_info +4 (type in the low nibble, 2 = function), st_shndx +6 (0 = imported).
    // Fewer than 600 symbols: sanitizer runtimes (libasan, libtsan) intercept readdir the same
    // way but export thousands; a preload rootkit exports a handful.
    uint32(0) == 0x464c457f and uint8(4) == 2 and uint8(5) == 1 and uint16(16) == 3
    and ($readdir or $readdir64) and $dlsym and $proc
    and for any i in (0 .. uint16(0x3c) - 1) : (
      uint32(uint32(0x28) + i * 64 + 4) == 11
      and uint32(uint32(0x28) + i * 64 + 0x20) \ 24 < 600
      // a defined function named readdir or readdir64
      and for any j in (1 .. uint32(uint32(0x28) + i * 64 + 0x20) \ 24 - 1) : (
        uint16(uint32(uint32(0x28) + i * 64 + 0x18) + j * 24 + 6) != 0
        and uint8(uint32(uint32(0x28) + i * 64 + 0x18) + j * 24 + 4) & 0xf == 2
        and (
          $readdir at (uint32(uint32(0x28) + uint32(uint32(0x28) + i * 64 + 0x28) * 64 + 0x18) + uint32(uint32(uint32(0x28) + i * 64 + 0x18) + j * 24))
          or $readdir64 at (uint32(uint32(0x28) + uint32(uint32(0x28) + i * 64 + 0x28) * 64 + 0x18) + uint32(uint32(uint32(0x28) + i * 64 + 0x18) + j * 24))
        )
      )
      // an imported dlsym
      and for any j in (1 .. uint32(uint32(0x28) + i * 64 + 0x20) \ 24 - 1) : (
        uint16(uint32(uint32(0x28) + i * 64 + 0x18) + j * 24 + 6) == 0
        and $dlsym at (uint32(uint32(0x28) + uint32(uint32(0x28) + i * 64 + 0x28) * 64 + 0x18) + uint32(uint32(uint32(0x28) + i * 64 + 0x18) + j * 24))
      )
    )
}

rule rootkit_ld_so_preload_writer {
  meta:
    id = "rootkit-ld-so-preload-writer"
    title = "Script that writes /etc/ld.so.preload"
    severity = "high"
    confidence = "high"
    attack = "T1574.006,T1014"
    description = "A command that writes a library path into /etc/ld.so.preload (echo/printf redirected, tee, cp or mv onto it), so every program on the system loads it: how user-mode rootkits and miner hiders install themselves."
    reference = "https://man7.org/linux/man-pages/man8/ld.so.8.html (/etc/ld.so.preload); MITRE ATT&CK T1574.006"
  strings:
    $redirect = /(echo|printf)\s[^\n]{0,200}>{1,2}\s*["']?\/etc\/ld\.so\.preload\b/
    $tee = /\btee\s+(-a\s+)?["']?\/etc\/ld\.so\.preload\b/
    $copy = /\b(cp|mv|install)\s+(-[a-zA-Z]+\s+)*[^\s]+\s+["']?\/etc\/ld\.so\.preload\b/
  condition:
    $redirect or $tee or $copy
}
