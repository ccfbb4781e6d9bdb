#include "framering/supervisor/stats.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <set>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/reader_stats.hpp"

namespace framering::supervisor {

namespace {

std::string fixed1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

PipelineStats::PipelineStats(const std::vector<ChildSpec>& plan) {
  for (const ChildSpec& c : plan) {
    if (c.kind == ChildKind::kIngest && !c.packets_only) {  // one frame ring per camera
      CameraStats cam;
      cam.camera = c.camera;
      cam.ring = c.ring;
      cameras_.push_back(cam);
      readers_.emplace_back();
    } else if (c.kind == ChildKind::kWorker) {  // a recorder is not counted among the workers
      WorkerStats w;
      w.label = c.label;
      w.camera = c.camera;
      w.ring = c.ring;
      w.worker_id = c.worker_id;
      w.analytic = c.analytic;
      workers_.push_back(w);
    }
  }
}

PipelineStats::~PipelineStats() = default;

void PipelineStats::sample_ring(CameraStats& cam, std::size_t index) {
  auto& reader = readers_[index];
  // A ring whose writer died or closed is finished: its final cursor is still in our mapping.
  if (reader) {
    cam.cursor = reader->cursor();
    const bool closed = reader->state() == ring::State::kClosed;
    if (closed || !reader->writer_alive()) reader.reset();
  }
  if (!reader) {
    try {
      // Only a segment of our own user (our ingest made it): anyone can plant a file under the
      // ring's name, and one its owner truncates under our mapping would SIGBUS the supervisor.
      ring::ReaderOptions options;
      options.owners = {::geteuid()};
      auto fresh = std::make_unique<ring::Reader>(ring::Reader::attach(cam.ring, options));
      const std::uint64_t epoch = fresh->info().epoch;
      if (epoch != cam.epoch) {
        cam.earlier += cam.cursor;
        cam.cursor = 0;
        cam.epoch = epoch;
        ++cam.epochs;
      }
      cam.cursor = fresh->cursor();
      const bool closed = fresh->state() == ring::State::kClosed;
      if (!closed) reader = std::move(fresh);
    } catch (const ring::RingError&) {
      // Not there (yet, or between an ingest's exit and its restart): try again next sample.
    }
  }
}

void PipelineStats::sample(std::uint64_t now_ns) {
  const double dt = last_sample_ns_ ? static_cast<double>(now_ns - *last_sample_ns_) / 1e9 : 0.0;
  std::map<std::string, std::vector<ring::ReaderStatsSnapshot>> by_ring;
  for (std::size_t i = 0; i < cameras_.size(); ++i) {
    CameraStats& cam = cameras_[i];
    const std::uint64_t before = cam.earlier + cam.cursor;
    sample_ring(cam, i);
    const std::uint64_t after = cam.earlier + cam.cursor;
    cam.published = after;
    cam.fps = dt > 0 ? static_cast<double>(after - before) / dt : 0.0;
    // Private copies of our own user's stats files only (read_reader_stats' default).
    by_ring[cam.ring] = ring::read_reader_stats(cam.ring);
  }
  for (WorkerStats& w : workers_) {
    const std::uint64_t before = w.frames_read;
    absorb(w, by_ring[w.ring]);
    w.fps = dt > 0 ? static_cast<double>(w.frames_read - before) / dt : 0.0;
  }
  last_sample_ns_ = now_ns;
}

void PipelineStats::absorb(WorkerStats& w,
                           const std::vector<ring::ReaderStatsSnapshot>& snapshots) {
  for (const ring::ReaderStatsSnapshot& s : snapshots) {
    if (s.reader != w.worker_id) continue;
    // A new process, or counters that went backwards, start a new run of counters.
    if (s.pid != w.pid || s.frames_read < w.cur_read || s.lapped < w.cur_lapped) {
      w.old_read += w.cur_read;
      w.old_lapped += w.cur_lapped;
      w.old_torn += w.cur_torn;
      w.old_skipped += w.cur_skipped;
      w.pid = s.pid;
    }
    w.cur_read = s.frames_read;
    w.cur_lapped = s.lapped;
    w.cur_torn = s.torn;
    w.cur_skipped = s.skipped;
  }
  w.frames_read = w.old_read + w.cur_read;
  w.lapped = w.old_lapped + w.cur_lapped;
  w.torn = w.old_torn + w.cur_torn;
  w.skipped = w.old_skipped + w.cur_skipped;
}

void PipelineStats::worker_exited(const ChildSpec& child) {
  // A killed worker's stats file outlives it until its replacement starts: take its last counters
  // now, or the frames since the previous sample would be missing from the totals.
  for (WorkerStats& w : workers_) {
    if (w.label == child.label) absorb(w, ring::read_reader_stats(w.ring));
  }
}

bool PipelineStats::count_event(const std::string& label, std::string_view line) {
  const auto event = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (event.is_discarded() || !event.is_object()) return false;
  for (WorkerStats& w : workers_) {
    if (w.label != label) continue;
    ++w.events;
    // Lifecycle events count as <kind>_<type> (motion_start, people_end), like
    // framering_events_total; per-frame records (checksum) by kind.
    const auto kind = event.find("kind");
    const auto type = event.find("type");
    std::string name = kind != event.end() && kind->is_string() ? kind->get<std::string>() : "?";
    if (type != event.end() && type->is_string() && *type != "frame")
      name += "_" + type->get<std::string>();
    ++w.kinds[name];
    const auto boxes = event.find("boxes");
    if (boxes != event.end() && boxes->is_array()) w.boxes += boxes->size();
  }
  return true;
}

void PipelineStats::count_restart(const ChildSpec& child) {
  if (child.kind == ChildKind::kIngest) {
    for (CameraStats& cam : cameras_) {
      if (cam.camera == child.camera) ++cam.restarts;
    }
  } else {
    for (WorkerStats& w : workers_) {
      if (w.label == child.label) ++w.restarts;
    }
  }
}

std::uint64_t PipelineStats::total_events() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w.events;
  return n;
}

std::uint64_t PipelineStats::total_drops() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w.drops();
  return n;
}

std::uint32_t PipelineStats::total_restarts() const {
  std::uint32_t n = 0;
  for (const auto& c : cameras_) n += c.restarts;
  for (const auto& w : workers_) n += w.restarts;
  return n;
}

std::string PipelineStats::progress_line() const {
  const std::string tail = " | drops " + std::to_string(total_drops()) + " | events " +
                           std::to_string(total_events()) + " | restarts " +
                           std::to_string(total_restarts());
  if (cameras_.size() > kCompactAbove) return compact_progress() + tail;
  std::string out;
  for (const CameraStats& cam : cameras_) {
    out += (out.empty() ? "" : " | ") + cam.camera + " " + fixed1(cam.fps) + " fps in:";
    for (const WorkerStats& w : workers_) {
      if (w.camera == cam.camera) out += " " + w.worker_id + " " + fixed1(w.fps);
    }
  }
  return out + tail;
}

std::string PipelineStats::compact_progress() const {
  double in = 0;
  const CameraStats* slowest_cam = &cameras_.front();
  for (const CameraStats& cam : cameras_) {
    in += cam.fps;
    if (cam.fps < slowest_cam->fps) slowest_cam = &cam;
  }
  std::string out = std::to_string(cameras_.size()) + " cameras " + fixed1(in) +
                    " fps in (slowest " + slowest_cam->camera + " " + fixed1(slowest_cam->fps) +
                    ")";
  if (workers_.empty()) return out;
  double analysed = 0;
  const WorkerStats* slowest = &workers_.front();
  for (const WorkerStats& w : workers_) {
    analysed += w.fps;
    if (w.fps < slowest->fps) slowest = &w;
  }
  return out + " | " + std::to_string(workers_.size()) + " workers " + fixed1(analysed) +
         " fps (slowest " + slowest->label + " " + fixed1(slowest->fps) + ")";
}

std::string PipelineStats::summary(double elapsed_s) const {
  std::string out = "framering run summary (" + fixed1(elapsed_s) + " s)\n";
  if (cameras_.size() > kCompactAbove) return out + compact_summary(elapsed_s);
  for (const CameraStats& cam : cameras_) {
    const double fps = elapsed_s > 0 ? static_cast<double>(cam.published) / elapsed_s : 0.0;
    out += "  camera " + cam.camera + " (ring " + cam.ring + "): " + std::to_string(cam.published) +
           " frames published (" + fixed1(fps) + " fps), " + std::to_string(cam.restarts) +
           " restarts\n";
    for (const WorkerStats& w : workers_) {
      if (w.camera != cam.camera) continue;
      out += "    worker " + w.worker_id + " (" + w.analytic +
             "): " + std::to_string(w.frames_read) + " frames analysed, " +
             std::to_string(w.drops()) + " dropped (lapped " + std::to_string(w.lapped) +
             ", torn " + std::to_string(w.torn) + ", skipped " + std::to_string(w.skipped) + "), " +
             std::to_string(w.events) + " events";
      if (!w.kinds.empty()) {
        out += " (";
        bool first = true;
        for (const auto& [kind, n] : w.kinds) {
          out += (first ? "" : ", ") + kind + " " + std::to_string(n);
          first = false;
        }
        out += ")";
      }
      if (w.analytic == "people") out += ", " + std::to_string(w.boxes) + " people detected";
      out += ", " + std::to_string(w.restarts) + " restarts\n";
    }
  }
  return out + totals();
}

std::string PipelineStats::compact_summary(double elapsed_s) const {
  std::string out;
  for (const CameraStats& cam : cameras_) {
    const double fps = elapsed_s > 0 ? static_cast<double>(cam.published) / elapsed_s : 0.0;
    out += "  " + cam.camera + ": " + std::to_string(cam.published) + " frames (" + fixed1(fps) +
           " fps)";
    for (const WorkerStats& w : workers_) {
      if (w.camera != cam.camera) continue;
      out += "; " + w.worker_id + " " + std::to_string(w.frames_read) + " read, " +
             std::to_string(w.drops()) + " dropped, " + std::to_string(w.events) + " events";
      if (w.restarts) out += ", " + std::to_string(w.restarts) + " restarts";
    }
    if (cam.restarts) out += "; ingest " + std::to_string(cam.restarts) + " restarts";
    out += "\n";
  }
  return out + totals();
}

std::string PipelineStats::totals() const {
  return "  total: " + std::to_string(total_events()) + " events, " +
         std::to_string(total_drops()) + " frames dropped, " + std::to_string(total_restarts()) +
         " restarts\n";
}

}  // namespace framering::supervisor
