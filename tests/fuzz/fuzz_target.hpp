// The one entry point every fuzz target defines (libFuzzer's). The same function is linked into
// a libFuzzer binary (fuzz preset, clang) and into a plain corpus-replay driver (any compiler,
// every preset), so the seed corpus runs as a regression test in ctest.
//
// A target returns 0 for inputs it handled, including rejected ones; a bug shows up as a
// sanitizer report, an uncaught exception or a failed invariant (FUZZ_CHECK aborts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

// Aborts with the failed condition: an input that breaks an invariant is a crash to the fuzzer.
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
