// Names and housekeeping of the segment files in <dir>/<camera>/: the UTC start time in the
// name (so names sort by time), `.part` while written, retention by age and total size, and
// recovery of a `.part` left by a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace framering::recorder {

// "<camera>-20261203T135612.345Z.mp4" for a start at realtime_ns (extension ".mp4" or ".mkv").
std::string segment_name(const std::string& camera, std::uint64_t realtime_ns,
                         const std::string& extension);

// Where the footage already on disk ends, for a restarted recorder: the UTC start in the name
// of the newest finished segment of `camera` in `dir` plus the stream time it covers (read back
// with libavformat: last dts + its duration - first dts). 0 when there is none (or nothing in it
// is readable). The start is a capture time and the length stream time: for a live source the
// two advance together.
std::uint64_t recorded_until(const std::filesystem::path& dir, const std::string& camera);

struct RetentionResult {
  std::vector<std::filesystem::path> removed;
  std::uint64_t kept_bytes = 0;
};

// Deletes finished segments (*.mp4, *.mkv) of `dir` and the leftovers of failed ones
// (*.part.broken, *.part.remux), oldest first by the time in their name, that are older than
// max_age_s (0: no limit) or while the total of them all exceeds max_bytes (0: no limit).
// `.part` files (the segment being written) are never touched.
RetentionResult apply_retention(const std::filesystem::path& dir, const std::string& camera,
                                double max_age_s, std::uint64_t max_bytes,
                                std::uint64_t now_realtime_ns);

// A `.part` file is what a crash (kill -9, power loss) left of a segment. Its packets up to the
// last complete fragment are remuxed into the finished name; a file with nothing readable is
// moved aside as `.part.broken`. Returns the path it produced.
std::filesystem::path recover_partial(const std::filesystem::path& part);

}  // namespace framering::recorder
