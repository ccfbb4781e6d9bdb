// A ring's status as JSON (the one shape both `stat` and `stat --json` print from).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include <sys/types.h>

namespace framering::cli {

// Attaches read-only to `name` and describes it: header, writer liveness, cursor, fps over the
// last second (from the slot table's publish times), readers with lag and drops, and the packet
// ring beside it ("packet_ring": null without one; packet_ring_status.hpp).
// Throws ring::RingError when the ring cannot be attached.
// `owners`: uids whose segment is trusted (empty: any, for a ring asked for by name). Reader
// stats files count only when owned by this user or by the ring's owner.
nlohmann::json ring_status(const std::string& name, const std::vector<uid_t>& owners = {});

// Per-second rates between two samples of the same rings (`before` taken earlier by
// ring_status()): sets "mb_per_s" (published) on each ring, and "fps", "mb_per_s_in_place" and
// "drops_per_s" on each reader found in both samples (same ring epoch, same reader pid). Rates
// that cannot be computed (first sample, new epoch, restarted reader) are null.
void add_rates(nlohmann::json& rings, const nlohmann::json& before);

// A top-like table: one line per ring, then one line per reader of it. Null rates print "-".
void print_status_table(const nlohmann::json& rings, std::ostream& out);

}  // namespace framering::cli
