// The open lifecycles of one worker: gives a start its id, lets its updates and end carry the
// same id and start time, and knows what is active now (the retained MQTT state).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "framering/workers/event.hpp"

namespace framering::workers {

struct Lifecycle {
  std::string id;  // "<start unix seconds>.<microseconds>-<6 hex digits>": sortable, file-safe
  std::string kind;
  std::string end_kind;  // the kind of an end the runtime makes (close_all)
  std::string subject;
  std::uint64_t start_time_ns = 0;
  std::uint64_t start_frame_no = 0;
  std::string snapshot;   // path of the start snapshot, "" when none was written
  std::size_t boxes = 0;  // boxes of the latest start/update
  nlohmann::json count;   // the latest "count" field, null when the analytic gives none
  nlohmann::json fields;  // the latest event's analytic fields (carried by a synthetic end)
  // The highest score of the start and updates so far, and the snapshot of the update that
  // raised it above the start's ("" while no update beat the start).
  double best_score = -std::numeric_limits<double>::infinity();
  std::string best_snapshot;
};

class Lifecycles {
 public:
  Lifecycles();
  // Start: opens a lifecycle (an open one of the same subject is replaced). Update/end: the
  // open lifecycle of the subject, or nullptr when there is none (the worker started while it
  // was open): such an event is written without an id. End forgets the lifecycle after the call
  // (the returned copy stays valid). kFrame and kMeasurement: nullptr.
  const Lifecycle* apply(const Event& event, std::uint64_t frame_no, std::uint64_t wall_ns);
  // After apply() of a start: remembers the snapshot written for it.
  void set_snapshot(const std::string& id, const std::string& path);
  // After apply() of an update that beat the best score: remembers its snapshot ("" when none
  // could be written; the score counts all the same).
  void set_best(const std::string& id, double score, const std::string& path);
  // Synthetic end events for every open lifecycle (worker stopping, or a new stream whose
  // geometry invalidates the analytic's state); forgets them.
  std::vector<Event> close_all(const std::string& reason);
  // {"state":"ON"|"OFF","active":[{"id","kind","subject","boxes","count"}...]}
  nlohmann::ordered_json state() const;
  bool empty() const { return open_.empty(); }

 private:
  std::string new_id(std::uint64_t wall_ns);
  std::map<std::string, Lifecycle> open_;  // by subject
  Lifecycle ended_;
  std::mt19937 random_;
};

}  // namespace framering::workers
