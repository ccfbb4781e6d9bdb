#include "lifecycles.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace framering::workers {

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::kStart:
      return "start";
    case Phase::kUpdate:
      return "update";
    case Phase::kEnd:
      return "end";
    case Phase::kFrame:
      return "frame";
    case Phase::kMeasurement:
      return "measurement";
  }
  return "frame";
}

Lifecycles::Lifecycles() : random_(std::random_device{}()) {}

std::string Lifecycles::new_id(std::uint64_t wall_ns) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%" PRIu64 ".%06" PRIu64 "-%06x", wall_ns / 1000000000u,
                (wall_ns / 1000u) % 1000000u, static_cast<unsigned>(random_() & 0xffffffu));
  return buf;
}

const Lifecycle* Lifecycles::apply(const Event& event, std::uint64_t frame_no,
                                   std::uint64_t wall_ns) {
  auto remember = [&](Lifecycle& l) {
    l.boxes = event.boxes.size();
    const auto count = event.fields.find("count");
    l.count = count != event.fields.end() ? *count : nlohmann::json();
    l.fields = event.fields;
  };
  switch (event.phase) {
    case Phase::kStart: {
      Lifecycle& l = open_[event.subject];
      l = Lifecycle{};
      l.id = new_id(wall_ns);
      l.kind = event.kind;
      l.end_kind = event.end_kind.empty() ? event.kind : event.end_kind;
      l.subject = event.subject;
      l.start_time_ns = wall_ns;
      l.start_frame_no = frame_no;
      for (const double s : event.scores) l.best_score = std::max(l.best_score, s);
      remember(l);
      return &l;
    }
    case Phase::kUpdate: {
      const auto it = open_.find(event.subject);
      if (it == open_.end()) return nullptr;
      remember(it->second);  // best_score is raised by set_best(), with its snapshot
      return &it->second;
    }
    case Phase::kEnd: {
      const auto it = open_.find(event.subject);
      if (it == open_.end()) return nullptr;
      ended_ = std::move(it->second);
      open_.erase(it);
      return &ended_;
    }
    case Phase::kFrame:
    case Phase::kMeasurement:
      break;
  }
  return nullptr;
}

void Lifecycles::set_snapshot(const std::string& id, const std::string& path) {
  for (auto& [subject, l] : open_) {
    if (l.id == id) l.snapshot = path;
  }
}

void Lifecycles::set_best(const std::string& id, double score, const std::string& path) {
  for (auto& [subject, l] : open_) {
    if (l.id != id) continue;
    l.best_score = score;
    if (!path.empty()) l.best_snapshot = path;
  }
}

std::vector<Event> Lifecycles::close_all(const std::string& reason) {
  std::vector<Event> out;
  for (const auto& [subject, l] : open_) {
    Event e;
    e.kind = l.end_kind;
    e.phase = Phase::kEnd;
    e.subject = subject;
    e.fields = l.fields.is_object() ? l.fields : nlohmann::json::object();
    e.fields["end_reason"] = reason;
    out.push_back(std::move(e));
  }
  return out;
}

nlohmann::ordered_json Lifecycles::state() const {
  nlohmann::ordered_json s;
  s["state"] = open_.empty() ? "OFF" : "ON";
  nlohmann::ordered_json active = nlohmann::ordered_json::array();
  for (const auto& [subject, l] : open_) {
    nlohmann::ordered_json a;
    a["id"] = l.id;
    a["kind"] = l.kind;
    a["subject"] = l.subject;
    a["boxes"] = l.boxes;
    if (!l.count.is_null()) a["count"] = l.count;
    active.push_back(std::move(a));
  }
  s["active"] = std::move(active);
  return s;
}

}  // namespace framering::workers
