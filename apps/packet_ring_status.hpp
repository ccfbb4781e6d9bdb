// The packet ring beside a camera's frame ring, as `framering stat` shows it: capacity, packets
// and bytes published, the seconds of history it holds now against the seconds asked, how it was
// sized, the writer's state, and its readers (recorders) with their lag in bytes.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace framering::cli {

// null when the ring has no packet ring (no --packet-history). `owner`: the frame ring's owner;
// the packet ring and its readers' stats files count only when owned by it or by this user.
nlohmann::json packet_ring_status(const std::string& name, uid_t owner);

// The packet ring's lines under its ring in the table (nothing for null).
void print_packet_ring(const nlohmann::json& packets, std::ostream& out);

}  // namespace framering::cli
