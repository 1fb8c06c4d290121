# flags.cmake -- the compiler flags of a fuzzing build (-DMCPD_FUZZ=ON),
# included by the top-level CMakeLists.txt before any target is made.
# Everything is compiled with libFuzzer's coverage instrumentation and
# ASan+UBSan (-fsanitize=fuzzer-no-link,address,undefined) and linked with
# the sanitizer runtimes; the fuzz targets (fuzz/CMakeLists.txt) add
# -fsanitize=fuzzer for libFuzzer's main. Plugins link without -z defs, as
# under MCPD_SANITIZE with clang: the runtimes live in the executable.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "MCPD_FUZZ=ON needs clang (libFuzzer is part of clang's runtime), but the C "
                      "compiler is ${CMAKE_C_COMPILER_ID} (${CMAKE_C_COMPILER}). Configure a fresh "
                      "build directory with -DCMAKE_C_COMPILER=clang-14 (fuzz/run.sh does).")
endif()
if(MCPD_SANITIZE OR MCPD_TSAN)
  message(FATAL_ERROR "MCPD_FUZZ already builds with ASan+UBSan: leave MCPD_SANITIZE and MCPD_TSAN off")
endif()

add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
set(MCPD_PLUGIN_ALLOW_SANITIZER_UNDEFINED ON)
