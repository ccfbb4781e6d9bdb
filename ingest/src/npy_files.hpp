// Which files an `npy:<dir or glob>` source names, in the order they become frames.
#pragma once

#include <string>
#include <vector>

namespace framering::ingest {

// A directory gives its *.npy files; anything else is a glob(3) pattern. Sorted by name.
std::vector<std::string> list_npy_files(const std::string& dir_or_glob);

}  // namespace framering::ingest
