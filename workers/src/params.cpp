#include "framering/workers/params.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "framering/workers/config_error.hpp"

namespace framering::workers {

namespace {

std::string range_text(double min, double max) {
  auto fmt = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  return "[" + fmt(min) + ", " + fmt(max) + "]";
}

}  // namespace

Params Params::parse(const std::vector<std::string>& items) {
  Params p;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError("--param '" + item + "': expected key=value (e.g. --param min_area=400)");
    }
    const std::string key = item.substr(0, eq);
    if (!p.values_.emplace(key, item.substr(eq + 1)).second) {
      throw ConfigError("--param " + key + " given twice: keep one");
    }
  }
  return p;
}

const std::string* Params::find(const std::string& key) {
  known_.insert(key);
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

double Params::number(const std::string& key, double fallback, double min, double max) {
  const std::string* v = find(key);
  if (!v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !std::isfinite(d) || d < min || d > max) {
    throw ConfigError("--param " + key + "=" + *v + ": expected a number in " +
                      range_text(min, max));
  }
  return d;
}

int Params::integer(const std::string& key, int fallback, int min, int max) {
  const std::string* v = find(key);
  if (!v) return fallback;
  int out = 0;
  const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc{} || ptr != v->data() + v->size() || out < min || out > max) {
    throw ConfigError("--param " + key + "=" + *v + ": expected an integer in " +
                      range_text(min, max));
  }
  return out;
}

std::string Params::text(const std::string& key, const std::string& fallback) {
  const std::string* v = find(key);
  return v ? *v : fallback;
}

bool Params::flag(const std::string& key, bool fallback) {
  const std::string* v = find(key);
  if (!v) return fallback;
  if (*v == "1" || *v == "true" || *v == "yes" || *v == "on") return true;
  if (*v == "0" || *v == "false" || *v == "no" || *v == "off") return false;
  throw ConfigError("--param " + key + "=" + *v + ": expected true or false");
}

void Params::reject_unknown(const std::string& analytic) const {
  for (const auto& [key, value] : values_) {
    if (known_.count(key)) continue;
    std::string list;
    for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
    throw ConfigError("--param " + key + ": unknown key for analytic '" + analytic +
                      "' (known keys: " + (list.empty() ? "none" : list) + ")");
  }
}

}  // namespace framering::workers
