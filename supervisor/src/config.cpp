#include "framering/supervisor/config.hpp"

#include "framering/ingest/decode_mode.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "framering/ingest/ingest.hpp"
#include "framering/ingest/source_spec.hpp"
#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/geometry.hpp"
#include "framering/ringbuf/layout.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/workers/analytic.hpp"
#include "framering/workers/zone_names.hpp"

// Every rule that a library owns (ring names and slot counts: ringbuf; source kinds and frame
// sizes: ingest; analytics and zone names: workers) is checked here by asking that library, so a
// config is refused exactly when the process it starts would refuse the same value.
namespace framering::supervisor {

namespace {

// One `key: value` of a YAML mapping, with the key's position for messages.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool is_analytic(const std::string& name) {
  const auto& names = workers::analytic_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

// "motion, people, objects, tamper or checksum"
std::string analytic_choices() {
  const auto& names = workers::analytic_names();
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return out;
}

// The ring's name rule (ring names, and reader ids, which name the stats files): the message
// of the ring library when `name` breaks it, else empty.
std::string ring_name_problem(const std::string& name) {
  try {
    ring::validate_ring_name(name);
    return {};
  } catch (const ring::RingError& e) {
    return e.what();
  }
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

class Parser {
 public:
  explicit Parser(const std::string& origin) : origin_(origin) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& problem) const {
    throw ConfigError(origin_, line_of(at), key, problem);
  }

  static int line_of(const YAML::Node& node) {
    if (!node.IsDefined()) return 0;
    const YAML::Mark mark = node.Mark();
    return mark.is_null() ? 0 : mark.line + 1;
  }

  static std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "a mapping";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Scalar:
        return "'" + node.Scalar() + "'";
      default:
        return "nothing";
    }
  }

  // The entries of a mapping, in order. Rejects non-mappings, duplicate keys and (when `allowed`
  // is not empty) unknown keys, suggesting the nearest allowed one.
  std::vector<Entry> entries(const YAML::Node& map, const std::string& path,
                             const std::vector<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, path, "expected a mapping of keys, got " + describe(map));
    std::vector<Entry> out;
    std::map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) fail(it->first, path, "keys must be plain names");
      const std::string key = it->first.Scalar();
      const std::string full = path.empty() ? key : path + "." + key;
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string hint;
        std::size_t best = 3;
        for (const auto& a : allowed) {
          const std::size_t d = edit_distance(key, a);
          if (d < best) best = d, hint = a;
        }
        fail(it->first, full,
             "unknown key" + (hint.empty() ? std::string() : "; did you mean '" + hint + "'?") +
                 " Allowed here: " + join(allowed, ", "));
      }
      if (auto [pos, fresh] = seen.emplace(key, line_of(it->first)); !fresh) {
        const std::string noun = path == "cameras" ? "camera name" : "key";
        fail(it->first, full,
             "duplicate " + noun + " '" + key + "' (first on line " + std::to_string(pos->second) +
                 "); each name may appear once");
      }
      out.push_back({key, it->first, it->second});
    }
    return out;
  }

  std::string string(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar() || node.Scalar().empty()) {
      fail(node, key, "expected a text value, got " + describe(node));
    }
    return node.Scalar();
  }

  std::uint64_t uinteger(const YAML::Node& node, const std::string& key, std::uint64_t min,
                         std::uint64_t max) const {
    const std::string range = "expected a whole number from " + std::to_string(min) + " to " +
                              std::to_string(max) + ", got ";
    if (!node.IsScalar()) fail(node, key, range + describe(node));
    const std::string& text = node.Scalar();
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
      fail(node, key, range + describe(node));
    }
    return value;
  }

  double number(const YAML::Node& node, const std::string& key, double min, double max) const {
    std::ostringstream range;
    range << "expected a number from " << min << " to " << max << ", got ";
    if (!node.IsScalar()) fail(node, key, range.str() + describe(node));
    const std::string& text = node.Scalar();
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value < min ||
        value > max) {
      fail(node, key, range.str() + describe(node));
    }
    return value;
  }

  bool boolean(const YAML::Node& node, const std::string& key) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      fail(node, key, "expected true or false, got " + describe(node));
    }
    return value;
  }

  // "0.1,0.2;0.9,0.2;..." from a list of [x, y] points given as fractions of width/height.
  // `pixels`: coordinates may also be frame pixels (the objects analytic's zones and masks).
  std::string polygon(const YAML::Node& node, const std::string& key, bool pixels = false) const {
    const std::string want = pixels
                                 ? "expected a list of at least 3 [x, y] points (fractions "
                                   "0..1 or frame pixels)"
                                 : "expected a list of at least 3 [x, y] points (fractions 0..1)";
    if (!node.IsSequence() || node.size() < 3) fail(node, key, want + ", got " + describe(node));
    std::string out;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node point = node[i];
      const std::string pkey = key + "[" + std::to_string(i) + "]";
      if (!point.IsSequence() || point.size() != 2) {
        fail(point, pkey, "expected a point [x, y], got " + describe(point));
      }
      number(point[0], pkey + ".x", 0.0, pixels ? 1e6 : 1.0);
      number(point[1], pkey + ".y", 0.0, pixels ? 1e6 : 1.0);
      out += (i ? ";" : "") + point[0].Scalar() + "," + point[1].Scalar();
    }
    return out;
  }

  Config parse(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      throw ConfigError(origin_, e.mark.is_null() ? 0 : e.mark.line + 1, "(yaml)",
                        e.msg + "; fix the YAML syntax there");
    }
    Config config;
    config.origin = origin_;
    if (root.IsNull() || !root.IsDefined()) {
      throw ConfigError(origin_, 0, "cameras",
                        "the config is empty; add a `cameras:` section (see config/demo.yaml)");
    }
    bool have_cameras = false;
    for (const Entry& e :
         entries(root, "",
                 {"cameras", "metrics", "events", "mqtt", "snapshots", "shm", "supervisor"})) {
      if (e.key == "cameras") {
        have_cameras = true;
        parse_cameras(e.value, config);
      } else if (e.key == "metrics") {
        parse_metrics(e.value, config.metrics);
      } else if (e.key == "events") {
        for (const Entry& f : entries(e.value, "events", {"path"})) {
          config.events.path = string(f.value, "events.path");
        }
      } else if (e.key == "mqtt") {
        parse_mqtt(e.value, config.mqtt);
      } else if (e.key == "snapshots") {
        for (const Entry& f : entries(e.value, "snapshots", {"dir", "keep", "max_age"})) {
          const std::string key = "snapshots." + f.key;
          if (f.key == "dir")
            config.snapshots.dir = string(f.value, key);
          else if (f.key == "keep")
            config.snapshots.keep = uinteger(f.value, key, 1, 1000000);
          else
            config.snapshots.max_age_s = number(f.value, key, 1.0, 10.0 * 365 * 86400);
        }
      } else if (e.key == "shm") {
        parse_shm(e.value, config.shm);
      } else {
        parse_settings(e.value, config.supervisor);
      }
    }
    if (!have_cameras) {
      throw ConfigError(origin_, 0, "cameras",
                        "missing; add a `cameras:` section with at least one camera");
    }
    for (const CameraConfig& cam : config.cameras) {
      if (cam.record && !cam.record->clips_dir.empty() && config.events.path.empty()) {
        throw ConfigError(origin_, cam.record->line, "cameras." + cam.name + ".record.clips",
                          "clips are cut around the workers' events: set events.path too");
      }
    }
    return config;
  }

 private:
  void parse_cameras(const YAML::Node& node, Config& config) const {
    std::map<std::string, int> rings;
    const auto cams = entries(node, "cameras", {});
    if (cams.empty()) fail(node, "cameras", "no cameras; add at least one camera");
    for (const Entry& e : cams) {
      const std::string path = "cameras." + e.key;
      // A camera's name is its ring's name unless `ring:` says otherwise: the same rule.
      if (const std::string problem = ring_name_problem(e.key); !problem.empty()) {
        fail(e.key_node, path, problem);
      }
      CameraConfig cam = parse_camera(e, path);
      if (auto [pos, fresh] = rings.emplace(cam.ring, cam.line); !fresh) {
        fail(e.key_node, path,
             "ring '" + cam.ring + "' is already used by the camera on line " +
                 std::to_string(pos->second) + "; give each camera its own ring name");
      }
      config.cameras.push_back(std::move(cam));
    }
  }

  CameraConfig parse_camera(const Entry& e, const std::string& path) const {
    CameraConfig cam;
    cam.name = e.key;
    cam.ring = e.key;
    cam.line = line_of(e.key_node);
    bool have_source = false;
    YAML::Node wait_node, source_key_node;
    const std::vector<std::string> keys = {"source",
                                           "detect",
                                           "ring",
                                           "size",
                                           "pix_fmt",
                                           "slots",
                                           "realtime",
                                           "loop",
                                           "max_frames",
                                           "max_retries",
                                           "decode_threads",
                                           "decode",
                                           "fps",
                                           "wait_for_workers",
                                           "workers",
                                           "preview",
                                           "preview_host",
                                           "record"};
    for (const Entry& f : entries(e.value, path, keys)) {
      const std::string key = path + "." + f.key;
      if (f.key == "source" || f.key == "detect") {
        if (have_source) {
          fail(f.key_node, key,
               "a camera has either source: (one stream, decoded and recorded) or detect: (the "
               "stream its workers see, with record.source the one stored), not both; keep one");
        }
        cam.source = string(f.value, key);
        cam.source_line = line_of(f.value);
        cam.source_key = f.key;
        source_key_node = f.key_node;
        have_source = true;
      } else if (f.key == "ring") {
        cam.ring = string(f.value, key);
        if (const std::string problem = ring_name_problem(cam.ring); !problem.empty()) {
          fail(f.value, key, problem);
        }
      } else if (f.key == "size") {
        const std::string size = string(f.value, key);
        std::uint32_t w = 0, h = 0;
        if (!ring::parse_image_size(size, w, h) || w > ingest::kMaxDimension ||
            h > ingest::kMaxDimension) {
          fail(f.value, key,
               "expected WIDTHxHEIGHT such as 1280x720 (at most " +
                   std::to_string(ingest::kMaxDimension) + " per side), got '" + size + "'");
        }
        cam.width = w;
        cam.height = h;
      } else if (f.key == "pix_fmt") {
        cam.pix_fmt = string(f.value, key);
        if (ring::PixFmt fmt{}; !ring::parse_pix_fmt(*cam.pix_fmt, fmt)) {
          fail(f.value, key,
               "expected " + ring::pix_fmt_choices() + ", got '" + *cam.pix_fmt + "'");
        }
      } else if (f.key == "slots") {
        cam.slots =
            static_cast<std::uint32_t>(uinteger(f.value, key, ring::kMinSlots, ring::kMaxSlots));
      } else if (f.key == "realtime") {
        cam.realtime = boolean(f.value, key);
      } else if (f.key == "loop") {
        cam.loop = boolean(f.value, key);
      } else if (f.key == "max_frames") {
        cam.max_frames = uinteger(f.value, key, 1, UINT64_MAX / 4);
      } else if (f.key == "max_retries") {
        cam.max_retries = static_cast<std::uint32_t>(uinteger(f.value, key, 0, 1000000));
      } else if (f.key == "decode_threads") {
        cam.decode_threads = static_cast<std::uint32_t>(uinteger(f.value, key, 0, 64));
      } else if (f.key == "decode") {
        cam.decode = string(f.value, key);
        framering::ingest::DecodeMode mode;
        if (!framering::ingest::parse_decode_mode(*cam.decode, mode)) {
          fail(f.value, key, "expected all or keyframes, got '" + *cam.decode + "'");
        }
      } else if (f.key == "fps") {
        cam.fps =
            number(f.value, key, framering::ingest::kMinMaxFps, framering::ingest::kMaxMaxFps);
      } else if (f.key == "wait_for_workers") {
        cam.wait_for_workers = boolean(f.value, key);
        wait_node = f.value;
      } else if (f.key == "preview") {
        cam.preview = string(f.value, key);
        const std::size_t colon = cam.preview->rfind(':');
        const std::string port =
            colon == std::string::npos ? *cam.preview : cam.preview->substr(colon + 1);
        if (port.empty() || port.size() > 5 ||
            port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
            std::stoul(port) > 65535) {
          fail(f.value, key,
               "expected HOST:PORT such as 127.0.0.1:9463 (camera pictures: keep it on "
               "127.0.0.1), got '" +
                   *cam.preview + "'");
        }
      } else if (f.key == "preview_host") {
        cam.preview_host = string(f.value, key);
      } else if (f.key == "record") {
        cam.record = parse_record(f.value, key);
      } else {
        parse_workers(f.value, key, cam);
      }
    }
    if (!have_source) {
      fail(e.key_node, path + ".source",
           "missing; every camera needs a source (file, rtsp://..., testsrc:..., npy:...), or "
           "detect: and record.source for a sub-stream and a main stream");
    }
    check_record_source(cam, path);
    if (cam.preview_host && !cam.preview) {
      fail(e.key_node, path + ".preview_host", "needs preview: HOST:PORT (the preview is off)");
    }
    if (ring::PixFmt fmt{}; cam.width && cam.pix_fmt && ring::parse_pix_fmt(*cam.pix_fmt, fmt)) {
      if (const std::string why = ring::image_size_problem(*cam.width, *cam.height, fmt);
          !why.empty()) {
        fail(e.key_node, path + ".size", why + " (pix_fmt " + *cam.pix_fmt + ")");
      }
    }
    if (cam.wait_for_workers && ingest::parse_source(cam.source).live()) {
      fail(wait_node, path + ".wait_for_workers",
           "a camera does not wait for its workers; remove it or give the ring more slots");
    }
    return cam;
  }

  // Which stream the recorder stores: the camera's one `source:`, or with `detect:` the
  // record.source beside it (ingested without decoding). Either way, exactly one.
  void check_record_source(const CameraConfig& cam, const std::string& path) const {
    if (!cam.record) return;
    const RecordConfig& r = *cam.record;
    const std::string key = path + ".record.source";
    if (cam.source_key == "source" && !r.source.empty()) {
      throw ConfigError(origin_, r.source_line, key,
                        "a camera with source: records that one stream; to record another "
                        "stream, rename source: to detect: (the stream the workers see)");
    }
    if (cam.source_key == "detect" && r.source.empty()) {
      throw ConfigError(origin_, r.line, key,
                        "missing; detect: is decoded for the workers and its packets are not "
                        "kept, so record: needs the stream to store (e.g. the camera's main "
                        "rtsp:// stream), or rename detect: to source: to record that stream");
    }
    if (cam.source_key == "detect" && r.source == cam.source) {
      // One stream under both keys would be opened twice, once decoded and once only demuxed.
      throw ConfigError(origin_, r.source_line, key,
                        "names the same stream as " + path +
                            ".detect; a camera that records the stream its workers see has "
                            "one source: (rename detect: to source: and remove "
                            "record.source)");
    }
    if (!r.source.empty() && ingest::parse_source(r.source).kind == ingest::SourceKind::kNpy) {
      throw ConfigError(origin_, r.source_line, key,
                        "npy: arrays have no compressed packets to record; give a video file "
                        "or an rtsp:// stream");
    }
  }

  RecordConfig parse_record(const YAML::Node& node, const std::string& path) const {
    RecordConfig r;
    r.line = line_of(node);
    bool have_dir = false;
    for (const Entry& f :
         entries(node, path,
                 {"source", "segments", "dir", "segment_seconds", "retain_hours", "retain_gb",
                  "history", "clips", "pre", "post", "clip_kinds", "max_clip_seconds"})) {
      const std::string key = path + "." + f.key;
      if (f.key == "source") {
        r.source = string(f.value, key);
        r.source_line = line_of(f.value);
        if (r.source.empty()) fail(f.value, key, "empty; give the stream to record");
      } else if (f.key == "segments") {
        r.segments = boolean(f.value, key);
      } else if (f.key == "dir") {
        r.dir = string(f.value, key);
        have_dir = !r.dir.empty();
      } else if (f.key == "segment_seconds") {
        r.segment_seconds = number(f.value, key, 1, 86400);
      } else if (f.key == "retain_hours") {
        r.retain_hours = number(f.value, key, 0, 1e6);
      } else if (f.key == "retain_gb") {
        r.retain_gb = number(f.value, key, 0, 1e6);
      } else if (f.key == "history") {
        r.history_s = number(f.value, key, 1, 3600);
      } else if (f.key == "clips") {
        r.clips_dir = string(f.value, key);
      } else if (f.key == "pre") {
        r.pre_s = number(f.value, key, 0, 600);
      } else if (f.key == "max_clip_seconds") {
        r.max_clip_s = number(f.value, key, 1, 86400);
      } else if (f.key == "clip_kinds") {
        if (!f.value.IsSequence() || f.value.size() == 0) {
          fail(f.value, key, "expected a list of event kinds such as [motion, people]");
        }
        for (const auto& kind : f.value) {
          const std::string k = string(kind, key);
          try {
            ring::validate_ring_name(k);  // the names alphabet, as for cameras and workers
          } catch (const ring::RingError&) {
            fail(kind, key,
                 "event kinds use 1-48 characters from A-Z a-z 0-9 _ -, got '" + k + "'");
          }
          r.clip_kinds.push_back(k);
        }
      } else {
        r.post_s = number(f.value, key, 0, 600);
      }
    }
    // Segments, clips, or both; a clips-only recorder (segments: false) needs no dir.
    if (!r.segments && r.clips_dir.empty()) {
      fail(node, path + ".segments",
           "false and no " + path +
               ".clips: nothing to record; give clips: or drop segments: "
               "false");
    }
    if (!r.segments && have_dir) {
      fail(node, path + ".dir",
           "segments: false writes no segments, so dir: has no use; drop one of them");
    }
    if (r.segments && !have_dir) {
      fail(node, path + ".dir",
           "missing; where should the segments go? (or segments: false with clips: for event "
           "clips only)");
    }
    return r;
  }

  void parse_workers(const YAML::Node& node, const std::string& path, CameraConfig& cam) const {
    std::map<std::string, int> ids;  // reader ids on this ring, to catch "people-0" twice
    for (const Entry& e : entries(node, path, {})) {
      const std::string wpath = path + "." + e.key;
      WorkerConfig w = parse_worker(e, wpath);
      std::vector<std::string> names;
      if (w.replicas == 1) names.push_back(w.name);
      for (std::uint32_t i = 0; w.replicas > 1 && i < w.replicas; ++i) {
        names.push_back(w.name + "-" + std::to_string(i));
      }
      for (const auto& id : names) {
        // The id names the worker's stats file: the ring library's name rule, checked on the
        // id itself (replicas add "-<i>").
        if (const std::string problem = ring_name_problem(id); !problem.empty()) {
          fail(e.key_node, wpath, "worker id '" + id + "': " + problem);
        }
        if (auto [pos, fresh] = ids.emplace(id, w.line); !fresh) {
          fail(e.key_node, wpath,
               "worker id '" + id + "' clashes with the worker on line " +
                   std::to_string(pos->second) + "; rename one of them");
        }
      }
      cam.workers.push_back(std::move(w));
    }
  }

  WorkerConfig parse_worker(const Entry& e, const std::string& path) const {
    WorkerConfig w;
    w.name = e.key;
    w.line = line_of(e.key_node);
    bool have_analytic = false;
    const YAML::Node body = e.value.IsNull() ? YAML::Node(YAML::NodeType::Map) : e.value;
    for (const Entry& f : entries(body, path,
                                  {"analytic", "mode", "replicas", "tiles", "zone", "zones", "mask",
                                   "params", "max_frames"})) {
      const std::string key = path + "." + f.key;
      if (f.key == "analytic") {
        w.analytic = string(f.value, key);
        have_analytic = true;
        if (!is_analytic(w.analytic)) {
          fail(f.value, key, "expected " + analytic_choices() + ", got '" + w.analytic + "'");
        }
      } else if (f.key == "mode") {
        w.mode = string(f.value, key);
        if (w.mode != "every" && w.mode != "latest") {
          fail(f.value, key, "expected every or latest, got '" + w.mode + "'");
        }
      } else if (f.key == "replicas") {
        w.replicas = static_cast<std::uint32_t>(uinteger(f.value, key, 1, 64));
      } else if (f.key == "tiles") {
        w.tiles = boolean(f.value, key);
      } else if (f.key == "zone") {
        w.params.emplace_back("zone", polygon(f.value, key));
      } else if (f.key == "zones") {
        // zones: {driveway: [[x, y], ...], gate: [...]} → zones=driveway:x,y;...|gate:...
        std::string text;
        for (const Entry& z : entries(f.value, key, {})) {
          if (!workers::valid_zone_name(z.key)) {
            fail(z.key_node, key + "." + z.key,
                 "zone names use 1-64 characters from A-Z a-z 0-9 _ -");
          }
          text +=
              (text.empty() ? "" : "|") + z.key + ":" + polygon(z.value, key + "." + z.key, true);
        }
        w.params.emplace_back("zones", text);
      } else if (f.key == "mask") {
        // mask: [[[x, y], ...], ...] (a list of polygons) → mask=x,y;...|x,y;...
        if (!f.value.IsSequence() || f.value.size() == 0) {
          fail(f.value, key, "expected a list of polygons, each a list of [x, y] points");
        }
        std::string text;
        for (std::size_t i = 0; i < f.value.size(); ++i) {
          text += (i ? "|" : "") + polygon(f.value[i], key + "[" + std::to_string(i) + "]", true);
        }
        w.params.emplace_back("mask", text);
      } else if (f.key == "params") {
        for (const Entry& p : entries(f.value, key, {})) {
          const std::string pkey = key + "." + p.key;
          const bool ok = std::all_of(p.key.begin(), p.key.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
          });
          if (!ok || p.key.empty()) fail(p.key_node, pkey, "parameter names use a-z 0-9 _");
          if (p.key == "zone" || p.key == "zones" || p.key == "mask") {
            fail(p.key_node, pkey, "give " + p.key + " as `" + p.key + ":` beside `params:`");
          }
          w.params.emplace_back(p.key, string(p.value, pkey));
        }
      } else {
        w.max_frames = uinteger(f.value, key, 1, UINT64_MAX / 4);
      }
    }
    if (!have_analytic) {
      // `motion: {}` is shorthand for a worker named after its analytic.
      if (!is_analytic(w.name)) {
        fail(e.key_node, path + ".analytic", "missing; set analytic: " + analytic_choices());
      }
      w.analytic = w.name;
    }
    return w;
  }

  void parse_metrics(const YAML::Node& node, MetricsConfig& m) const {
    for (const Entry& f : entries(node, "metrics", {"enabled", "bind", "base_port"})) {
      const std::string key = "metrics." + f.key;
      if (f.key == "enabled") {
        m.enabled = boolean(f.value, key);
      } else if (f.key == "bind") {
        m.bind = string(f.value, key);
        if (m.bind.find(':') != std::string::npos && m.bind.front() != '[') {
          fail(f.value, key, "give the host only (ports come from base_port); IPv6 as [::1]");
        }
      } else {
        m.base_port = static_cast<std::uint16_t>(uinteger(f.value, key, 1, 65535));
      }
    }
  }

  void parse_mqtt(const YAML::Node& node, MqttConfig& m) const {
    for (const Entry& f : entries(node, "mqtt", {"url", "topic_prefix", "ca_file", "queue"})) {
      const std::string key = "mqtt." + f.key;
      if (f.key == "url") {
        m.url = string(f.value, key);
        if (m.url.rfind("mqtt://", 0) != 0 && m.url.rfind("mqtts://", 0) != 0)
          fail(f.value, key, "use mqtt://[user:password@]host[:port] or mqtts://... (TLS)");
      } else if (f.key == "topic_prefix") {
        m.topic_prefix = string(f.value, key);
        if (m.topic_prefix.empty() || m.topic_prefix.find_first_of("#+") != std::string::npos ||
            m.topic_prefix.front() == '$' || m.topic_prefix.size() > 200)
          fail(f.value, key,
               "must be 1-200 characters, contain no MQTT wildcard (+ #) and not start with '$'");
      } else if (f.key == "ca_file") {
        m.ca_file = string(f.value, key);
      } else {
        m.queue = uinteger(f.value, key, 1, 10000000);
      }
    }
    if (m.url.empty())
      fail(node, "mqtt.url", "missing; set the broker, e.g. mqtt://127.0.0.1:1883");
    // Whether the file can be read is each worker's check (framering run --check-config runs
    // it): the file must be readable by the workers, wherever they run.
    if (!m.ca_file.empty() && m.url.rfind("mqtts://", 0) != 0)
      fail(node["ca_file"], "mqtt.ca_file", "a CA file needs an mqtts:// url");
  }

  void parse_shm(const YAML::Node& node, ShmConfig& shm) const {
    for (const Entry& f : entries(node, "shm", {"mode", "group"})) {
      const std::string key = "shm." + f.key;
      if (f.key == "mode") {
        std::string mode = string(f.value, key);
        const bool ok =
            (mode.size() == 3 || (mode.size() == 4 && mode[0] == '0')) &&
            std::all_of(mode.begin(), mode.end(), [](char c) { return c >= '0' && c <= '7'; });
        if (!ok)
          fail(f.value, key, "expected an octal file mode such as \"0640\", got '" + mode + "'");
        if (mode.size() == 3) mode = "0" + mode;
        // Readers never need write access, and whoever may write the segment can truncate it
        // under every reader (SIGBUS) or forge frames.
        const unsigned bits = static_cast<unsigned>(std::stoul(mode, nullptr, 8));
        if (bits & 0022)
          fail(f.value, key,
               "'" + mode + "' lets group or others write the ring: use at most 0644 (e.g. 0640)");
        if ((bits & 0600) != 0600)
          fail(f.value, key,
               "'" + mode + "' must let the owner read and write (e.g. 0600 or 0640)");
        shm.mode = mode;
      } else {
        shm.group = string(f.value, key);
      }
    }
  }

  void parse_settings(const YAML::Node& node, SupervisorSettings& s) const {
    for (const Entry& f : entries(node, "supervisor",
                                  {"stop_grace", "restart_backoff", "restart_backoff_max",
                                   "stable_run", "progress_interval"})) {
      const std::string key = "supervisor." + f.key;
      if (f.key == "stop_grace") {
        s.stop_grace_s = number(f.value, key, 0.1, 60);
      } else if (f.key == "restart_backoff") {
        s.restart_backoff_s = number(f.value, key, 0.05, 60);
      } else if (f.key == "restart_backoff_max") {
        s.restart_backoff_max_s = number(f.value, key, 0.05, 3600);
      } else if (f.key == "stable_run") {
        s.stable_run_s = number(f.value, key, 0.1, 3600);
      } else {
        s.progress_interval_s = number(f.value, key, 0.1, 3600);
      }
    }
    if (s.restart_backoff_max_s < s.restart_backoff_s) {
      fail(node, "supervisor.restart_backoff_max", "must be at least restart_backoff");
    }
  }

  std::string origin_;
};

}  // namespace

ConfigError::ConfigError(const std::string& origin, int line, const std::string& key,
                         const std::string& problem)
    : std::runtime_error(origin + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " +
                         key + ": " + problem),
      line_(line),
      key_(key) {}

Config parse_config(std::string_view yaml_text, const std::string& origin) {
  return Parser(origin).parse(yaml_text);
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path, 0, "config",
                      "cannot read the file; pass an existing YAML file (e.g. config/demo.yaml)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

void check_sources(const Config& config) {
  auto check = [&](const std::string& source, const std::string& key, int line) {
    const std::string path = ingest::parse_source(source).local_path();
    if (path.empty()) return;
    if (::access(path.c_str(), R_OK) != 0) {
      throw ConfigError(config.origin, line, key,
                        "'" + path +
                            "' does not exist or is not readable; fix the path "
                            "(relative paths are relative to the current directory)");
    }
  };
  for (const CameraConfig& cam : config.cameras) {
    check(cam.source, "cameras." + cam.name + "." + cam.source_key, cam.source_line);
    if (cam.record && !cam.record->source.empty()) {
      check(cam.record->source, "cameras." + cam.name + ".record.source", cam.record->source_line);
    }
  }
}

}  // namespace framering::supervisor
