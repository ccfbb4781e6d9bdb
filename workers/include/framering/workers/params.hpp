// Analytic settings from repeated `--param key=value`. Each analytic asks for the keys it knows
// (with defaults and ranges); afterwards any key nobody asked for is a ConfigError naming it.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace framering::workers {

class Params {
 public:
  Params() = default;
  // Parses "key=value" items. Throws ConfigError on a missing '=', empty key or repeated key.
  static Params parse(const std::vector<std::string>& items);

  // Typed getters: return `fallback` when the key is absent; throw ConfigError naming the key
  // when the value does not parse or lies outside [min, max].
  double number(const std::string& key, double fallback, double min, double max);
  int integer(const std::string& key, int fallback, int min, int max);
  std::string text(const std::string& key, const std::string& fallback);
  bool flag(const std::string& key, bool fallback);

  // Throws ConfigError for the first given key that no getter asked for, listing the known ones.
  void reject_unknown(const std::string& analytic) const;

 private:
  const std::string* find(const std::string& key);
  std::map<std::string, std::string> values_;
  std::set<std::string> known_;
};

}  // namespace framering::workers
