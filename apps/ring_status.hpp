// A ring's status as JSON (the one shape both `stat` and `stat --json` print from).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace framering::cli {

// Attaches read-only to `name` and describes it: header, writer liveness, cursor, fps over the
// last second (from the slot table's publish times), readers with lag and drops.
// Throws ring::RingError when the ring cannot be attached.
nlohmann::json ring_status(const std::string& name);

void print_status_table(const nlohmann::json& rings, std::ostream& out);

}  // namespace framering::cli
