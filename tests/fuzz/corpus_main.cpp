// Replays every file of the given corpus directories (or single files) through the target's
// LLVMFuzzerTestOneInput, like `fuzzer -runs=0 DIR` does, without needing clang or libFuzzer.
// Exits 1 when a directory is missing or empty, so a lost corpus cannot pass silently.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_target.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR|FILE...\n";
    return 2;
  }
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<fs::path> files;
    const fs::path arg = argv[i];
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (fs::is_regular_file(arg)) {
      files.push_back(arg);
    }
    if (files.empty()) {
      std::cerr << arg << ": no corpus files (run tests/fuzz/make_seeds.py)\n";
      return 1;
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      const std::vector<std::uint8_t> bytes = read_file(file);
      // A copy of exactly `size` bytes on the heap, as libFuzzer passes it: ASan sees overreads.
      auto* copy = new std::uint8_t[std::max<std::size_t>(bytes.size(), 1)];
      std::copy(bytes.begin(), bytes.end(), copy);
      LLVMFuzzerTestOneInput(copy, bytes.size());
      delete[] copy;
      ++runs;
    }
  }
  std::cout << "replayed " << runs << " corpus input(s) without a failure\n";
  return 0;
}
