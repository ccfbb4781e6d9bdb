#include "labels.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "coco80_text.hpp"
#include "framering/workers/config_error.hpp"

namespace framering::workers::analytics::objects {

namespace {

std::vector<std::string> split_lines(const std::string& text, const std::string& origin) {
  std::vector<std::string> names;
  std::stringstream in(text);
  std::string line;
  std::size_t blank_at = 0;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty()) {
      if (!blank_at) blank_at = line_no;
      continue;
    }
    if (blank_at) {
      throw ConfigError("--param labels=" + origin + ": line " + std::to_string(blank_at) +
                        " is empty; one class name per line, in class-id order");
    }
    if (line.size() > 200) {
      throw ConfigError("--param labels=" + origin + ": line " + std::to_string(line_no) +
                        " is longer than 200 characters; is this a labels file?");
    }
    names.push_back(line);
  }
  if (names.empty()) {
    throw ConfigError("--param labels=" + origin + ": no class names; one name per line");
  }
  return names;
}

}  // namespace

const std::vector<std::string>& coco80() {
  static const std::vector<std::string> names = split_lines(kCoco80Text, "(built-in coco80)");
  return names;
}

std::vector<std::string> load_labels(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("--param labels=" + path + ": cannot read (" + std::strerror(errno) +
                      "); give a text file with one class name per line, or leave labels out "
                      "for the 80 COCO names");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return split_lines(text.str(), path);
}

}  // namespace framering::workers::analytics::objects
